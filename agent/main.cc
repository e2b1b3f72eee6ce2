// warren-agent: the node agent. Decides which pods are captured (namespace
// labels, from the YAML directory or the Kubernetes API), loads and pins the
// capture programs, writes the maps, takes pod netns from warren-cni and hands
// them to the tunnel (ZDS).

#include <getopt.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "agent/cni/capture_scope.h"
#include "agent/health.h"
#include "agent/netns_scan.h"
#include "audit/audit_flags.h"
#include "audit/capture_record.h"
#include "common/cgroup2.h"
#include "common/daemon.h"
#include "io/accept.h"
#include "source/dir_watcher.h"
#include "source/enrollment.h"
#include "source/kube/kube_source.h"
#include "source/kube/pod_api.h"
#include "source/kube/removal.h"
#include "source/node_view.h"

namespace {

struct Options {
  std::string node;
  std::string configDir = "/etc/warren/cluster";
  bool configDirGiven = false;
  bool kubeInCluster = false;  // --kube
  std::string kubeconfig;      // --kubeconfig FILE
  std::string pinRoot = WARREN_PIN_ROOT_DEFAULT;
  std::string cgroup;  // "": found from /proc/self/mountinfo
  std::string runDir = "/run/warren";
  std::string logLevel = "info";
  std::string healthAddress;  // "": no probe endpoint
  int readyFd = -1;
  bool uninstall = false;
  std::string uninstallWhenRemoved;  // NS/NAME of our DaemonSet
  std::string checkRemoved;          // NS/NAME: only answer whether it is being removed
  uint32_t connsPerPod = WARREN_MAX_CONNS_PER_POD;
  // The audit log (README "Audit evidence"): a record per change of a pod's
  // capture in a capturing namespace; off unless --audit-dir is given.
  warren::audit::AuditFlags audit;
};

void usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: warren-agent [options]\n"
      "  --node NAME         this node's name; pods with another spec.nodeName are not ours\n"
      "  --config-dir DIR    standalone cluster state: YAML Namespaces and Pods (default /etc/warren/cluster)\n"
      "  --kube              read Namespaces and this node's Pods from the Kubernetes API, as a pod\n"
      "                      (the service account's token and CA; KUBERNETES_SERVICE_HOST/PORT)\n"
      "  --kubeconfig FILE   the same with a kubeconfig file's current context\n"
      "  --bpffs DIR         pin root for maps and links (default " WARREN_PIN_ROOT_DEFAULT
      ")\n"
      "  --cgroup DIR        cgroup v2 root to attach at (default: the cgroup2 mount found in\n"
      "                      /proc/self/mountinfo, /sys/fs/cgroup first)\n"
      "  --run-dir DIR       sockets (cni.sock, zds.sock) and pod records (default /run/warren)\n"
      "  --log-level LEVEL   trace|debug|info|warn|error (default info)\n"
      "  --health-address A:P  serve GET /healthz/live and /healthz/ready here (the\n"
      "                      DaemonSet's probes use 0.0.0.0:15022; default: none)\n"
      "  --ready-fd N        write \"ready\" to fd N once serving\n"
      "  --conns-per-pod N   captured outbound connections one pod may hold open at once (its\n"
      "                      share of the original-destination map; default %u of %u); past it\n"
      "                      the pod's connects are refused, other pods' are not\n"
      "  --uninstall         detach every program and remove the pins under --bpffs, then exit; with\n"
      "                      --kube or --kubeconfig (and --node), first remove the annotation\n"
      "                      ambient.istio.io/redirection from this node's pods\n"
      "  --uninstall-when-removed NS/NAME\n"
      "                      at SIGTERM, ask the API whether this DaemonSet is gone or being\n"
      "                      deleted, and if so uninstall as --uninstall does (a restart keeps\n"
      "                      capture in place); needs --kube or --kubeconfig\n"
      "  --check-removed NS/NAME\n"
      "                      only say whether that DaemonSet is being removed: exit 0 if so, 1 if\n"
      "                      it is still there, 3 if the API cannot tell (install-cni.sh asks this)\n",
      static_cast<unsigned>(WARREN_MAX_CONNS_PER_POD), static_cast<unsigned>(WARREN_MAX_CONNS));
  // Its own node name in the files: the tunnel of the node may write to the same directory.
  warren::audit::printAuditUsage(out, "change of a pod's capture in a capturing namespace",
                                 "--node's, else $NODE_NAME, else the hostname, then \"-agent\"");
}

