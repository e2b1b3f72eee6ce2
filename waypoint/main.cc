// warren-waypoint: the L7 proxy for a namespace or service (Istio's waypoint). Runs
// in its own pod (never captured: the pod carries the Gateway's gateway-name
// label), accepts HBONE on 15008 as its own SPIFFE identity, enforces the
// AuthorizationPolicies bound to it per HTTP request and forwards allowed requests
// over HBONE to the destination's tunnel.

#include <getopt.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <set>
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
#include "io/tcp.h"
#include "jwt/jwks_cache.h"
#include "state/feed/state_feed.h"
#include "state/from_snapshot.h"
#include "state/state_json.h"
#include "telemetry/admin.h"
#include "warren_abi.h"
#include "waypoint/proxy/waypoint_server.h"
#include "waypoint/telemetry/waypoint_telemetry.h"

namespace {

struct Options {
  std::string gateway;  // "ns/name" of the waypoint's Gateway
  std::string serviceAccount;
  std::string listen = "0.0.0.0:15008";
  std::string configDir = "/etc/warren/cluster";
  bool configDirGiven = false;
  bool kubeInCluster = false;  // --kube
  std::string kubeconfig;      // --kubeconfig FILE
  std::string trustDomain = "cluster.local";
  std::string rootNamespace = "istio-system";
  warren::identity::CaFlags ca;
  long headTimeoutMs = 10000;
  long halfClosedTimeoutMs = 15000;
  std::string jwksCa;  // "": the system trust store
  long jwksRefreshSeconds = 300;
  long jwtCacheSize = static_cast<long>(warren::jwt::VerifiedTokenCache::kDefaultCapacity);
  long maxInbound = 0;  // 0: half the file descriptor limit
  long maxInboundPerSource = static_cast<long>(warren::hbone::kDefaultMaxInboundPerSource);
  bool earlyData = true;  // --hbone-no-early-data clears it
  warren::telemetry::AdminOptions telemetry{.adminTokenFile = warren::telemetry::kDefaultAdminTokenFile};
  std::string logLevel = "info";
  int readyFd = -1;
  // The audit log (README "Audit evidence"): a record per request; off unless --audit-dir.
  warren::audit::AuditFlags audit;
};

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: warren-waypoint --gateway NS/NAME [options]\n"
               "  --gateway NS/NAME       the waypoint's Gateway (gatewayClassName istio-waypoint)\n"
               "  --service-account SA    its identity's service account (default: the Gateway's name)\n"
               "  --listen A:P            HBONE listener (default 0.0.0.0:15008)\n"
               "  --config-dir DIR        cluster state, the YAML directory (default /etc/warren/cluster)\n"
               "  --kube                  cluster state from the Kubernetes API instead, as a pod (its service\n"
               "                          account): Pods, Namespaces, Services, EndpointSlices, Istio\n"
               "                          security policies, Gateways; with istiod too, which does not send\n"
               "                          L7 policies over the workload API\n"
               "  --kubeconfig FILE       the same with a kubeconfig file's current context\n"
               "  --trust-domain NAME     SPIFFE trust domain (default cluster.local)\n"
               "  --root-namespace NS     Istio's root namespace (default istio-system)\n"
               "  --request-head-timeout MS  an HTTP/1.1 request head must be complete this soon, else\n"
               "                          408 and the connection closed (slow headers; default 10000)\n"
               "  --half-closed-timeout MS  after an HTTP/1.1 client's FIN, its connection closes once\n"
               "                          nothing has moved to it or from its upstream this long\n"
               "                          (default 15000)\n"
               "  --jwks-ca FILE          CA bundle that verifies jwksUri servers (default: the system\n"
               "                          trust store)\n"
               "  --jwks-refresh SECONDS  how often each jwksUri is refetched (default 300); a token with\n"
               "                          an unknown kid refetches at once\n"
               "  --jwt-cache-size N      verified tokens remembered so a repeated token costs no\n"
               "                          signature check (default 4096; 0: verify every request's)\n"
               "  --hbone-max-inbound N   open HBONE connections (--listen) in all; more are reset on\n"
               "                          arrival (default 0: half the file descriptor limit)\n"
               "  --hbone-max-inbound-per-source N  the same from one source IP (default 256; 0: no cap)\n"
               "  --hbone-no-early-data   send a request's bytes to its destination only once the\n"
               "                          destination answered the CONNECT (as ztunnel does)\n"
               "  --metrics-address A:P   Prometheus metrics, GET /metrics (default 0.0.0.0:15020)\n"
               "  --readiness-address A:P GET /healthz/ready (default 0.0.0.0:15021)\n"
               "  --admin-address A:P     admin: /config_dump, /logging (default 127.0.0.1:15000)\n"
               "  --admin-token-file PATH written at start, mode 0600: the bearer token that POST and\n"
               "                          other non-GET admin requests need (default /run/warren/admin-token;\n"
               "                          warrenctl run as root reads it there)\n"
               "  --telemetry-max-per-source N  concurrent connections per source IP on the metrics,\n"
               "                          readiness and admin ports (default 8; 0: only the total cap, 128)\n");
  warren::identity::printCaUsage(out);
  warren::audit::printAuditUsage(out, "HTTP request decided");
  std::fprintf(out,
               "  --log-level LEVEL       trace|debug|info|warn|error (default info)\n"
               "  --ready-fd N            write \"ready\" to fd N once serving\n");
}

