// HBONE overhead on two nodes, measured against a baseline in the same run (not a
// test). The cluster is the e2e harness's: two node namespaces joined by a veth
// underlay, pods made by the real CNI plugins, a real agent and tunnel per node.
//
//   direct  plain/pclient (node1) -> plain/pserver (node2)   no Warren in the path
//   relays  pclient -> socat in pclient -> socat in pserver -> pserver: the same two
//           user-space hops as the mesh (in each pod's netns, loopback to the apps),
//           with no TLS, no HTTP/2 and no capture: the floor any tunnel pays here
//   mesh    mesh/client   (node1) -> mesh/server   (node2)   captured, HBONE (mTLS + h2)
//
// For each path: iperf3 bulk throughput with 1 and 8 streams, request/response
// latency of 64-byte messages on one established connection, and new connection +
// 64-byte echo latency (not for the relays: socat forks per connection). For the tunnels: TLS handshakes during the new-connection
// run (pooling makes it 0), CPU seconds per phase, RSS with 10 idle enrolled pods,
// and peak RSS.
//
// Usage (root): warren-hbone-bench [--seconds S] [--rtts N] [--connections N] [--audit] [--verbose]
// --audit: both tunnels write the audit log (README "Audit evidence"); compare its
// new-connection numbers with a run without.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/netns.h"
#include "tests/support/cluster.h"
#include "tests/support/audit_key.h"
#include "tools/bench/bench_util.h"

using namespace warren;
using namespace warren::e2e;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using warren::bench::Percentiles;
using warren::bench::percentiles;