bool parse(int argc, char** argv, Options& o) {
  static const std::vector<option> longopts = warren::audit::withAuditOptions({
      {"node", required_argument, nullptr, 'n'},
      {"config-dir", required_argument, nullptr, 'c'},
      {"kube", no_argument, nullptr, 'K'},
      {"kubeconfig", required_argument, nullptr, 'k'},
      {"bpffs", required_argument, nullptr, 'b'},
      {"cgroup", required_argument, nullptr, 'g'},
      {"run-dir", required_argument, nullptr, 'd'},
      {"log-level", required_argument, nullptr, 'l'},
      {"health-address", required_argument, nullptr, 'H'},
      {"ready-fd", required_argument, nullptr, 'r'},
      {"uninstall", no_argument, nullptr, 'u'},
      {"uninstall-when-removed", required_argument, nullptr, 'W'},
      {"check-removed", required_argument, nullptr, 'Q'},
      {"conns-per-pod", required_argument, nullptr, 'C'},
      {"help", no_argument, nullptr, 'h'},
  });
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts.data(), nullptr)) != -1) {
    switch (warren::audit::parseAuditFlag(c, optarg, o.audit, "warren-agent")) {
      case warren::audit::FlagOutcome::kTaken: continue;
      case warren::audit::FlagOutcome::kBadValue: return false;
      case warren::audit::FlagOutcome::kNotOurs: break;
    }
    switch (c) {
      case 'n': o.node = optarg; break;
      case 'c':
        o.configDir = optarg;
        o.configDirGiven = true;
        break;
      case 'K': o.kubeInCluster = true; break;
      case 'k': o.kubeconfig = optarg; break;
      case 'b': o.pinRoot = optarg; break;
      case 'g': o.cgroup = optarg; break;
      case 'd': o.runDir = optarg; break;
      case 'l': o.logLevel = optarg; break;
      case 'H': o.healthAddress = optarg; break;
      case 'r': o.readyFd = std::atoi(optarg); break;
      case 'u': o.uninstall = true; break;
      case 'W': o.uninstallWhenRemoved = optarg; break;
      case 'Q': o.checkRemoved = optarg; break;
      case 'C': {
        char* end = nullptr;
        unsigned long n = std::strtoul(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || n == 0 || n > WARREN_MAX_CONNS) {
          std::fprintf(stderr, "warren-agent: --conns-per-pod wants 1..%u\n", static_cast<unsigned>(WARREN_MAX_CONNS));
          return false;
        }
        o.connsPerPod = static_cast<uint32_t>(n);
        break;
      }
      case 'h': usage(stdout); std::exit(0);
      default: return false;
    }
  }
  if (optind != argc) return false;
  if (!warren::audit::auditFlagsComplete(o.audit, "warren-agent")) return false;
  const int sources = int(o.configDirGiven) + int(o.kubeInCluster) + int(!o.kubeconfig.empty());
  if (sources > 1) {
    std::fprintf(stderr, "warren-agent: give one cluster source: --config-dir, --kube or --kubeconfig\n");
    return false;
  }
  if ((!o.uninstallWhenRemoved.empty() || !o.checkRemoved.empty()) && !o.kubeInCluster && o.kubeconfig.empty()) {
    std::fprintf(
        stderr, "warren-agent: --uninstall-when-removed and --check-removed ask the API: add --kube or --kubeconfig\n");
    return false;
  }
  return true;
}

