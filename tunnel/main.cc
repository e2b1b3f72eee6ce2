// warren-tunnel: the per-node tunnel. Receives enrolled pods from warren-agent,
// listens inside each pod's netns, and carries captured connections between pods
// over HBONE (HTTP/2 CONNECT in mutual TLS with SPIFFE identities).

#include <getopt.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "audit/audit_flags.h"
#include "audit/cert_record.h"
#include "common/daemon.h"
#include "identity/ca_choice.h"
#include "identity/ca_flags.h"
#include "identity/identity_manager.h"
#include "io/accept.h"
#include "io/event_loop.h"
#include "source/kube/kube_source.h"
#include "source/yaml_source.h"
#include "state/feed/state_feed.h"
#include "telemetry/admin.h"
#include "tunnel/bpf/capture_counters.h"
#include "tunnel/drain/drain_runner.h"
#include "tunnel/inpod/inpod_manager.h"
#include "tunnel/inpod/zds_client.h"
#include "tunnel/proxy/introspection.h"
#include "tunnel/proxy/proxy.h"
#include "warren_abi.h"
#include "xds/xds_client.h"

namespace {

struct Options {
  std::string agentSocket = "/run/warren/zds.sock";
  std::string pinRoot = WARREN_PIN_ROOT_DEFAULT;
  std::string configDir = "/etc/warren/cluster";
  bool configDirGiven = false;
  bool kubeInCluster = false;  // --kube
  std::string kubeconfig;      // --kubeconfig FILE
  std::string trustDomain = "cluster.local";
  std::string rootNamespace = "istio-system";
  warren::identity::CaFlags ca;
  std::string xdsAddress, xdsRootCert, xdsTokenFile;
  long maxStreams = 100;
  long idleTimeoutMs = 60000;
  bool earlyData = true;  // --hbone-no-early-data clears it
  long receiveBudgetMiB = warren::hbone::kDefaultReceiveBudgetBytes >> 20;
  long maxInbound = 0;  // 0: half the file descriptor limit
  long maxInboundPerSource = static_cast<long>(warren::hbone::kDefaultMaxInboundPerSource);
  long maxPlaintextInbound = 0;  // 0: a quarter of the file descriptor limit
  long maxPlaintextInboundPerPod = static_cast<long>(warren::proxy::kDefaultPlaintextInboundPerPod);
  long maxOutbound = 0;  // 0: a quarter of the file descriptor limit
  long overloadFdPercent = warren::proxy::Watermarks{}.fdPercent;
  long overloadHeldMiB = 0;
  warren::telemetry::AdminOptions telemetry{.adminTokenFile = warren::telemetry::kDefaultAdminTokenFile};
  std::string logLevel = "info";
  int readyFd = -1;
  std::optional<long> drainSeconds;  // --drain-seconds; else from TERMINATION_GRACE_PERIOD_SECONDS
  // The audit log (README "Audit evidence"): off unless --audit-dir is given.
  warren::audit::AuditFlags audit;
};

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: warren-tunnel [options]\n"
               "  --agent-socket PATH     warren-agent's workload socket (default /run/warren/zds.sock)\n"
               "  --bpffs DIR             pin root of the agent's BPF maps (default " WARREN_PIN_ROOT_DEFAULT
               ")\n"
               "  --config-dir DIR        standalone cluster state, the agent's YAML directory\n"
               "                          (default /etc/warren/cluster)\n"
               "  --kube                  standalone cluster state from the Kubernetes API instead, as a pod\n"
               "                          (the service account's token and CA; KUBERNETES_SERVICE_HOST/PORT):\n"
               "                          Pods, Namespaces, Services, EndpointSlices, Istio security policies,\n"
               "                          waypoint Gateways\n"
               "  --kubeconfig FILE       the same with a kubeconfig file's current context\n"
               "  --trust-domain NAME     SPIFFE trust domain (default cluster.local)\n"
               "  --root-namespace NS     policies here without a selector apply mesh-wide (default istio-system)\n"
               "  --xds-address HOST:PORT cluster state from an Istio-compatible control plane (delta ADS)\n"
               "                          instead of --config-dir\n"
               "  --xds-root-cert FILE    root certificate for TLS to --xds-address (none: plaintext)\n"
               "  --xds-token-file FILE   bearer token sent to --xds-address\n"
               "  --hbone-max-streams N   streams per HBONE connection (default 100)\n"
               "  --hbone-idle-timeout MS close pooled HBONE connections idle this long (default 60000)\n"
               "  --hbone-no-early-data   send a stream's bytes only once the peer answered its CONNECT\n"
               "                          (as ztunnel does); by default the app's first bytes follow\n"
               "                          the CONNECT at once, and the peer holds them until it has\n"
               "                          authorized the stream and reached the app\n"
               "  --hbone-receive-budget-mb N  HBONE data received and not yet taken by apps, whole\n"
               "                          process (default 64); past it, senders are slowed\n"
               "  --hbone-max-inbound N   open inbound HBONE connections (port 15008) in all; more are\n"
               "                          reset on arrival (default 0: half the file descriptor limit)\n"
               "  --hbone-max-inbound-per-source N  the same from one source IP (default 256; 0: no cap)\n"
               "  --plaintext-max-inbound N  open inbound plaintext connections (non-mesh clients) in all;\n"
               "                          more are reset on arrival (default 0: a quarter of the fd limit)\n"
               "  --plaintext-max-inbound-per-pod N  the same to one pod (default 1024; 0: no cap)\n"
               "  --max-outbound N        open captured outbound connections in all, every pod together\n"
               "                          (each pod's own: the agent's --conns-per-pod); more are reset\n"
               "                          on arrival (default 0: a quarter of the fd limit)\n"
               "  --overload-fd-percent N past N%% of the file descriptor limit open, new connections\n"
               "                          are reset on arrival, existing ones go on (default 90; 0: off)\n"
               "  --overload-held-mb N    the same past N MiB of HBONE data held for slow readers\n"
               "                          (default 0: off)\n"
               "  --metrics-address A:P   Prometheus metrics, GET /metrics (default 0.0.0.0:15020)\n"
               "  --readiness-address A:P GET /healthz/ready (default 0.0.0.0:15021)\n"
               "  --admin-address A:P     admin: /config_dump, /logging (default 127.0.0.1:15000)\n"
               "  --admin-token-file PATH written at start, mode 0600: the bearer token that POST and\n"
               "                          other non-GET admin requests need (default /run/warren/admin-token;\n"
               "                          warrenctl run as root reads it there)\n"
               "  --telemetry-max-per-source N  concurrent connections per source IP on the metrics,\n"
               "                          readiness and admin ports (default 8; 0: only the total cap, 128)\n"
               "  --drain-seconds N       on SIGTERM, relay open connections for at most N s before\n"
               "                          exiting (default: TERMINATION_GRACE_PERIOD_SECONDS less 5 s,\n"
               "                          less 1 s when 10 or under, at least 1; 5 s without it)\n");
  warren::identity::printCaUsage(out);
  warren::audit::printAuditUsage(out, "connection");
  std::fprintf(out,
               "  --log-level LEVEL       trace|debug|info|warn|error (default info)\n"
               "  --ready-fd N            write \"ready\" to fd N once serving (as /healthz/ready: every\n"
               "                          pod the agent handed over is listened for)\n"
               "Signals: SIGTERM drains (hitless upgrade: stop accepting, GOAWAY to HBONE peers, relay\n"
               "what is open until it ends or the drain deadline, exit); a second SIGTERM or SIGINT\n"
               "stops at once; SIGHUP reloads the trust bundle and the cluster state.\n");
}