namespace {

struct Options {
  int seconds = 5;        // per iperf3 run
  int rtts = 20000;       // request/response round trips on one connection
  int connections = 2000; // new connections
  bool audit = false;     // both tunnels write the audit log (--audit-dir), to measure what it costs
  bool verbose = false;   // tunnels log at debug level; their logs' tails are printed at the end
};

// One connection from inside `from` to ip:port, then n round trips of a 64-byte message.
Percentiles roundTrips(const Pod& from, const std::string& ip, uint16_t port, int n) {
  auto ns = openNetns(from.netnsPath());
  if (!ns) return {.failures = n};
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) return {.failures = n};
  int one = 1;
  ::setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return {.failures = n};
  const std::string msg(64, 'r');
  char buf[64];
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  int failures = 0;
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    if (::write(fd->get(), msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
      failures = n - i;
      break;
    }
    size_t got = 0;
    while (got < sizeof(buf)) {
      ssize_t r = ::read(fd->get(), buf + got, sizeof(buf) - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    if (got != sizeof(buf)) {
      failures = n - i;
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return percentiles(std::move(us), failures);
}

// iperf3 from `from` to the iperf3 server at ip:port: received Gbit/s, 0 on failure.
double iperf(const Pod& from, const std::string& ip, uint16_t port, int streams, int seconds) {
  std::string out;
  int rc = runCommand({"nsenter", "--net=" + from.netnsPath(), "iperf3", "-c", ip, "-p", std::to_string(port), "-t",
                       std::to_string(seconds), "-P", std::to_string(streams), "-J"},
                      &out);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (rc != 0 || j.is_discarded() || !j.contains("end")) {
    std::fprintf(stderr, "iperf3 %s -> %s:%u failed (%d): %s\n", from.name.c_str(), ip.c_str(), port, rc,
                 out.substr(0, 400).c_str());
    return 0;
  }
  return j["end"]["sum_received"]["bits_per_second"].get<double>() / 1e9;
}

size_t countInLog(const TestNode& node, const std::string& text) {
  std::istringstream in(node.readLog("tunnel"));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos;
  return n;
}

// Where the client dials the relay floor for a server port (socat in its own pod).
constexpr uint16_t relayFrontPort(uint16_t serverPort) { return static_cast<uint16_t>(10000 + serverPort); }

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--verbose" || k == "--audit") {
      (k == "--audit" ? o.audit : o.verbose) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) return false;
    int v = std::atoi(argv[i + 1]);
    if (v <= 0) return false;
    if (k == "--seconds") o.seconds = v;
    else if (k == "--rtts") o.rtts = v;
    else if (k == "--connections") o.connections = v;
    else return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: warren-hbone-bench [--seconds S] [--rtts N] [--connections N] [--audit] [--verbose]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "warren-hbone-bench: run as root (it builds two nodes of namespaces)\n");
    return 1;
  }
  std::vector<std::string> tunnelArgs;
  if (o.verbose) tunnelArgs = {"--log-level", "debug"};
  const std::string auditRoot = "/tmp/warren-hbone-bench-audit-" + std::to_string(::getpid());
  if (o.audit) {
    std::filesystem::create_directories(auditRoot);
    if (auto st = warren::test::writeAuditKey(auditRoot + "/key.pem"); !st) {
      std::fprintf(stderr, "audit key: %s\n", st.error().message.c_str());
      return 1;
    }
    tunnelArgs.insert(tunnelArgs.end(), {"--audit-dir", auditRoot + "/{node}", "--audit-key", auditRoot + "/key.pem",
                                         "--audit-node", "{node}"});
  }
  // The audit files go with the run.
  struct RemoveAudit {
    std::string dir;
    ~RemoveAudit() { std::filesystem::remove_all(dir); }
  } removeAudit{o.audit ? auditRoot : ""};
  TestCluster cluster(tunnelArgs);
  TestNode& n1 = cluster.node(0);
  TestNode& n2 = cluster.node(1);
  n1.writeNamespace("mesh", {{"warren.io/mode", "enabled"}});
  n1.writeNamespace("plain", {});
  if (auto st = cluster.start(); !st) {
    std::fprintf(stderr, "cannot start the cluster: %s\n", st.error().message.c_str());
    return 1;
  }
  int rc = 0;
  Pod client = n1.addPod("mesh", "client", "10.244.1.11", {}, &rc);
  Pod pclient = n1.addPod("plain", "pclient", "10.244.1.12", {}, &rc);
  Pod server = n2.addPod("mesh", "server", "10.244.2.11", {}, &rc);
  Pod pserver = n2.addPod("plain", "pserver", "10.244.2.12", {}, &rc);
  // Nine more enrolled pods on node1, each its own service account: ten in all.
  for (int i = 0; i < 9; ++i)
    n1.addPod("mesh", "idle" + std::to_string(i), "10.244.1." + std::to_string(20 + i), {}, &rc);
  if (rc != 0) {
    std::fprintf(stderr, "cannot make the pods:\n%s", n1.logTail("agent").c_str());
    return 1;
  }
  auto echoMesh = PodServer::start(server.netnsPath(), 8080);
  auto echoPlain = PodServer::start(pserver.netnsPath(), 8080);
  std::vector<std::unique_ptr<Process>> iperfServers;
  for (const Pod* p : {&server, &pserver}) {
    auto s = Process::spawnWatched({"nsenter", "--net=" + p->netnsPath(), "iperf3", "-s", "-p", "5201", "--forceflush"},
                                   n2.runDir() + "/iperf3-" + p->name + ".log", "Server listening", 10s);
    if (!s) {
      std::fprintf(stderr, "cannot start iperf3: %s\n", s.error().message.c_str());
      return 1;
    }
    iperfServers.push_back(std::move(*s));
  }
  // The relay floor: socat in each pod's netns, listening on loopback in pclient
  // (what the client dials) and on pserver's IP (what the first relay dials).
  std::vector<std::unique_ptr<Process>> relays;
  for (uint16_t port : {uint16_t{8080}, uint16_t{5201}}) {
    std::string front = std::to_string(relayFrontPort(port)), back = std::to_string(20000 + port);
    const std::string opts = ",fork,reuseaddr,nodelay";
    struct Hop {
      const Pod& pod;
      std::string listen, connect;
    } hops[] = {{pclient, "TCP-LISTEN:" + front + ",bind=127.0.0.1" + opts, "TCP:" + pserver.ip + ":" + back + ",nodelay"},
                {pserver, "TCP-LISTEN:" + back + ",bind=" + pserver.ip + opts, "TCP:127.0.0.1:" + std::to_string(port) + ",nodelay"}};
    for (const Hop& h : hops) {
      auto s = Process::spawnWatched({"nsenter", "--net=" + h.pod.netnsPath(), "socat", "-d", "-d", "-b", "262144",
                                      h.listen, h.connect},
                                     n2.runDir() + "/socat-" + h.pod.name + "-" + std::to_string(port) + ".log",
                                     "listening on", 10s);
      if (!s) {
        std::fprintf(stderr, "cannot start socat: %s\n", s.error().message.c_str());
        return 1;
      }
      relays.push_back(std::move(*s));
    }
  }
  pid_t t1 = n1.tunnel()->pid(), t2 = n2.tunnel()->pid();
  // Ten enrolled pods on node1, each with a certificate: the idle footprint.
  if (!eventually([&] { return countInLog(n1, "enrolled: listening") >= 10; }, 20s)) {
    std::fprintf(stderr, "node1's tunnel did not enroll 10 pods:\n%s", n1.logTail("tunnel").c_str());
    return 1;
  }
  long idleRss = bench::rssKb(t1, "VmRSS:");

