// warren-tunnel: the per-node tunnel. Receives enrolled pods from warren-agent,
// listens inside each pod's netns, and relays captured connections.

#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/daemon.h"
#include "warren_abi.h"
#include "ztunnel/inpod/inpod_manager.h"
#include "ztunnel/inpod/zds_client.h"
#include "ztunnel/io/event_loop.h"
#include "ztunnel/proxy/proxy.h"

namespace {

struct Options {
  std::string agentSocket = "/run/warren/zds.sock";
  std::string pinRoot = WARREN_PIN_ROOT_DEFAULT;
  std::string logLevel = "info";
  int readyFd = -1;
};

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: warren-tunnel [options]\n"
               "  --agent-socket PATH  warren-agent's workload socket (default /run/warren/zds.sock)\n"
               "  --bpffs DIR          pin root of the agent's BPF maps (default " WARREN_PIN_ROOT_DEFAULT ")\n"
               "  --log-level LEVEL    trace|debug|info|warn|error (default info)\n"
               "  --ready-fd N         write \"ready\" to fd N once serving\n");
}

bool parse(int argc, char** argv, Options& o) {
  static const option longopts[] = {{"agent-socket", required_argument, nullptr, 'a'},
                                    {"bpffs", required_argument, nullptr, 'b'},
                                    {"log-level", required_argument, nullptr, 'l'},
                                    {"ready-fd", required_argument, nullptr, 'r'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    switch (c) {
      case 'a': o.agentSocket = optarg; break;
      case 'b': o.pinRoot = optarg; break;
      case 'l': o.logLevel = optarg; break;
      case 'r': o.readyFd = std::atoi(optarg); break;
      case 'h': usage(stdout); std::exit(0);
      default: return false;
    }
  }
  return optind == argc;
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

  auto loop = warren::io::EventLoop::create();
  if (!loop) {
    spdlog::critical("cannot start event loop: {}", loop.error().message);
    return 1;
  }
  std::thread loopThread([&] { (*loop)->run(); });

  warren::proxy::Proxy proxy(**loop, nullptr, {.mark = WARREN_TUNNEL_MARK});
  auto manager = std::make_unique<warren::inpod::InpodManager>(
      **loop, proxy, warren::inpod::InpodOptions{.pinRoot = opts.pinRoot, .mark = WARREN_TUNNEL_MARK});
  auto zds = warren::inpod::ZdsClient::start(opts.agentSocket, *manager);
  spdlog::info("tunnel started: agent socket {}, BPF pin root {}", opts.agentSocket, opts.pinRoot);
  warren::signalReady(opts.readyFd);

  int sig = shutdown.wait();
  spdlog::info("signal {}: shutting down", sig);
  zds.reset();      // no more hand-offs
  manager.reset();  // closes listeners (needs the loop running)
  (*loop)->stop();
  loopThread.join();
  return 0;
}