// A whole decimal number of at least `min` ("10x" and "" are errors, not 10 and 0).
bool positive(const char* text, long min, long& out) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min) {
    std::fprintf(stderr, "warren-waypoint: '%s' is not a number of at least %ld\n", text, min);
    return false;
  }
  out = v;
  return true;
}

// The waypoint's data path asks for key sets through JwksProvider; the cache
// fetches them on its own thread.
class CachedJwks : public warren::waypoint::JwksProvider {
 public:
  explicit CachedJwks(warren::jwt::JwksCache& cache) : cache_(cache) {}
  std::shared_ptr<const warren::jwt::KeySet> current(const std::string& uri) override { return cache_.current(uri); }
  void refresh(const std::string& uri, std::chrono::milliseconds timeout,
               std::function<void(std::shared_ptr<const warren::jwt::KeySet>)> done) override {
    cache_.refresh(uri, timeout, std::move(done));
  }

 private:
  warren::jwt::JwksCache& cache_;
};

nlohmann::json toJson(const warren::jwt::JwksStatus& s) {
  auto secondsAgo = [](std::chrono::system_clock::time_point t) -> nlohmann::json {
    if (t == std::chrono::system_clock::time_point{}) return nullptr;
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t).count();
  };
  return {{"uri", s.uri},
          {"discovered_jwks_uri", s.discoveredJwksUri},
          {"have_keys", s.haveKeys},
          {"kids", s.kids},
          {"skipped_keys", s.skipped},
          {"fetched_seconds_ago", secondsAgo(s.fetchedAt)},
          {"attempted_seconds_ago", secondsAgo(s.lastAttempt)},
          {"last_error", s.lastError},
          {"fetches", s.fetches},
          {"failures", s.failures}};
}