  std::printf("Warren HBONE benchmark, two nodes (veth underlay), iperf3 %d s per run, %d round trips, %d new "
              "connections\n\n",
              o.seconds, o.rtts, o.connections);
  struct Row {
    const char* name;
    const Pod& from;
    const Pod& to;
    std::string ip;  // what the client dials
    uint16_t echoPort, iperfPort;
    bool newConnections;
    double gbit1 = 0, gbit8 = 0;
    Percentiles rtt, conn;
    double cpuBulk = 0, cpuRtt = 0, cpuConn = 0;
    size_t handshakes = 0;
  } rows[] = {{"direct", pclient, pserver, pserver.ip, 8080, 5201, true, 0, 0, {}, {}, 0, 0, 0, 0},
              {"relays", pclient, pserver, "127.0.0.1", relayFrontPort(8080), relayFrontPort(5201), false, 0, 0, {}, {}, 0,
               0, 0, 0},
              {"mesh", client, server, server.ip, 8080, 5201, true, 0, 0, {}, {}, 0, 0, 0, 0}};
  auto tunnelCpu = [&] { return bench::cpuSeconds(t1) + bench::cpuSeconds(t2); };
  for (auto& r : rows) {
    double c0 = tunnelCpu();
    r.gbit1 = iperf(r.from, r.ip, r.iperfPort, 1, o.seconds);
    r.gbit8 = iperf(r.from, r.ip, r.iperfPort, 8, o.seconds);
    double c1 = tunnelCpu();
    r.rtt = roundTrips(r.from, r.ip, r.echoPort, o.rtts);
    double c2 = tunnelCpu();
    size_t hs0 = countInLog(n1, "hbone conn");
    if (r.newConnections) r.conn = bench::newConnectionLatency(r.from, r.to, 8080, o.connections);
    r.handshakes = countInLog(n1, "hbone conn") - hs0;
    double c3 = tunnelCpu();
    r.cpuBulk = c1 - c0;
    r.cpuRtt = c2 - c1;
    r.cpuConn = c3 - c2;
  }

  std::printf("%-7s %10s %10s %11s %11s %12s %12s %9s %10s\n", "path", "1 stream", "8 streams", "rtt p50",
              "rtt p99", "conn p50", "conn p99", "failures", "TLS hs");
  std::printf("%-7s %10s %10s %11s %11s %12s %12s %9s %10s\n", "", "(Gbit/s)", "(Gbit/s)", "(us)", "(us)", "(us)",
              "(us)", "", "");
  for (const auto& r : rows) {
    std::printf("%-7s %10.2f %10.2f %11.1f %11.1f ", r.name, r.gbit1, r.gbit8, r.rtt.p50, r.rtt.p99);
    if (r.newConnections)
      std::printf("%12.1f %12.1f %9d %10zu\n", r.conn.p50, r.conn.p99, r.rtt.failures + r.conn.failures,
                  r.handshakes);
    else
      std::printf("%12s %12s %9d %10s\n", "-", "-", r.rtt.failures, "-");
  }
  const Row& d = rows[0];
  const Row& f = rows[1];
  const Row& m = rows[2];
  auto pct = [](double a, double b) { return b > 0 ? 100 * a / b : 0; };
  std::printf("\nagainst direct:        relays    mesh\n");
  std::printf("  bulk, 1 stream      %5.0f%%  %5.0f%%   (aim for the mesh >= 50%%)\n", pct(f.gbit1, d.gbit1),
              pct(m.gbit1, d.gbit1));
  std::printf("  bulk, 8 streams     %5.0f%%  %5.0f%%\n", pct(f.gbit8, d.gbit8), pct(m.gbit8, d.gbit8));
  std::printf("  round trip p50     %+6.1f  %+6.1f us   (aim for the mesh <= +30 us)\n", f.rtt.p50 - d.rtt.p50,
              m.rtt.p50 - d.rtt.p50);
  std::printf("  round trip p99     %+6.1f  %+6.1f us\n", f.rtt.p99 - d.rtt.p99, m.rtt.p99 - d.rtt.p99);
  std::printf("mesh against the relays (what HBONE itself costs): bulk 1 stream %.0f%%, 8 streams %.0f%%, "
              "round trip p50 %+.1f us\n",
              pct(m.gbit1, f.gbit1), pct(m.gbit8, f.gbit8), m.rtt.p50 - f.rtt.p50);
  std::printf("new connection p50, mesh against direct: %+.1f us, with %zu TLS handshakes for %d connections "
              "(pooled)\n",
              m.conn.p50 - d.conn.p50, m.handshakes, o.connections);
  std::printf("\ntunnels (both nodes), CPU seconds: bulk %.2f, round trips %.2f, new connections %.2f\n", m.cpuBulk,
              m.cpuRtt, m.cpuConn);
  std::printf("tunnel RSS: node1 with 10 enrolled pods idle %.1f MB (aim <= 20 MB); peak node1 %.1f MB, node2 %.1f MB\n",
              idleRss / 1024.0, bench::rssKb(t1, "VmHWM:") / 1024.0, bench::rssKb(t2, "VmHWM:") / 1024.0);
  for (const Row* r : {&d, &f})
    if (r->cpuBulk + r->cpuRtt + r->cpuConn > 0.05)
      std::printf("(%s runs cost the tunnels %.2f CPU s: they were not idle)\n", r->name,
                  r->cpuBulk + r->cpuRtt + r->cpuConn);
  if (o.verbose)
    for (TestNode* n : {&n1, &n2})
    {
      // Everything but the echo connections' access lines (there are thousands).
      std::printf("\n---- %s tunnel log ----\n", n->name().c_str());
      std::istringstream in(n->readLog("tunnel"));
      for (std::string line; std::getline(in, line);)
        if (line.find(" access ") == std::string::npos || line.find(":8080") == std::string::npos)
          std::printf("%s\n", line.c_str());
    }
  return 0;
}
