// warren-agent: the node agent. Decides which pods are captured (namespace
// labels in the YAML directory), loads and pins the capture programs, writes the
// maps, takes pod netns from warren-cni and hands them to the tunnel (ZDS).

#include <getopt.h>

#include <csignal>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "common/cgroup2.h"
#include "io/accept.h"
#include "agent/cni/capture_scope.h"
#include "source/dir_watcher.h"
#include "common/daemon.h"

namespace {

struct Options {
  std::string node;
  std::string configDir = "/etc/warren/cluster";
  std::string pinRoot = WARREN_PIN_ROOT_DEFAULT;
  std::string cgroup;  // "": found from /proc/self/mountinfo
  std::string runDir = "/run/warren";
  std::string logLevel = "info";
  int readyFd = -1;
  bool uninstall = false;
};

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: warren-agent [options]\n"
               "  --node NAME         this node's name; pods with another spec.nodeName are not ours\n"
               "  --config-dir DIR    standalone cluster state: YAML Namespaces and Pods (default /etc/warren/cluster)\n"
               "  --bpffs DIR         pin root for maps and links (default " WARREN_PIN_ROOT_DEFAULT ")\n"
               "  --cgroup DIR        cgroup v2 root to attach at (default: the cgroup2 mount found in\n"
               "                      /proc/self/mountinfo, /sys/fs/cgroup first)\n"
               "  --run-dir DIR       sockets (cni.sock, zds.sock) and pod records (default /run/warren)\n"
               "  --log-level LEVEL   trace|debug|info|warn|error (default info)\n"
               "  --ready-fd N        write \"ready\" to fd N once serving\n"
               "  --uninstall         detach every program and remove the pins under --bpffs, then exit\n");
}

bool parse(int argc, char** argv, Options& o) {
  static const option longopts[] = {{"node", required_argument, nullptr, 'n'},
                                    {"config-dir", required_argument, nullptr, 'c'},
                                    {"bpffs", required_argument, nullptr, 'b'},
                                    {"cgroup", required_argument, nullptr, 'g'},
                                    {"run-dir", required_argument, nullptr, 'd'},
                                    {"log-level", required_argument, nullptr, 'l'},
                                    {"ready-fd", required_argument, nullptr, 'r'},
                                    {"uninstall", no_argument, nullptr, 'u'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    switch (c) {
      case 'n': o.node = optarg; break;
      case 'c': o.configDir = optarg; break;
      case 'b': o.pinRoot = optarg; break;
      case 'g': o.cgroup = optarg; break;
      case 'd': o.runDir = optarg; break;
      case 'l': o.logLevel = optarg; break;
      case 'r': o.readyFd = std::atoi(optarg); break;
      case 'u': o.uninstall = true; break;
      case 'h': usage(stdout); std::exit(0);
      default: return false;
    }
  }
  return optind == argc;
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

  if (opts.uninstall) {
    if (auto st = agent::CaptureLoader::uninstall(opts.pinRoot); !st) {
      spdlog::error("uninstall: {}", st.error().message);
      return 1;
    }
    spdlog::info("removed every Warren pin under {}: programs detached", opts.pinRoot);
    return 0;
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
  auto capture = agent::CaptureLoader::load({opts.pinRoot, opts.cgroup, WARREN_TUNNEL_MARK});
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
  auto zds = zds::ZdsServer::start(opts.runDir + "/zds.sock");
  if (!zds) {
    spdlog::critical("cannot serve the tunnel socket: {}", zds.error().message);
    return 1;
  }
  agent::Agent agent({.nodeName = opts.node,
                      .configDir = opts.configDir,
                      .captureScopeFile = opts.runDir + "/" + std::string(cni::kCaptureScopeFile)},
                     **capture, **zds, store);
  agent.start();

  auto watcher = source::DirWatcher::start(opts.configDir, [&] { agent.reloadSource(); });
  if (!watcher) {
    spdlog::critical("cannot watch {}: {}", opts.configDir, watcher.error().message);
    return 1;
  }
  auto cniServer = cni::CniServer::start(opts.runDir + "/cni.sock",
                                         [&](const cni::CniPodRequest& req) { return agent.handleCni(req); });
  if (!cniServer) {
    spdlog::critical("cannot serve the CNI socket: {}", cniServer.error().message);
    return 1;
  }
  Resyncer resyncer(agent, std::chrono::seconds(2));
  spdlog::info("agent ready: node '{}', config {}, pins {}, run dir {}", opts.node, opts.configDir, opts.pinRoot,
               opts.runDir);
  signalReady(opts.readyFd);

  int sig;
  while ((sig = shutdown.wait()) == SIGHUP) agent.reloadSource();
  // Pins stay: capture (and failing closed) continues while the agent is away.
  spdlog::info("signal {}: exiting; capture stays in place (warren-agent --uninstall removes it)", sig);
  return 0;
}