bool parse(int argc, char** argv, Options& o) {
  static const std::vector<option> longopts = warren::audit::withAuditOptions(
      warren::identity::withCaOptions({{"gateway", required_argument, nullptr, 'g'},
                                       {"service-account", required_argument, nullptr, 's'},
                                       {"listen", required_argument, nullptr, 'L'},
                                       {"config-dir", required_argument, nullptr, 'c'},
                                       {"kube", no_argument, nullptr, 'k'},
                                       {"kubeconfig", required_argument, nullptr, 'G'},
                                       {"trust-domain", required_argument, nullptr, 'd'},
                                       {"root-namespace", required_argument, nullptr, 'N'},
                                       {"request-head-timeout", required_argument, nullptr, 'H'},
                                       {"half-closed-timeout", required_argument, nullptr, 'F'},
                                       {"jwks-ca", required_argument, nullptr, 'J'},
                                       {"jwks-refresh", required_argument, nullptr, 'R'},
                                       {"jwt-cache-size", required_argument, nullptr, 'K'},
                                       {"hbone-max-inbound", required_argument, nullptr, 'I'},
                                       {"hbone-max-inbound-per-source", required_argument, nullptr, 'i'},
                                       {"hbone-no-early-data", no_argument, nullptr, 'E'},
                                       {"metrics-address", required_argument, nullptr, 'M'},
                                       {"readiness-address", required_argument, nullptr, 'Y'},
                                       {"admin-address", required_argument, nullptr, 'D'},
                                       {"admin-token-file", required_argument, nullptr, 'O'},
                                       {"telemetry-max-per-source", required_argument, nullptr, 'P'},
                                       {"log-level", required_argument, nullptr, 'l'},
                                       {"ready-fd", required_argument, nullptr, 'r'},
                                       {"help", no_argument, nullptr, 'h'}}));
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts.data(), nullptr)) != -1) {
    switch (warren::audit::parseAuditFlag(c, optarg, o.audit, "warren-waypoint")) {
      case warren::audit::FlagOutcome::kTaken: continue;
      case warren::audit::FlagOutcome::kBadValue: return false;
      case warren::audit::FlagOutcome::kNotOurs: break;
    }
    switch (warren::identity::parseCaFlag(c, optarg, o.ca, "warren-waypoint")) {
      case warren::FlagOutcome::kTaken: continue;
      case warren::FlagOutcome::kBadValue: return false;
      case warren::FlagOutcome::kNotOurs: break;
    }
    switch (c) {
      case 'g': o.gateway = optarg; break;
      case 's': o.serviceAccount = optarg; break;
      case 'L': o.listen = optarg; break;
      case 'c':
        o.configDir = optarg;
        o.configDirGiven = true;
        break;
      case 'k': o.kubeInCluster = true; break;
      case 'G': o.kubeconfig = optarg; break;
      case 'd': o.trustDomain = optarg; break;
      case 'N': o.rootNamespace = optarg; break;
      case 'H':
        if (!positive(optarg, 1, o.headTimeoutMs)) return false;
        break;
      case 'F':
        if (!positive(optarg, 1, o.halfClosedTimeoutMs)) return false;
        break;
      case 'J': o.jwksCa = optarg; break;
      case 'R':
        if (!positive(optarg, 1, o.jwksRefreshSeconds)) return false;
        break;
      case 'K':
        if (!positive(optarg, 0, o.jwtCacheSize)) return false;
        break;
      case 'I':
        if (!positive(optarg, 0, o.maxInbound)) return false;
        break;
      case 'i':
        if (!positive(optarg, 0, o.maxInboundPerSource)) return false;
        break;
      case 'E': o.earlyData = false; break;
      case 'M': o.telemetry.metricsAddress = optarg; break;
      case 'Y': o.telemetry.readinessAddress = optarg; break;
      case 'D': o.telemetry.adminAddress = optarg; break;
      case 'O': o.telemetry.adminTokenFile = optarg; break;
      case 'P': {
        long n = 0;
        if (!positive(optarg, 0, n)) return false;
        o.telemetry.maxConnectionsPerSource = static_cast<size_t>(n);
        break;
      }
      case 'l': o.logLevel = optarg; break;
      case 'r': o.readyFd = std::atoi(optarg); break;
      case 'h': usage(stdout); std::exit(0);
      default: return false;
    }
  }
  if (int(o.configDirGiven) + int(o.kubeInCluster) + int(!o.kubeconfig.empty()) > 1) {
    std::fprintf(stderr, "warren-waypoint: give one cluster source: --config-dir, --kube or --kubeconfig\n");
    return false;
  }
  if (!warren::audit::auditFlagsComplete(o.audit, "warren-waypoint")) return false;
  const auto slash = o.gateway.find('/');
  return optind == argc && slash != std::string::npos && slash > 0 && slash + 1 < o.gateway.size();
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  if (!parse(argc, argv, opts)) {
    usage(stderr);
    return 2;
  }
  warren::ShutdownSignal shutdown;
  warren::setupLogging(opts.logLevel, "waypoint", /*bufferInfo=*/true);
  const uint64_t fileLimit = warren::io::raiseFileLimit();
  spdlog::info("file descriptor limit: {}", fileLimit);
  warren::io::reserveAcceptSpare();
  const std::string ns = opts.gateway.substr(0, opts.gateway.find('/'));
  const std::string name = opts.gateway.substr(opts.gateway.find('/') + 1);
  if (opts.serviceAccount.empty()) opts.serviceAccount = name;

  // Started before any request can be decided.
  auto audit = warren::audit::startAuditWriter(opts.audit);
  if (!audit) {
    spdlog::critical("audit: {}", audit.error().message);
    return 1;
  }

  warren::identity::CaChoice ca = opts.ca.choice;
  ca.trustDomain = opts.trustDomain;
  ca.impersonate = false;  // its own identity, with its own token: nothing to impersonate
  auto identity = warren::identity::makeIdentityManager(ca, opts.ca.certTtl);
  if (!identity) {
    spdlog::critical("{}", identity.error().message);
    return 1;
  }
  warren::audit::recordCertEvents(**identity, audit->get());
  const auto me = warren::identity::workloadIdentity(opts.trustDomain, ns, opts.serviceAccount);
  if (auto cert = (*identity)->ensure(me); !cert) {
    spdlog::critical("certificate for {}: {}", me.uri(), cert.error().message);
    return 1;
  }

  // jwksUri key sets: fetched for every RequestAuthentication in the state as
  // soon as the state names them, so the first request does not wait.
  warren::jwt::JwksCache jwks(
      {.caFile = opts.jwksCa, .refreshInterval = std::chrono::seconds(opts.jwksRefreshSeconds)});
  CachedJwks jwksProvider(jwks);
  warren::state::StateStore state;
  state.subscribe([&jwks](const warren::state::ClusterStatePtr& st) {
    std::set<std::string> uris;
    for (const auto& [key, ra] : st->requestAuthns())
      for (const auto& p : ra.providers)
        if (!p.jwksUri.empty()) uris.insert(p.jwksUri);
    jwks.retain(uris);
    for (const auto& uri : uris) (void)jwks.current(uri);
  });
  auto feed = warren::state::StateFeed::start(
      {.configDir = opts.configDir,
       .kubeInCluster = opts.kubeInCluster,
       .kubeconfig = opts.kubeconfig,
       .snapshot = {.trustDomain = opts.trustDomain, .rootNamespace = opts.rootNamespace}},
      [&state](warren::state::ClusterStatePtr next) {
        spdlog::info("cluster state: {} workloads, {} services, {} waypoint policies, {} request authentications",
                     next->workloads().size(), next->services().size(), next->l7Policies().size(),
                     next->requestAuthns().size());
        state.set(std::move(next));
      });
  if (!feed) {
    spdlog::critical("{}", feed.error().message);
    return 1;
  }

  auto listenAddr = warren::io::parseHostPort(opts.listen);
  if (!listenAddr) {
    spdlog::critical("--listen {}: {}", opts.listen, listenAddr.error().message);
    return 1;
  }
  auto listener = warren::io::listenTcp(*listenAddr, 0, false, 1024);
  if (!listener) {
    spdlog::critical("listen on {}: {}", opts.listen, listener.error().message);
    return 1;
  }
  auto loop = warren::io::EventLoop::create();
  if (!loop) {
    spdlog::critical("cannot start event loop: {}", loop.error().message);
    return 1;
  }

  warren::waypoint::WaypointOptions wopts;
  wopts.self = warren::waypoint::makeSelf(ns, name, "cluster.local");
  wopts.identity = me;
  wopts.session.headTimeout = std::chrono::milliseconds(opts.headTimeoutMs);
  wopts.session.halfClosedTimeout = std::chrono::milliseconds(opts.halfClosedTimeoutMs);
  wopts.jwks = &jwksProvider;
  wopts.verifiedTokenCapacity = static_cast<size_t>(opts.jwtCacheSize);
  wopts.h2.earlyData = opts.earlyData;
  // Half the descriptors at most go to HBONE connections, whoever opens them; the
  // rest stay for the upstream side.
  wopts.hboneInbound = {.total = warren::io::totalCap(static_cast<size_t>(opts.maxInbound), fileLimit),
                        .perSource = static_cast<size_t>(opts.maxInboundPerSource)};
  warren::waypoint::WaypointTelemetry telemetryData;
  telemetryData.enableAudit(audit->get(), opts.gateway);
  warren::waypoint::WaypointServer server(
      **loop, **identity, state, wopts,
      [&](const warren::waypoint::RequestOutcome& o) { telemetryData.record(o, state.get()); });
  if (auto st = telemetryData.registerServerMetrics(server.counters()); !st) {
    spdlog::critical("metrics: {}", st.error().message);
    return 1;
  }
  if (*audit) {
    if (auto st =
            warren::audit::registerAuditMetrics(telemetryData.tcpMetrics(), (*audit)->counters(), "warren_waypoint");
        !st) {
      spdlog::critical("metrics: {}", st.error().message);
      return 1;
    }
  }
  auto telemetry = warren::telemetry::start(
      opts.telemetry,
      // Not ready on a partial view: the API's first list of every resource first.
      {.ready = [&] { return (*feed)->synced(); },
       .notReadyReason = [&] { return "waiting for the " + (*feed)->describe() + " (" + (*feed)->status() + ")"; },
       .configDump =
           [&] {
             nlohmann::json j = warren::state::toJson(*state.get());
             j["waypoint"] = {{"gateway", opts.gateway}, {"identity", me.uri()}, {"service", wopts.self.serviceKey}};
             j["jwks"] = nlohmann::json::array();
             for (const auto& s : jwks.status()) j["jwks"].push_back(toJson(s));
             const auto cached = server.verifiedTokenStats();
             j["verified_token_cache"] = {{"capacity", opts.jwtCacheSize},
                                          {"entries", cached.entries},
                                          {"hits", cached.hits},
                                          {"misses", cached.misses}};
             return j;
           }},
      telemetryData.tcpMetrics());
  if (!telemetry) {
    spdlog::critical("telemetry: {}", telemetry.error().message);
    return 1;
  }
  telemetryData.attach(**telemetry);

  (void)(*loop)->watch(listener->get(), EPOLLIN, [&](uint32_t) {
    for (int i = 0; i < 64; ++i) {
      warren::io::Accepted a = warren::io::acceptOrShed(listener->get());
      if (a.outcome == warren::io::AcceptOutcome::Shed) continue;
      if (a.outcome != warren::io::AcceptOutcome::Accepted) break;
      server.accept(std::move(a.fd));
    }
  });
  std::thread loopThread([&] { (*loop)->run(); });
  // Until the first whole view, every CONNECT names something this waypoint does
  // not know of and is refused (400): closed, never open.
  int sig = (*feed)->waitFirstState(shutdown);
  spdlog::info("waypoint {} started: HBONE on {}, identity {}, cluster state from the {}, CA {}", opts.gateway,
               opts.listen, me.uri(), (*feed)->describe(), warren::identity::describeCa(opts.ca));
  if (!sig) warren::signalReady(opts.readyFd);

  while (!sig && (sig = shutdown.wait()) == SIGHUP) {
    if (auto st = (*identity)->reloadTrustBundle(); !st) {
      spdlog::error("trust bundle reload: {}; keeping the current bundle", st.error().message);
    } else {
      const uint64_t generation = (*identity)->trustBundle()->generation;
      (*loop)->post([&server, generation] { server.trustBundleChanged(generation); });
    }
    (*feed)->reload();
    sig = 0;
  }
  spdlog::info("signal {}: shutting down", sig);
  telemetry->reset();
  feed->reset();  // no state updates from here on: joins its threads
  std::promise<void> closed;
  (*loop)->post([&] {
    (*loop)->unwatch(listener->get());
    server.closeAll();
    closed.set_value();
  });
  closed.get_future().wait();
  (*loop)->stop();
  loopThread.join();
  // Requests waiting on a JWKS fetch hold callbacks into the loop: answer them now,
  // while the loop still exists (their tasks are dropped), not from the cache's
  // destructor after it is gone.
  jwks.retain({});
  (*identity)->setEventObserver(nullptr);  // its renewal thread writes no more records
  audit->reset();                          // after the last request's record: closes the file with a final checkpoint
  return 0;
}
