// HBONE overhead on two nodes, measured against a baseline in the same run (not a
// test). The cluster is the e2e harness's: two node namespaces joined by a veth
// underlay, pods made by the real CNI plugins, a real agent and tunnel per node.
//
//   direct  plain/pclient (node1) -> plain/pserver (node2)   no Warren in the path
//   relays  pclient -> socat in pclient -> socat in pserver -> pserver: the same two
//           user-space hops as the mesh (in each pod's netns, loopback to the apps),
//           with no TLS, no HTTP/2 and no capture: the floor any tunnel pays here
//   stunnel pclient -> stunnel in pclient -> stunnel in pserver -> pserver: a classic
//           mTLS tunnel (TLS 1.3, client certificates), two user-space hops, no
//           HTTP/2 and no capture (stunnel_path.h)
//   mesh    mesh/client   (node1) -> mesh/server   (node2)   captured, HBONE (mTLS + h2)
//
// For each path: iperf3 bulk throughput with 1 and 8 streams and the CPU seconds
// its tunnel processes (both ends) spent per GB moved, request/response latency of
// 64-byte messages on one established connection, and new connection + 64-byte
// echo latency (not for the relays: socat forks per connection). Then a
// connection-rate phase (conn_rate.h): new connections per second from several
// client threads, direct and mesh to mesh, with the mesh tunnels' CPU. For the
// mesh tunnels: TLS handshakes during the new-connection run (pooling makes it
// 0), RSS with 10 idle enrolled pods, and peak RSS. A held-connections phase
// (held_conns.h) opens --hold connections (default 10,000) from the ten enrolled
// pods of node1 to the server at once, an echo each, and reads both tunnels' RSS
// while they are open. Last, issue 15's aims judged
// from this run (perf_aims.h), as a table the README quotes.
//
// Usage (root): warren-hbone-bench [--seconds S] [--rtts N] [--connections N]
//               [--rate-seconds S] [--rate-threads N] [--audit] [--audit-compare N] [--idle-only]
//               [--churn N [--churn-background PODS]] [--verbose]
// --audit: both tunnels write the audit log (README "Audit evidence"); compare its
// new-connection numbers with a run without.
// --audit-compare N: only what the audit log costs the new-connection path, in
// this one run: N rounds of new connections and the connection rate, both tunnels
// restarted without and with --audit-dir before each (audit_compare.h).
// --idle-only: the same cluster and tunnel flags, stopped after the idle RSS
// reading, which it prints with where node1's tunnel has it (rss_breakdown.h).
// --churn N [--churn-background PODS]: only new-connection latency with the state
// quiet and while one object changes N times a second, at the bench's state and
// with PODS more on other nodes (default 10000; 0: skip) (state_churn.h).

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
#include "io/accept.h"
#include "tests/support/audit_key.h"
#include "tests/support/cluster.h"
#include "tools/bench/audit_compare.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/conn_rate.h"
#include "tools/bench/held_conns.h"
#include "tools/bench/perf_aims.h"
#include "tools/bench/rss_breakdown.h"
#include "tools/bench/state_churn.h"
#include "tools/bench/stunnel_path.h"

using namespace warren;
using namespace warren::e2e;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using warren::bench::Percentiles;
using warren::bench::percentiles;

