// Capture overhead, measured against a baseline in the same run (not a test):
// on one node of namespaces, new-connection + 64-byte echo latency and one-stream
// bulk throughput, for
//   direct     plain pod -> plain pod (no Warren in the path)
//   outbound   mesh pod  -> plain pod (connect4 redirect, tunnel relay)
//   both       mesh pod  -> mesh pod  (outbound relay + sk_lookup + inbound relay)
// Usage (root): warren-capture-bench [connections, default 2000] [bulk MiB, default 256]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "common/netns.h"
#include "tests/support/cluster.h"
#include "tools/bench/bench_util.h"

using namespace warren;
using namespace warren::e2e;
using Clock = std::chrono::steady_clock;

namespace {

// One connection, `mib` MiB sent and echoed back; returns MiB/s of payload one way.
double bulk(const Pod& from, const Pod& to, int mib) {
  auto ns = openNetns(from.netnsPath());
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(8080);
  inet_pton(AF_INET, to.ip.c_str(), &a.sin_addr);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 0;
  const size_t total = static_cast<size_t>(mib) << 20;
  std::vector<char> buf(1 << 16, 'b');
  auto start = Clock::now();
  std::thread writer([&] {
    size_t sent = 0;
    while (sent < total) {
      ssize_t w = ::write(fd->get(), buf.data(), std::min(buf.size(), total - sent));
      if (w <= 0) break;
      sent += static_cast<size_t>(w);
    }
    ::shutdown(fd->get(), SHUT_WR);
  });
  std::vector<char> in(1 << 16);
  size_t got = 0;
  ssize_t r;
  while ((r = ::read(fd->get(), in.data(), in.size())) > 0) got += static_cast<size_t>(r);
  writer.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  return got == total ? mib / secs : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int mib = argc > 2 ? std::atoi(argv[2]) : 256;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "warren-capture-bench: run as root (it builds a node of namespaces)\n");
    return 1;
  }
  NodeOptions nodeOptions;
  nodeOptions.name = "bench";
  nodeOptions.subnet = "10.244.7.0/24";
  TestNode node(nodeOptions);
  node.writeNamespace("mesh", {{"warren.io/mode", "enabled"}});
  node.writeNamespace("plain", {});
  if (!node.startAgent() || !node.startTunnel()) {
    std::fprintf(stderr, "cannot start warren-agent / warren-tunnel:\n%s%s", node.logTail("agent").c_str(),
                 node.logTail("tunnel").c_str());
    return 1;
  }
  int rc = 0;
  Pod meshA = node.addPod("mesh", "a", "10.244.7.11", {}, &rc);
  Pod meshB = node.addPod("mesh", "b", "10.244.7.12", {}, &rc);
  Pod plainC = node.addPod("plain", "c", "10.244.7.13", {}, &rc);
  Pod plainD = node.addPod("plain", "d", "10.244.7.14", {}, &rc);
  auto serverB = PodServer::start(meshB.netnsPath(), 8080);
  auto serverD = PodServer::start(plainD.netnsPath(), 8080);
  pid_t tunnel = node.tunnel()->pid();

  std::printf("Warren capture benchmark: %d connections (connect + 64 B echo), %d MiB bulk, one node\n\n", n, mib);
  std::printf("%-10s %12s %12s %14s %10s\n", "path", "p50 (us)", "p99 (us)", "bulk (MiB/s)", "failures");
  double cpu0 = bench::cpuSeconds(tunnel);
  struct Row {
    const char* name;
    const Pod& from;
    const Pod& to;
    bench::Percentiles lat;
    double mibs;
  } rows[] = {{"direct", plainC, plainD, {}, 0}, {"outbound", meshA, plainD, {}, 0}, {"both", meshA, meshB, {}, 0}};
  for (auto& r : rows) {
    r.lat = bench::newConnectionLatency(r.from, r.to, 8080, n);
    r.mibs = bulk(r.from, r.to, mib);
    std::printf("%-10s %12.1f %12.1f %14.0f %10d\n", r.name, r.lat.p50, r.lat.p99, r.mibs, r.lat.failures);
  }
  double cpu = bench::cpuSeconds(tunnel) - cpu0;
  std::printf("\nagainst direct: outbound p50 %+.1f us (x%.2f), bulk %.0f%%; both p50 %+.1f us (x%.2f), bulk %.0f%%\n",
              rows[1].lat.p50 - rows[0].lat.p50, rows[1].lat.p50 / rows[0].lat.p50, 100 * rows[1].mibs / rows[0].mibs,
              rows[2].lat.p50 - rows[0].lat.p50, rows[2].lat.p50 / rows[0].lat.p50, 100 * rows[2].mibs / rows[0].mibs);
  std::printf("tunnel: %.2f CPU seconds for the captured runs, RSS %ld kB now, peak %ld kB\n", cpu,
              bench::rssKb(tunnel, "VmRSS:"), bench::rssKb(tunnel, "VmHWM:"));
  return 0;
}