bool parseLong(const char* s, long min, long& out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!*s || *end || v < min) return false;
  out = v;
  return true;
}

bool parse(int argc, char** argv, Options& o) {
  static const std::vector<option> longopts = warren::audit::withAuditOptions(
      warren::identity::withCaOptions({{"agent-socket", required_argument, nullptr, 'a'},
                                       {"bpffs", required_argument, nullptr, 'b'},
                                       {"config-dir", required_argument, nullptr, 'c'},
                                       {"kube", no_argument, nullptr, 'k'},
                                       {"kubeconfig", required_argument, nullptr, 'g'},
                                       {"trust-domain", required_argument, nullptr, 'd'},
                                       {"root-namespace", required_argument, nullptr, 'N'},
                                       {"xds-address", required_argument, nullptr, 'X'},
                                       {"xds-root-cert", required_argument, nullptr, 'G'},
                                       {"xds-token-file", required_argument, nullptr, 'K'},
                                       {"hbone-max-streams", required_argument, nullptr, 's'},
                                       {"hbone-idle-timeout", required_argument, nullptr, 'i'},
                                       {"hbone-no-early-data", no_argument, nullptr, 'E'},
                                       {"hbone-receive-budget-mb", required_argument, nullptr, 'B'},
                                       {"hbone-max-inbound", required_argument, nullptr, 'J'},
                                       {"hbone-max-inbound-per-source", required_argument, nullptr, 'j'},
                                       {"plaintext-max-inbound", required_argument, nullptr, 'Q'},
                                       {"plaintext-max-inbound-per-pod", required_argument, nullptr, 'q'},
                                       {"max-outbound", required_argument, nullptr, 'o'},
                                       {"overload-fd-percent", required_argument, nullptr, 'F'},
                                       {"overload-held-mb", required_argument, nullptr, 'H'},
                                       {"metrics-address", required_argument, nullptr, 'M'},
                                       {"readiness-address", required_argument, nullptr, 'Y'},
                                       {"admin-address", required_argument, nullptr, 'D'},
                                       {"admin-token-file", required_argument, nullptr, 'O'},
                                       {"telemetry-max-per-source", required_argument, nullptr, 'P'},
                                       {"log-level", required_argument, nullptr, 'l'},
                                       {"ready-fd", required_argument, nullptr, 'r'},
                                       {"drain-seconds", required_argument, nullptr, 'W'},
                                       {"help", no_argument, nullptr, 'h'}}));
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts.data(), nullptr)) != -1) {
    switch (warren::audit::parseAuditFlag(c, optarg, o.audit, "warren-tunnel")) {
      case warren::audit::FlagOutcome::kTaken: continue;
      case warren::audit::FlagOutcome::kBadValue: return false;
      case warren::audit::FlagOutcome::kNotOurs: break;
    }
    switch (warren::identity::parseCaFlag(c, optarg, o.ca, "warren-tunnel")) {
      case warren::FlagOutcome::kTaken: continue;
      case warren::FlagOutcome::kBadValue: return false;
      case warren::FlagOutcome::kNotOurs: break;
    }
    switch (c) {
      case 'a': o.agentSocket = optarg; break;
      case 'b': o.pinRoot = optarg; break;
      case 'c':
        o.configDir = optarg;
        o.configDirGiven = true;
        break;
      case 'k': o.kubeInCluster = true; break;
      case 'g': o.kubeconfig = optarg; break;
      case 'd': o.trustDomain = optarg; break;
      case 'N': o.rootNamespace = optarg; break;
      case 'X': o.xdsAddress = optarg; break;
      case 'G': o.xdsRootCert = optarg; break;
      case 'K': o.xdsTokenFile = optarg; break;
      case 's':
        if (!parseLong(optarg, 1, o.maxStreams)) return false;
        break;
      case 'i':
        if (!parseLong(optarg, 1, o.idleTimeoutMs)) return false;
        break;
      case 'E': o.earlyData = false; break;
      case 'B':
        if (!parseLong(optarg, 1, o.receiveBudgetMiB)) return false;
        break;
      case 'J':
        if (!parseLong(optarg, 0, o.maxInbound)) return false;
        break;
      case 'j':
        if (!parseLong(optarg, 0, o.maxInboundPerSource)) return false;
        break;
      case 'Q':
        if (!parseLong(optarg, 0, o.maxPlaintextInbound)) return false;
        break;
      case 'q':
        if (!parseLong(optarg, 0, o.maxPlaintextInboundPerPod)) return false;
        break;
      case 'o':
        if (!parseLong(optarg, 0, o.maxOutbound)) return false;
        break;
      case 'F':
        if (!parseLong(optarg, 0, o.overloadFdPercent) || o.overloadFdPercent > 100) return false;
        break;
      case 'H':
        if (!parseLong(optarg, 0, o.overloadHeldMiB)) return false;
        break;
      case 'M': o.telemetry.metricsAddress = optarg; break;
      case 'Y': o.telemetry.readinessAddress = optarg; break;
      case 'D': o.telemetry.adminAddress = optarg; break;
      case 'O': o.telemetry.adminTokenFile = optarg; break;
      case 'P': {
        long n = 0;
        if (!parseLong(optarg, 0, n)) return false;
        o.telemetry.maxConnectionsPerSource = static_cast<size_t>(n);
        break;
      }
      case 'l': o.logLevel = optarg; break;
      case 'r': o.readyFd = std::atoi(optarg); break;
      case 'W': {
        long n = 0;
        if (!parseLong(optarg, 0, n)) return false;
        o.drainSeconds = n;
        break;
      }
      case 'h': usage(stdout); std::exit(0);
      default: return false;
    }
  }
  if (optind != argc) return false;
  const int sources =
      int(o.configDirGiven) + int(o.kubeInCluster) + int(!o.kubeconfig.empty()) + int(!o.xdsAddress.empty());
  if (!warren::audit::auditFlagsComplete(o.audit, "warren-tunnel")) return false;
  if (sources > 1) {
    std::fprintf(stderr,
                 "warren-tunnel: give one cluster source: --config-dir, --kube, --kubeconfig or --xds-address\n");
    return false;
  }
  return true;
}