namespace {

struct Options {
  int seconds = 5;              // per iperf3 run
  int rtts = 20000;             // request/response round trips on one connection
  int connections = 2000;       // new connections
  int rateSeconds = 3;          // the connection-rate phase, per path
  int rateThreads = 4;          // its concurrent clients
  int hold = 10000;             // connections held open at once for the RSS figure (0: no such phase)
  bool audit = false;           // both tunnels write the audit log (--audit-dir), to measure what it costs
  int auditCompare = 0;         // rounds of the audit off/on comparison (0: the whole benchmark instead)
  bool idleOnly = false;        // stop after the idle RSS reading (and print where it is)
  int churn = 0;                // changes per second of the churn phase (0: the whole benchmark instead)
  int churnBackground = 10000;  // pods in the churn phase's large state
  bool verbose = false;         // tunnels log at debug level; their logs' tails are printed at the end
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

struct Bulk {
  double gbit = 0;   // received, 0 on failure
  double bytes = 0;  // received
};

// iperf3 from `from` to the iperf3 server at ip:port.
Bulk iperf(const Pod& from, const std::string& ip, uint16_t port, int streams, int seconds) {
  std::string out;
  int rc = runCommand({"nsenter", "--net=" + from.netnsPath(), "iperf3", "-c", ip, "-p", std::to_string(port), "-t",
                       std::to_string(seconds), "-P", std::to_string(streams), "-J"},
                      &out);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (rc != 0 || j.is_discarded() || !j.contains("end")) {
    std::fprintf(stderr, "iperf3 %s -> %s:%u failed (%d): %s\n", from.name.c_str(), ip.c_str(), port, rc,
                 out.substr(0, 400).c_str());
    return {};
  }
  const auto& sum = j["end"]["sum_received"];
  return {sum["bits_per_second"].get<double>() / 1e9, sum["bytes"].get<double>()};
}

size_t countInLog(const TestNode& node, const std::string& text) {
  std::istringstream in(node.readLog("tunnel"));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos;
  return n;
}

// This program's path, to run it again as the held-connections server.
std::string selfPath() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : p.string();
}

// Where the client dials the relay floor for a server port (socat in its own pod).
constexpr uint16_t relayFrontPort(uint16_t serverPort) { return static_cast<uint16_t>(10000 + serverPort); }

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--verbose" || k == "--audit" || k == "--idle-only") {
      (k == "--audit" ? o.audit : k == "--idle-only" ? o.idleOnly : o.verbose) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) return false;
    int v = std::atoi(argv[i + 1]);
    if ((k == "--hold" || k == "--churn-background") && v == 0 && std::string(argv[i + 1]) == "0") {
      (k == "--hold" ? o.hold : o.churnBackground) = 0;
      continue;
    }
    if (v <= 0) return false;
    if (k == "--seconds")
      o.seconds = v;
    else if (k == "--rtts")
      o.rtts = v;
    else if (k == "--connections")
      o.connections = v;
    else if (k == "--rate-seconds")
      o.rateSeconds = v;
    else if (k == "--rate-threads")
      o.rateThreads = v;
    else if (k == "--audit-compare")
      o.auditCompare = v;
    else if (k == "--hold")
      o.hold = v;
    else if (k == "--churn")
      o.churn = v;
    else if (k == "--churn-background")
      o.churnBackground = v;
    else
      return false;
  }
  return true;
}