// Wakes every resyncInterval, or at once on stop.
class Resyncer {
 public:
  Resyncer(warren::agent::Agent& agent, std::chrono::milliseconds every)
      : thread_([this, &agent, every] {
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
            lock.unlock();
            agent.resync();
            lock.lock();
          }
        }) {}
  ~Resyncer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace warren;
  Options opts;
  if (!parse(argc, argv, opts)) {
    usage(stderr);
    return 2;
  }
  ShutdownSignal shutdown;
  setupLogging(opts.logLevel, "agent");

  // A Kubernetes API source that cannot be configured fails now, before
  // anything is loaded into the kernel.
  const bool fromApi = opts.kubeInCluster || !opts.kubeconfig.empty();
  std::optional<source::kube::KubeConfig> kubeConfig;
  if (fromApi) {
    if (opts.node.empty() && opts.checkRemoved.empty()) {
      spdlog::critical(
          "--kube and --kubeconfig need --node: the agent watches (and --uninstall un-annotates) its "
          "own node's pods");
      return 2;
    }
    auto config = opts.kubeInCluster ? source::kube::inClusterConfigFromEnvironment()
                                     : source::kube::kubeconfigFromFile(opts.kubeconfig);
    if (!config) {
      spdlog::critical("Kubernetes API: {}", config.error().message);
      return 1;
    }
    kubeConfig = std::move(*config);
  }
  // With the API: istiod keys HBONE on the pods' redirection annotation, which
  // nothing on this node answers once Warren is gone; it goes first (as
  // istio-cni removes it), and an API that cannot be asked does not keep the
  // programs attached. Returns whether every annotation is gone.
  auto removeAnnotations = [&opts, &kubeConfig] {
    if (!kubeConfig) return true;
    source::kube::ApiClient client(*kubeConfig, /*cancelFd=*/-1, std::chrono::seconds(5));
    auto removed = source::kube::removeRedirections(client, opts.node);
    if (!removed) {
      spdlog::error("uninstall: {}: remove it by hand (kubectl annotate pod NAME {}-)", removed.error().message,
                    source::kRedirectionAnnotation);
      return false;
    }
    spdlog::info("uninstall: {} removed from {} pod(s) of node {}", source::kRedirectionAnnotation, *removed,
                 opts.node);
    return true;
  };
  if (opts.uninstall) {
    const bool annotationsGone = removeAnnotations();
    if (auto st = agent::CaptureLoader::uninstall(opts.pinRoot); !st) {
      spdlog::error("uninstall: {}", st.error().message);
      return 1;
    }
    spdlog::info("removed every Warren pin under {}: programs detached", opts.pinRoot);
    return annotationsGone ? 0 : 1;
  }
  if (!opts.checkRemoved.empty()) {
    auto verdict = source::kube::checkDaemonSetRemoved(*kubeConfig, opts.checkRemoved);
    spdlog::info("{}", verdict.reason);
    return verdict.removal == source::kube::Removal::Removed   ? 0
           : verdict.removal == source::kube::Removal::Present ? 1
                                                               : 3;
  }
  // Asked at SIGTERM: uninstall only when the DaemonSet is going away.
  auto uninstallIfRemoved = [&opts, &kubeConfig, &removeAnnotations] {
    if (opts.uninstallWhenRemoved.empty()) return;
    auto verdict = source::kube::checkDaemonSetRemoved(*kubeConfig, opts.uninstallWhenRemoved);
    if (verdict.removal != source::kube::Removal::Removed) {
      spdlog::info("{}: capture stays in place{}", verdict.reason,
                   verdict.removal == source::kube::Removal::Unknown
                       ? " (if Warren is being removed, run warren-agent --uninstall on this node)"
                       : "");
      return;
    }
    removeAnnotations();
    if (auto st = agent::CaptureLoader::uninstall(opts.pinRoot); !st)
      return spdlog::error("{}: uninstall failed: {}", verdict.reason, st.error().message);
    spdlog::info("{}: uninstalled: every Warren pin under {} removed, programs detached at exit", verdict.reason,
                 opts.pinRoot);
  };

  // The audit log, before the first pod is decided. Its files are named for
  // the node and "-agent" (the node's tunnel may write to the same directory,
  // under the node's name, and each writer chains its own files); its records
  // name the node.
  const std::string auditNode = opts.node.empty() ? audit::defaultAuditNode() : opts.node;
  if (opts.audit.writer.node.empty()) opts.audit.writer.node = auditNode + "-agent";
  auto auditWriter = audit::startAuditWriter(opts.audit);
  if (!auditWriter) {
    spdlog::critical("audit: {}", auditWriter.error().message);
    return 1;
  }

  // The probe endpoint comes up first, so a slow start (the API's first list)
  // shows as not ready, not as dead. It reads what follows through these.
  std::atomic<bool> serving{false};
  std::atomic<source::kube::KubeSource*> kubeSeen{nullptr};
  std::unique_ptr<telemetry::HttpServer> health;
  if (!opts.healthAddress.empty()) {
    auto made = agent::startHealthServer(opts.healthAddress, {.ready = [&serving] { return serving.load(); },
                                                              .notReadyReason =
                                                                  [&kubeSeen] {
                                                                    auto* k = kubeSeen.load();
                                                                    return k ? "waiting for the Kubernetes API (" +
                                                                                   k->status() + ")"
                                                                             : std::string("starting");
                                                                  }});
    if (!made) {
      spdlog::critical("health endpoint: {}", made.error().message);
      return 1;
    }
    health = std::move(*made);
  }

  if (opts.cgroup.empty()) {
    auto found = detectCgroup2Root();
    if (!found) {
      spdlog::critical("cgroup v2: {}", found.error().message);
      return 1;
    }
    opts.cgroup = *found;
    spdlog::info("cgroup v2 root: {}", opts.cgroup);
  }
  auto capture = agent::CaptureLoader::load({opts.pinRoot, opts.cgroup, WARREN_TUNNEL_MARK, opts.connsPerPod});
  if (!capture) {
    spdlog::critical("cannot load capture programs: {}", capture.error().message);
    return 1;
  }
  agent::RuntimeStore store(opts.runDir + "/pods");
  if (auto st = store.init(); !st) {
    spdlog::critical("{}", st.error().message);
    return 1;
  }
  io::reserveAcceptSpare();  // the ZDS server sheds with it when out of descriptors
  // Tunnels may connect from now on; they are answered once start() below has
  // loaded the pods this node runs (openToTunnels), never with a partial snapshot.
  auto zds = zds::ZdsServer::start(opts.runDir + "/zds.sock", zds::ZdsServer::Start::HoldHellos);
  if (!zds) {
    spdlog::critical("cannot serve the tunnel socket: {}", zds.error().message);
    return 1;
  }
  // The cluster view: the YAML directory (read again at each change), or the
  // API source's view (kept by its own threads).
  source::kube::KubeSource* kubeView = nullptr;  // owned by `kube` below
  UniqueFd patchCancel(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!patchCancel) {
    spdlog::critical("eventfd: {}", std::strerror(errno));
    return 1;
  }
  std::atomic<bool> started{false};  // the API source may call the agent
  // The directory's node view, re-read file by file: only the files that changed
  // since the last read are parsed.
  struct DirView {
    explicit DirView(source::DirectoryReader r) : reader(std::move(r)) {}
    std::mutex mu;
    source::DirectoryReader reader;
  };
  auto dirView = std::make_shared<DirView>(source::nodeViewReader(opts.configDir, opts.node));
  agent::AgentOptions agentOptions{.nodeName = opts.node,
                                   .clusterView = [dirView]() -> Result<source::Snapshot> {
                                     std::lock_guard lock(dirView->mu);
                                     if (auto read = dirView->reader.read(); !read) return read.error();
                                     return dirView->reader.snapshot();
                                   },
                                   .captureScopeFile = opts.runDir + "/" + std::string(cni::kCaptureScopeFile)};
  if (fromApi) {
    agentOptions.clusterView = [&kubeView] { return Result<source::Snapshot>(kubeView->snapshot()); };
    agentOptions.fetchPod = [&kubeView](const std::string& ns, const std::string& name, bool withNamespace) {
      auto client = kubeView->client();
      return source::kube::fetchPod(client, ns, name, withNamespace);
    };
    // A namespace the watch has not delivered yet may be a capturing one.
    agentOptions.unknownNamespace = agent::UnknownNamespace::MayCapture;
    // The annotator's own client: it may PATCH until the agent is gone, after
    // the source is; patchCancel ends a PATCH in flight at exit.
    auto patchClient =
        std::make_shared<source::kube::ApiClient>(*kubeConfig, patchCancel.get(), std::chrono::seconds(5));
    agentOptions.setRedirection = [patchClient](const std::string& ns, const std::string& name, bool enabled) {
      return source::kube::setRedirection(*patchClient, ns, name, enabled);
    };
    // Warren installed on a live cluster: the pods already running had no CNI ADD.
    agentOptions.scanNetns = [] { return agent::scanNetworkNamespaces(); };
  }
  if (audit::AuditWriter* writer = auditWriter->get())
    agentOptions.recordCapture = [writer, auditNode](const agent::CaptureEvent& e) {
      writer->submit(audit::RecordType::Capture,
                     audit::captureAuditFields(e, auditNode, std::chrono::system_clock::now()));
    };
  // Declared after the audit writer: the agent records until it is gone.
  agent::Agent agent(std::move(agentOptions), **capture, **zds, store);

  // Declared after the agent, so they stop (and join their threads, which call
  // the agent) before it is destroyed.
  std::unique_ptr<source::kube::KubeSource> kube;
  // The probe endpoint reads `kube` through kubeSeen: it stops before `kube` goes.
  struct StopHealthFirst {
    std::unique_ptr<telemetry::HttpServer>& server;
    ~StopHealthFirst() { server.reset(); }
  } stopHealthFirst{health};
  std::unique_ptr<source::DirWatcher> watcher;
  std::string sourceName = "config " + opts.configDir;
  if (fromApi) {
    sourceName = "Kubernetes API, " + kubeConfig->describe;
    source::kube::KubeSource::Options kopts;
    kopts.config = *kubeConfig;  // a copy: the SIGTERM removal check asks the API too
    kopts.nodeName = opts.node;
    auto made = source::kube::KubeSource::start(std::move(kopts), [&] {
      if (!started) return;
      agent.reloadSource();
      agent.discoverRunningPods();  // a pod of a namespace enabled since, that ran before us
    });
    if (!made) {
      spdlog::critical("Kubernetes API: {}", made.error().message);
      return 1;
    }
    kube = std::move(*made);
    kubeView = kube.get();
    kubeSeen = kube.get();
    // Nothing is decided on a partial view: enrolling (or releasing the pods a
    // previous run enrolled) waits for the first full list of every resource.
    spdlog::info("{}: waiting for the first list of namespaces and pods", sourceName);
    if (int sig = source::kube::waitFirstList(*kube, shutdown)) {
      spdlog::info("signal {} before the first list: exiting", sig);
      uninstallIfRemoved();
      return 0;
    }
    agent.start();
    started = true;
    agent.reloadSource();  // anything that changed between the first list and start()
    // Before ready: the pods that were running before the agent are captured
    // by the time it says so.
    agent.discoverRunningPods();
  } else {
    agent.start();
    auto made = source::DirWatcher::start(opts.configDir, [&] { agent.reloadSource(); });
    if (!made) {
      spdlog::critical("cannot watch {}: {}", opts.configDir, made.error().message);
      return 1;
    }
    watcher = std::move(*made);
  }
  // Every pod this node runs is known (and enrolled): a tunnel's snapshot is whole.
  (*zds)->openToTunnels();
  auto cniServer = cni::CniServer::start(opts.runDir + "/cni.sock",
                                         [&](const cni::CniPodRequest& req) { return agent.handleCni(req); });
  if (!cniServer) {
    spdlog::critical("cannot serve the CNI socket: {}", cniServer.error().message);
    return 1;
  }
  Resyncer resyncer(agent, std::chrono::seconds(2));
  spdlog::info("agent ready: node '{}', {}, pins {}, run dir {}", opts.node, sourceName, opts.pinRoot, opts.runDir);
  signalReady(opts.readyFd);
  serving = true;

  int sig;
  while ((sig = shutdown.wait()) == SIGHUP) agent.reloadSource();
  // Pins stay: capture (and failing closed) continues while the agent is away.
  spdlog::info("signal {}: exiting", sig);
  uint64_t one = 1;
  (void)!::write(patchCancel.get(), &one, sizeof(one));  // a PATCH in flight ends now
  if (opts.uninstallWhenRemoved.empty()) spdlog::info("capture stays in place (warren-agent --uninstall removes it)");
  uninstallIfRemoved();
  return 0;
}