// With --xds-address the cluster state comes from the control plane only; null otherwise.
warren::Result<std::unique_ptr<warren::xds::XdsClient>> startXds(const Options& o, warren::state::StateStore& state) {
  if (o.xdsAddress.empty()) return std::unique_ptr<warren::xds::XdsClient>();
  warren::xds::XdsOptions x;
  x.address = o.xdsAddress;
  x.rootCertFile = o.xdsRootCert;
  x.tokenFile = o.xdsTokenFile;
  x.trustDomain = o.trustDomain;
  x.clusterId = o.ca.choice.clusterId;
  return warren::xds::XdsClient::start(std::move(x), [&state](warren::state::ClusterStatePtr next) {
    spdlog::info("cluster state (xds): {} workloads, {} services, {} authorization policies", next->workloads().size(),
                 next->services().size(), next->policies().size());
    state.set(std::move(next));
  });
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  if (!parse(argc, argv, opts)) {
    usage(stderr);
    return 2;
  }
  warren::ShutdownSignal shutdown;
  warren::setupLogging(opts.logLevel, "tunnel");
  // Every captured connection holds two descriptors: 1024 is a few hundred connections.
  const uint64_t fileLimit = warren::io::raiseFileLimit();
  spdlog::info("file descriptor limit: {}", fileLimit);
  warren::io::reserveAcceptSpare();
  std::string drainNote;
  const auto drainDeadline =
      warren::tunnel::drainDeadline(opts.drainSeconds, std::getenv("TERMINATION_GRACE_PERIOD_SECONDS"), &drainNote);
  if (!drainNote.empty()) spdlog::warn("{}; draining for {} s at most", drainNote, drainDeadline.count());

  // Started before any connection is carried.
  auto audit = warren::audit::startAuditWriter(opts.audit);
  if (!audit) {
    spdlog::critical("audit: {}", audit.error().message);
    return 1;
  }

  warren::identity::CaChoice ca = opts.ca.choice;
  ca.trustDomain = opts.trustDomain;
  ca.impersonate = true;  // a node agent asking for the identities of its node's pods
  auto identity = warren::identity::makeIdentityManager(ca, opts.ca.certTtl);
  if (!identity) {
    spdlog::critical("{}", identity.error().message);
    return 1;
  }
  // Certificates are issued once pods arrive (ZDS), after this.
  warren::audit::recordCertEvents(**identity, audit->get());

  // The cluster's workloads: the same YAML directory the agent reads, or the
  // Kubernetes API (its view kept by the feed's threads); with --xds-address, the
  // control plane only. A source that cannot be configured fails now.
  warren::state::StateStore state;
  std::unique_ptr<warren::state::StateFeed> feed;
  if (opts.xdsAddress.empty()) {
    auto made = warren::state::StateFeed::start(
        {.configDir = opts.configDir,
         .kubeInCluster = opts.kubeInCluster,
         .kubeconfig = opts.kubeconfig,
         .snapshot = {.trustDomain = opts.trustDomain, .rootNamespace = opts.rootNamespace}},
        [&state](warren::state::ClusterStatePtr next) {
          size_t inMesh = 0;
          for (const auto& [uid, w] : next->workloads()) inMesh += w.captured;
          spdlog::info("cluster state: {} workloads, {} in the mesh, {} services, {} authorization policies",
                       next->workloads().size(), inMesh, next->services().size(), next->policies().size());
          state.set(std::move(next));
        });
    if (!made) {
      spdlog::critical("{}", made.error().message);
      return 1;
    }
    feed = std::move(*made);
  }
  auto xds = startXds(opts, state);
  if (!xds) {
    spdlog::critical("xds: {}", xds.error().message);
    return 1;
  }
  auto loop = warren::io::EventLoop::create();
  if (!loop) {
    spdlog::critical("cannot start event loop: {}", loop.error().message);
    return 1;
  }
  std::thread loopThread([&] { (*loop)->run(); });

  warren::proxy::ProxyOptions proxyOpts;
  proxyOpts.mark = WARREN_TUNNEL_MARK;
  proxyOpts.h2.maxConcurrentStreams = static_cast<uint32_t>(opts.maxStreams);
  proxyOpts.h2.idleTimeout = std::chrono::milliseconds(opts.idleTimeoutMs);
  proxyOpts.h2.earlyData = opts.earlyData;
  // Half the descriptors at most go to inbound HBONE, whoever opens them; the rest
  // stay for the connections to apps and the outbound side.
  proxyOpts.hboneInbound = {.total = warren::io::totalCap(static_cast<size_t>(opts.maxInbound), fileLimit),
                            .perSource = static_cast<size_t>(opts.maxInboundPerSource)};
  // Plaintext connections take two descriptors each (client and upstream): a
  // quarter of the limit for each side at most.
  proxyOpts.plaintextInbound = {
      .total = warren::io::totalCap(static_cast<size_t>(opts.maxPlaintextInbound), fileLimit, 4),
      .perSource = static_cast<size_t>(opts.maxPlaintextInboundPerPod)};
  proxyOpts.overload = {.fdPercent = static_cast<unsigned>(opts.overloadFdPercent),
                        .heldBytes = static_cast<uint64_t>(opts.overloadHeldMiB) << 20};
  proxyOpts.outbound = {.total = warren::io::totalCap(static_cast<size_t>(opts.maxOutbound), fileLimit, 4),
                        .perSource = 0};
  warren::hbone::ReceiveBudget::setProcessLimit(static_cast<size_t>(opts.receiveBudgetMiB) << 20);
  warren::telemetry::TcpMetrics metrics;
  auto proxy = std::make_unique<warren::proxy::Proxy>(
      **loop, nullptr,
      warren::proxy::ProxyInputs{
          .identity = identity->get(), .state = &state, .metrics = &metrics, .audit = audit->get()},
      proxyOpts);
  // A policy change also judges live connections again, on the loop.
  state.subscribe([&loop = **loop, p = proxy.get()](const warren::state::ClusterStatePtr& next) {
    loop.post([p, next] { p->revalidate(next); });
  });
  if (auto st = warren::proxy::registerTunnelMetrics(metrics, *proxy, **identity); !st)
    spdlog::error("metrics: {}", st.error().message);
  if (auto st = warren::tunnel::registerCaptureMetrics(metrics, opts.pinRoot); !st)
    spdlog::error("metrics: {}", st.error().message);
  if (*audit) {
    if (auto st = warren::audit::registerAuditMetrics(metrics, (*audit)->counters(), "warren_tunnel"); !st)
      spdlog::error("metrics: {}", st.error().message);
  }
  // The telemetry ports come up before any pod is taken over, so a port clash
  // ends the start cleanly. Ready once the agent's workload stream is up (the HTTP
  // threads see the ZDS client through an atomic: it starts after them).
  std::atomic<warren::inpod::ZdsClient*> zdsSeen{nullptr};
  // SO_REUSEPORT: a new tunnel binds these ports beside this one during an
  // upgrade (both share the node's netns); this one closes them when it drains.
  opts.telemetry.reusePort = true;
  // Serving needs the agent's pods (its whole replay applied) and, with xDS, a
  // first accepted state; with the API, a first list of every resource.
  std::function<bool()> isReady = [&] {
    auto* z = zdsSeen.load();
    return z && z->connected() && z->synced() && (!*xds || (*xds)->status().everyTypeAcked()) &&
           (!feed || feed->synced());
  };
  auto telemetry = warren::telemetry::start(
      opts.telemetry,
      {.ready = isReady,
       .notReadyReason =
           [&] {
             auto* z = zdsSeen.load();
             if (!z || !z->connected()) return std::string("not connected to warren-agent's workload socket");
             if (!z->synced()) return std::string("waiting for warren-agent's pods (its snapshot)");
             if (feed && !feed->synced()) return "waiting for the " + feed->describe() + " (" + feed->status() + ")";
             return std::string("no response of both types (addresses, authorizations) accepted from xDS ") +
                    opts.xdsAddress + " yet";
           },
       .configDump =
           [&] {
             nlohmann::json extra = nlohmann::json::object();
             if (*xds) extra["xds"] = warren::xds::statusJson((*xds)->status());
             return warren::proxy::configDump(state, **identity, proxy->counters(), extra);
           }},
      metrics);
  if (!telemetry) {
    spdlog::critical("telemetry: {}", telemetry.error().message);
    feed.reset();  // no more state updates posting to the loop
    xds->reset();
    (*loop)->stop();
    loopThread.join();
    return 1;
  }
  warren::proxy::addTunnelRoutes((*telemetry)->admin(), **loop, *proxy, state);
  auto manager = std::make_unique<warren::inpod::InpodManager>(
      **loop, *proxy, identity->get(),
      warren::inpod::InpodOptions{.pinRoot = opts.pinRoot, .mark = WARREN_TUNNEL_MARK});
  auto zds = warren::inpod::ZdsClient::start(opts.agentSocket, *manager);
  zdsSeen = zds.get();
  const std::string sourceName = feed ? feed->describe() : "xds " + opts.xdsAddress;
  // Nothing is said ready on a partial view of the cluster: the first list of
  // every resource comes first (readiness on 15021 says what it waits for).
  int early = 0;  // SIGTERM/SIGINT while waiting: stop without serving
  if (feed) early = feed->waitFirstState(shutdown);
  spdlog::info("tunnel started: agent socket {}, BPF pin root {}, cluster state {}, trust domain {}, CA {}",
               opts.agentSocket, opts.pinRoot, sourceName, opts.trustDomain, warren::identity::describeCa(opts.ca));
  auto reload = [&] {
    if (auto st = (*identity)->reloadTrustBundle(); !st) {
      spdlog::error("trust bundle reload: {}; keeping the current bundle", st.error().message);
    } else {
      spdlog::info("trust bundle reloaded");
      const uint64_t generation = (*identity)->trustBundle()->generation;
      (*loop)->post([p = proxy.get(), generation] { p->trustBundleChanged(generation); });
    }
    if (feed) feed->reload();
  };
  // --ready-fd says what /healthz/ready says: serving, every pod the agent handed
  // over listened for. An upgrade (and a test) waits on it before stopping the old one.
  while (!early && !isReady()) {
    const int s = shutdown.waitFor(std::chrono::milliseconds(20));
    if (s == SIGHUP)
      reload();
    else if (s)
      early = s;
  }
  if (!early) warren::signalReady(opts.readyFd);

  int sig = early;
  while (!early && (sig = shutdown.wait()) == SIGHUP) reload();
  if (sig == SIGTERM) {
    // Hitless upgrade (tunnel/drain/drain.h): hand everything new to a successor,
    // finish what this one carries.
    spdlog::info("signal {}: draining, at most {} s", sig, drainDeadline.count());
    telemetry->reset();  // the ports go to the successor; its callbacks read the ZDS client
    zds.reset();         // the agent's new pods go to the successor
    manager->stopAccepting();
    auto tick = [&] {
      std::promise<warren::tunnel::DrainTick> done;
      (*loop)->post([&] {
        warren::tunnel::DrainTick t;
        t.noticesSent = proxy->drainHbone();
        t.activeConnections = proxy->activeConnections();
        done.set_value(t);
      });
      return done.get_future().get();
    };
    warren::tunnel::DrainLimits limits;
    limits.deadline = drainDeadline;
    auto outcome = warren::tunnel::runDrain(tick, limits, [&](std::chrono::milliseconds t) {
      const int s = shutdown.waitFor(t);
      return s == SIGHUP ? 0 : s;  // a reload has nothing left to change
    });
    if (outcome.leftOpen) spdlog::warn("closing {} connection(s) still open", outcome.leftOpen);
  }
  spdlog::info("signal {}: shutting down", sig);
  telemetry->reset();  // its callbacks read the proxy and the ZDS client
  feed.reset();        // no state updates (and posts to the loop) from here on: joins its threads
  xds->reset();        // likewise: joins the xDS stream thread
  zds.reset();         // no more hand-offs
  manager.reset();     // closes listeners (needs the loop running)
  std::promise<void> closed;
  (*loop)->post([&] {
    proxy->closeAll();
    closed.set_value();
  });
  closed.get_future().wait();
  (*loop)->stop();
  loopThread.join();
  proxy.reset();
  (*identity)->setEventObserver(nullptr);  // its renewal thread writes no more records
  audit->reset();  // after the last connection's record: closes the file with a final checkpoint
  return 0;
}