// --audit-compare: rounds of the mesh's new connections and connection rate with
// both tunnels restarted without, then with, the audit log (the order flipped
// every other round, so drift over the run falls on both alike).
int compareAudit(const Options& o, TestNode& n1, TestNode& n2, const Pod& client, const Pod& server, uint16_t ratePort,
                 const std::string& auditRoot) {
  auto restart = [&](bool audit) {
    for (TestNode* n : {&n1, &n2}) {
      std::vector<std::string> args;
      if (audit)
        args = {"--audit-dir", auditRoot + "/" + n->name(), "--audit-key", auditRoot + "/key.pem", "--audit-node",
                n->name()};
      if (auto st = n->restartTunnel(args); !st) return st;
    }
    return warren::okStatus();
  };
  auto measure = [&] {
    bench::AuditRound r;
    // The pooled HBONE connection of a fresh tunnel is made here, not in the sample.
    (void)bench::newConnectionLatency(client, server.ip, 8080, 20);
    const Percentiles p = bench::newConnectionLatency(client, server.ip, 8080, o.connections);
    r.connP50 = p.p50;
    r.connP99 = p.p99;
    const pid_t t1 = n1.tunnel()->pid(), t2 = n2.tunnel()->pid();
    const double c0 = bench::cpuSeconds(t1) + bench::cpuSeconds(t2);
    bench::RateResult rate =
        bench::connectionRate(client.netnsPath(), server.ip, ratePort, o.rateThreads, o.rateSeconds);
    const double cpu = bench::cpuSeconds(t1) + bench::cpuSeconds(t2) - c0;
    r.ratePerSecond = rate.perSecond();
    r.cpuPerConnUs = rate.connections ? cpu * 1e6 / static_cast<double>(rate.connections) : 0;
    return r;
  };
  // Every run leaves thousands of TIME_WAIT sockets for 60 s, and connect()'s
  // search for a free port among them (the client's, and the tunnel's transparent
  // connect to the app) slowed whichever configuration ran after a fast one:
  // runs swung 10x with audit on and off alike. Reusing them takes that out of
  // the comparison (both pods' netns only; tcp_tw_reuse=1 needs TCP timestamps,
  // which are on).
  for (const Pod* p : {&client, &server})
    if (warren::e2e::runCommand({"nsenter", "--net=" + p->netnsPath(), "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"}) !=
        0)
      std::fprintf(stderr, "(could not set tcp_tw_reuse in %s: the runs may drift)\n", p->name.c_str());
  std::printf(
      "Warren audit log cost, two nodes: %d rounds of %d new connections (connect + 64-byte echo + close, "
      "one at a time) and a %d s connection rate with %d clients, both tunnels restarted without and with "
      "--audit-dir before each (tcp_tw_reuse=1 in the client's and the server's netns)\n\n",
      o.auditCompare, o.connections, o.rateSeconds, o.rateThreads);
  std::vector<bench::AuditRound> off, on;
  for (int round = 0; round < o.auditCompare; ++round) {
    for (int k = 0; k < 2; ++k) {
      const bool audit = (k == 1) != (round % 2 == 1);
      if (auto st = restart(audit); !st) {
        std::fprintf(stderr, "cannot restart the tunnels: %s\n", st.error().message.c_str());
        return 1;
      }
      (audit ? on : off).push_back(measure());
    }
  }
  std::printf("%s", bench::auditCostTable(off, on, bench::auditCost(off, on)).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--serve-held")
    return bench::serveHeld(argv[2], static_cast<uint16_t>(std::atoi(argv[3])));
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: warren-hbone-bench [--seconds S] [--rtts N] [--connections N] [--rate-seconds S] "
                 "[--rate-threads N] [--hold N] [--audit] [--audit-compare N] [--idle-only] [--churn CHANGES_PER_S "
                 "[--churn-background PODS]] [--verbose]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "warren-hbone-bench: run as root (it builds two nodes of namespaces)\n");
    return 1;
  }
  // The held connections' client ends are in this process (their server ends in
  // another, --serve-held), and node1's tunnel holds one descriptor for each.
  const uint64_t fileLimit = warren::io::raiseFileLimit();
  if (o.hold > 0 && static_cast<uint64_t>(o.hold) + 2048 > fileLimit) {
    std::fprintf(stderr, "warren-hbone-bench: --hold %d needs a file limit above %d (it is %llu)\n", o.hold,
                 o.hold + 2048, static_cast<unsigned long long>(fileLimit));
    return 1;
  }
  std::vector<std::string> tunnelArgs;
  // The tunnels' own cap on captured outbound connections is a quarter of their file
  // limit by default: the held connections need room for all of them.
  if (o.hold > 0) tunnelArgs = {"--max-outbound", std::to_string(o.hold + 1024)};
  if (o.verbose) tunnelArgs.insert(tunnelArgs.end(), {"--log-level", "debug"});
  const std::string auditRoot = "/tmp/warren-hbone-bench-audit-" + std::to_string(::getpid());
  const bool auditKey = o.audit || o.auditCompare > 0;
  if (auditKey) {
    std::filesystem::create_directories(auditRoot);
    if (auto st = warren::test::writeAuditKey(auditRoot + "/key.pem"); !st) {
      std::fprintf(stderr, "audit key: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  if (o.audit)
    tunnelArgs.insert(tunnelArgs.end(), {"--audit-dir", auditRoot + "/{node}", "--audit-key", auditRoot + "/key.pem",
                                         "--audit-node", "{node}"});
  // The audit files go with the run.
  struct RemoveAudit {
    std::string dir;
    ~RemoveAudit() { std::filesystem::remove_all(dir); }
  } removeAudit{auditKey ? auditRoot : ""};
  TestCluster cluster(tunnelArgs);
  TestNode& n1 = cluster.node(0);
  TestNode& n2 = cluster.node(1);
  n1.writeNamespace("mesh", {{"warren.io/mode", "enabled"}});
  n1.writeNamespace("plain", {});
  if (auto st = cluster.start(); !st) {
    std::fprintf(stderr, "cannot start the cluster: %s\n", st.error().message.c_str());
    return 1;
  }
  // The same tunnel before any pod: what the ten pods add is the difference.
  const long startRss = bench::rssKb(n1.tunnel()->pid(), "VmRSS:");
  const long startAnon = bench::rssKb(n1.tunnel()->pid(), "RssAnon:");
  int rc = 0;
  Pod client = n1.addPod("mesh", "client", "10.244.1.11", {}, &rc);
  Pod pclient = n1.addPod("plain", "pclient", "10.244.1.12", {}, &rc);
  Pod server = n2.addPod("mesh", "server", "10.244.2.11", {}, &rc);
  Pod pserver = n2.addPod("plain", "pserver", "10.244.2.12", {}, &rc);
  // Nine more enrolled pods on node1, each its own service account: ten in all.
  std::vector<std::string> enrolledNetns = {client.netnsPath()};
  for (int i = 0; i < 9; ++i)
    enrolledNetns.push_back(
        n1.addPod("mesh", "idle" + std::to_string(i), "10.244.1." + std::to_string(20 + i), {}, &rc).netnsPath());
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
    } hops[] = {
        {pclient, "TCP-LISTEN:" + front + ",bind=127.0.0.1" + opts, "TCP:" + pserver.ip + ":" + back + ",nodelay"},
        {pserver, "TCP-LISTEN:" + back + ",bind=" + pserver.ip + opts,
         "TCP:127.0.0.1:" + std::to_string(port) + ",nodelay"}};
    for (const Hop& h : hops) {
      auto s = Process::spawnWatched(
          {"nsenter", "--net=" + h.pod.netnsPath(), "socat", "-d", "-d", "-b", "262144", h.listen, h.connect},
          n2.runDir() + "/socat-" + h.pod.name + "-" + std::to_string(port) + ".log", "listening on", 10s);
      if (!s) {
        std::fprintf(stderr, "cannot start socat: %s\n", s.error().message.c_str());
        return 1;
      }
      relays.push_back(std::move(*s));
    }
  }
  // The stunnel path, and the connection-rate phase's echo servers (port 8081).
  const std::string stunnelDir = "/tmp/warren-hbone-bench-stunnel-" + std::to_string(::getpid());
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { std::filesystem::remove_all(dir); }
  } removeStunnel{stunnelDir};
  auto stunnel = bench::startStunnelPath(stunnelDir, pclient, pserver, {8080, 5201});
  if (!stunnel) {
    std::fprintf(stderr, "cannot start stunnel: %s\n", stunnel.error().message.c_str());
    return 1;
  }
  constexpr uint16_t kRatePort = 8081;
  auto rateMesh = bench::RateEchoServer::start(server.netnsPath(), kRatePort, o.rateThreads);
  auto ratePlain = bench::RateEchoServer::start(pserver.netnsPath(), kRatePort, o.rateThreads);
  if (!rateMesh || !ratePlain) {
    std::fprintf(stderr, "cannot start the connection-rate echo servers\n");
    return 1;
  }
  constexpr uint16_t kHoldPort = 8082;
  std::unique_ptr<Process> holdServer;
  if (o.hold > 0) {
    auto s = Process::spawnWatched({selfPath(), "--serve-held", server.netnsPath(), std::to_string(kHoldPort)},
                                   n2.runDir() + "/held-server.log", "holding on", 10s);
    if (!s) {
      std::fprintf(stderr, "cannot start the held-connections server: %s\n", s.error().message.c_str());
      return 1;
    }
    holdServer = std::move(*s);
  }
  pid_t t1 = n1.tunnel()->pid(), t2 = n2.tunnel()->pid();
  // Ten enrolled pods on node1, each with a certificate: the idle footprint.
  if (!eventually([&] { return countInLog(n1, "enrolled: listening") >= 10; }, 20s)) {
    std::fprintf(stderr, "node1's tunnel did not enroll 10 pods:\n%s", n1.logTail("tunnel").c_str());
    return 1;
  }
  long idleRss = bench::rssKb(t1, "VmRSS:");
  const long idleAnon = bench::rssKb(t1, "RssAnon:");
  if (o.idleOnly) {
    const bench::RssBreakdown b = bench::rssBreakdown(bench::readSmaps(t1));
    const long threads = bench::rssKb(t1, "Threads:");  // a count, read as the kB fields are
    std::printf(
        "tunnel RSS: node1 with 10 enrolled pods idle %.1f MB (anonymous %.1f MB, %ld threads); before any "
        "pod %.1f MB (anonymous %.1f MB): %.0f KB per pod\n\n%s",
        idleRss / 1024.0, idleAnon / 1024.0, threads, startRss / 1024.0, startAnon / 1024.0,
        (idleRss - startRss) / 10.0, bench::rssTable(b, 16).c_str());
    return 0;
  }
  if (o.auditCompare > 0) return compareAudit(o, n1, n2, client, server, kRatePort, auditRoot);
  if (o.churn > 0)
    return bench::measureChurn(
        {.changesPerSecond = o.churn, .background = o.churnBackground, .connections = o.connections}, n1, n2, client,
        server, 8080);

  std::printf(
      "Warren HBONE benchmark, two nodes (veth underlay), iperf3 %d s per run, %d round trips, %d new "
      "connections, connection rate %d s with %d clients\n\n",
      o.seconds, o.rtts, o.connections, o.rateSeconds, o.rateThreads);
  std::vector<pid_t> relayPids;
  for (const auto& r : relays) relayPids.push_back(r->pid());
  struct Row {
    const char* name;
    const Pod& from;
    std::string ip;  // what the client dials
    uint16_t echoPort, iperfPort;
    bool newConnections;
    std::vector<pid_t> tunnels;  // the processes this path adds (their CPU is the path's)
    Bulk bulk1{}, bulk8{};
    Percentiles rtt{}, conn{};
    double cpuBulk1 = 0, cpuBulk8 = 0, cpuRtt = 0, cpuConn = 0;
    size_t handshakes = 0;
    double meshTunnelsCpu = 0;  // t1 + t2 during this path's runs
    double cpuPerGb(double cpu, const Bulk& b) const { return b.bytes > 0 ? cpu / (b.bytes / 1e9) : 0; }
  };
  std::vector<Row> rows;
  rows.push_back({"direct", pclient, pserver.ip, 8080, 5201, true, {}});
  rows.push_back({"relays", pclient, "127.0.0.1", relayFrontPort(8080), relayFrontPort(5201), false, relayPids});
  rows.push_back({"stunnel",
                  pclient,
                  "127.0.0.1",
                  bench::stunnelFrontPort(8080),
                  bench::stunnelFrontPort(5201),
                  true,
                  {stunnel->client->pid(), stunnel->server->pid()}});
  rows.push_back({"mesh", client, server.ip, 8080, 5201, true, {t1, t2}});
  for (auto& r : rows) {
    // socat's per-connection children are counted once reaped, at the end of each run.
    auto cpu = [&r] {
      double c = 0;
      for (pid_t p : r.tunnels) c += bench::cpuSeconds(p, /*withChildren=*/true);
      return c;
    };
    const double m0 = bench::cpuSeconds(t1) + bench::cpuSeconds(t2);
    double c0 = cpu();
    r.bulk1 = iperf(r.from, r.ip, r.iperfPort, 1, o.seconds);
    double c1 = cpu();
    r.bulk8 = iperf(r.from, r.ip, r.iperfPort, 8, o.seconds);
    double c2 = cpu();
    r.rtt = roundTrips(r.from, r.ip, r.echoPort, o.rtts);
    double c3 = cpu();
    size_t hs0 = countInLog(n1, "hbone conn");
    if (r.newConnections) r.conn = bench::newConnectionLatency(r.from, r.ip, r.echoPort, o.connections);
    r.handshakes = countInLog(n1, "hbone conn") - hs0;
    double c4 = cpu();
    r.cpuBulk1 = c1 - c0;
    r.cpuBulk8 = c2 - c1;
    r.cpuRtt = c3 - c2;
    r.cpuConn = c4 - c3;
    r.meshTunnelsCpu = bench::cpuSeconds(t1) + bench::cpuSeconds(t2) - m0;
  }
  // The connection rate: direct for the baseline, then mesh to mesh with each tunnel's CPU.
  bench::RateResult rateDirect =
      bench::connectionRate(pclient.netnsPath(), pserver.ip, kRatePort, o.rateThreads, o.rateSeconds);
  const double r1 = bench::cpuSeconds(t1), r2 = bench::cpuSeconds(t2);
  bench::RateResult rateMeshResult =
      bench::connectionRate(client.netnsPath(), server.ip, kRatePort, o.rateThreads, o.rateSeconds);
  const double rateCpu1 = bench::cpuSeconds(t1) - r1, rateCpu2 = bench::cpuSeconds(t2) - r2;

  // Held connections: opened from the ten enrolled pods at once (each pod's share
  // stays under the agent's per-pod quota), RSS read once the server holds them all.
  struct Held {
    size_t open = 0;
    uint64_t failures = 0;
    double seconds = 0, rss1Mb = 0, rss2Mb = 0;
    double anon1Mb = 0, anon2Mb = 0;  // of which anonymous memory (heap, stacks): not the mapped libraries
  } held;
  const double idleAnon1Mb = bench::rssKb(t1, "RssAnon:") / 1024.0;
  if (o.hold > 0) {
    const size_t perSource = (static_cast<size_t>(o.hold) + enrolledNetns.size() - 1) / enrolledNetns.size();
    bench::HeldConnections conns = bench::holdConnections(enrolledNetns, server.ip, kHoldPort, perSource);
    held.open = conns.fds.size();
    held.failures = conns.failures;
    held.seconds = conns.seconds;
    // Each one open: its echo came back through both tunnels.
    held.rss1Mb = bench::rssKb(t1, "VmRSS:") / 1024.0;
    held.rss2Mb = bench::rssKb(t2, "VmRSS:") / 1024.0;
    held.anon1Mb = bench::rssKb(t1, "RssAnon:") / 1024.0;
    held.anon2Mb = bench::rssKb(t2, "RssAnon:") / 1024.0;
  }

  std::printf("%-8s %9s %9s %8s %8s %9s %9s %10s %10s %9s %7s\n", "path", "1 stream", "8 streams", "CPU/GB", "CPU/GB",
              "rtt p50", "rtt p99", "conn p50", "conn p99", "failures", "TLS hs");
  std::printf("%-8s %9s %9s %8s %8s %9s %9s %10s %10s %9s %7s\n", "", "(Gbit/s)", "(Gbit/s)", "1 str", "8 str", "(us)",
              "(us)", "(us)", "(us)", "", "");
  for (const auto& r : rows) {
    std::printf("%-8s %9.2f %9.2f ", r.name, r.bulk1.gbit, r.bulk8.gbit);
    if (r.tunnels.empty())
      std::printf("%8s %8s ", "-", "-");
    else
      std::printf("%8.2f %8.2f ", r.cpuPerGb(r.cpuBulk1, r.bulk1), r.cpuPerGb(r.cpuBulk8, r.bulk8));
    std::printf("%9.1f %9.1f ", r.rtt.p50, r.rtt.p99);
    if (r.newConnections)
      std::printf("%10.1f %10.1f %9d ", r.conn.p50, r.conn.p99, r.rtt.failures + r.conn.failures);
    else
      std::printf("%10s %10s %9d ", "-", "-", r.rtt.failures);
    if (std::string(r.name) == "mesh")
      std::printf("%7zu\n", r.handshakes);
    else
      std::printf("%7s\n", "-");
  }
  std::printf("(CPU/GB: CPU seconds the path's tunnel processes spent, both ends, per GB iperf3 received)\n");
  const Row& d = rows[0];
  const Row& f = rows[1];
  const Row& st = rows[2];
  const Row& m = rows[3];
  auto pct = [](double a, double b) { return b > 0 ? 100 * a / b : 0; };
  std::printf("\nagainst direct:        relays stunnel    mesh\n");
  std::printf("  bulk, 1 stream      %5.0f%%  %5.0f%%  %5.0f%%\n", pct(f.bulk1.gbit, d.bulk1.gbit),
              pct(st.bulk1.gbit, d.bulk1.gbit), pct(m.bulk1.gbit, d.bulk1.gbit));
  std::printf("  bulk, 8 streams     %5.0f%%  %5.0f%%  %5.0f%%\n", pct(f.bulk8.gbit, d.bulk8.gbit),
              pct(st.bulk8.gbit, d.bulk8.gbit), pct(m.bulk8.gbit, d.bulk8.gbit));
  std::printf("  round trip p50     %+6.1f  %+6.1f  %+6.1f us\n", f.rtt.p50 - d.rtt.p50, st.rtt.p50 - d.rtt.p50,
              m.rtt.p50 - d.rtt.p50);
  std::printf("  round trip p99     %+6.1f  %+6.1f  %+6.1f us\n", f.rtt.p99 - d.rtt.p99, st.rtt.p99 - d.rtt.p99,
              m.rtt.p99 - d.rtt.p99);
  std::printf(
      "  new conn p50            -  %+6.1f  %+6.1f us (stunnel: a TLS handshake each; mesh: %zu handshakes, "
      "pooled)\n",
      st.conn.p50 - d.conn.p50, m.conn.p50 - d.conn.p50, m.handshakes);
  std::printf(
      "mesh against the relays (what HBONE itself costs): bulk 1 stream %.0f%%, 8 streams %.0f%%, "
      "round trip p50 %+.1f us\n",
      pct(m.bulk1.gbit, f.bulk1.gbit), pct(m.bulk8.gbit, f.bulk8.gbit), m.rtt.p50 - f.rtt.p50);
  const double busier = std::max(rateCpu1, rateCpu2);
  const double perCpuSecond = busier > 0 ? static_cast<double>(rateMeshResult.connections) / busier : 0;
  std::printf(
      "\nconnection rate (%d clients, connect + 64-byte echo + close): direct %.0f/s (%llu failures), mesh "
      "%.0f/s (%llu failures)\n",
      o.rateThreads, rateDirect.perSecond(), static_cast<unsigned long long>(rateDirect.failures),
      rateMeshResult.perSecond(), static_cast<unsigned long long>(rateMeshResult.failures));
  std::printf(
      "  mesh tunnels' CPU: node1 %.2f s, node2 %.2f s over %.1f s: %.0f connections per CPU-second of the "
      "busier tunnel\n",
      rateCpu1, rateCpu2, rateMeshResult.seconds, perCpuSecond);
  std::printf(
      "\nmesh tunnels (both nodes), CPU seconds: bulk 1 stream %.2f, 8 streams %.2f, round trips %.2f, new "
      "connections %.2f\n",
      m.cpuBulk1, m.cpuBulk8, m.cpuRtt, m.cpuConn);
  std::printf("tunnel RSS: node1 with 10 enrolled pods idle %.1f MB; peak node1 %.1f MB, node2 %.1f MB\n",
              idleRss / 1024.0, bench::rssKb(t1, "VmHWM:") / 1024.0, bench::rssKb(t2, "VmHWM:") / 1024.0);
  if (o.hold > 0)
    std::printf(
        "held connections: %zu open at once from 10 pods (%llu failed) in %.1f s; tunnel RSS while held: "
        "node1 %.1f MB (anonymous %.1f, idle %.1f), node2 %.1f MB (anonymous %.1f): %.1f KB per connection "
        "over node1's idle\n",
        held.open, static_cast<unsigned long long>(held.failures), held.seconds, held.rss1Mb, held.anon1Mb, idleAnon1Mb,
        held.rss2Mb, held.anon2Mb,
        held.open ? (held.rss1Mb - idleRss / 1024.0) * 1024.0 / static_cast<double>(held.open) : 0.0);
  // The mesh tunnels should idle while the other paths run, or those paths shared the CPU with them.
  for (const Row* r : {&d, &f, &st})
    if (r->meshTunnelsCpu > 0.05)
      std::printf("(%s runs cost the mesh tunnels %.2f CPU s: they were not idle)\n", r->name, r->meshTunnelsCpu);

  auto figures = [](const Row& r) {
    return bench::PathFigures{.gbit1 = r.bulk1.gbit,
                              .gbit8 = r.bulk8.gbit,
                              .cpuPerGb1 = r.cpuPerGb(r.cpuBulk1, r.bulk1),
                              .rttP50 = r.rtt.p50,
                              .connP50 = r.conn.p50};
  };
  bench::AimInputs aims{.direct = figures(d),
                        .stunnel = figures(st),
                        .mesh = figures(m),
                        .meshConnPerCpuSecond = perCpuSecond,
                        .idleRssMb = idleRss / 1024.0,
                        .idleAnonMb = idleAnon / 1024.0,
                        .heldConnections = held.open,
                        .heldRssMb = std::max(held.rss1Mb, held.rss2Mb)};
  std::printf("\nissue 15's aims, from this run:\n\n%s", bench::aimsTable(bench::judgeAims(aims)).c_str());
  if (o.verbose)
    for (TestNode* n : {&n1, &n2}) {
      // Everything but the echo connections' access lines (there are thousands).
      std::printf("\n---- %s tunnel log ----\n", n->name().c_str());
      std::istringstream in(n->readLog("tunnel"));
      for (std::string line; std::getline(in, line);)
        if (line.find(" access ") == std::string::npos || line.find(":8080") == std::string::npos)
          std::printf("%s\n", line.c_str());
    }
  return 0;
}
