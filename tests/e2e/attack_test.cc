// The attack suite (issue 14, "tooling to keep it closed"): real attacks on a real
// warren-tunnel, from clients no one here wrote (Node's TLS with hand-written
// HTTP/2 frames, tests/e2e/attack/attacker.mjs).
//
//   node2: attacker 10.244.2.40 (namespace not captured: an arbitrary source;
//          carries a mesh certificate from the cluster's CA where the attack needs mTLS)
//            │ underlay
//   node1: target 10.244.1.30:8080 (mesh, echo) ◀── the attacks, on its 15008
//          victim client 10.244.1.31 ──mesh──▶ victim server 10.244.1.32:8080 (echo)
//          (both through node1's tunnel, the process under attack)
//
// Each test alternates the attack on and off several times in one run and takes
// small echo round trips between the victim pods all along, so that unattacked
// and attacked samples share the machine's conditions (two cores shared with other
// work). It asserts: (1) the tunnel stays up (same pid, /healthz/ready 200 on
// 15021); (2) its RSS, sampled throughout, stays under the bound stated per attack
// (README "Reliability": the measured peak and the bound's headroom); (3) the
// victim's median round trip under attack is within 2x of its unattacked median.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/netns.h"
#include "tests/support/cluster.h"
#include "tests/support/test_certs.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::map<std::string, std::string> kEnabled = {{"warren.io/mode", "enabled"}};
constexpr const char* kTargetIp = "10.244.1.30";
constexpr const char* kAttackerIp = "10.244.2.40";
constexpr int kCycles = 3;  // attack on / off, alternating
constexpr auto kPhase = 1000ms;

std::string script() { return std::string(WARREN_SOURCE_DIR) + "/tests/e2e/attack/attacker.mjs"; }

// VmRSS of a process in KiB (0 once it is gone).
size_t rssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}

// Samples a process's RSS every 20 ms until destroyed; keeps the peak.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid)
      : thread_([this, pid] {
          while (!stop_) {
            peak_ = std::max<size_t>(peak_, rssKib(pid));
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  size_t peakKib() const { return peak_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<size_t> peak_{0};
  std::thread thread_;
};

// One long-lived connection from the victim client pod to its server through the
// mesh; each sample is a 64-byte echo round trip, in microseconds.
class RttProbe {
 public:
  bool open(const std::string& netnsPath, const std::string& ip, uint16_t port) {
    auto ns = openNetns(netnsPath);
    if (!ns) return false;
    auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
    if (!fd) return false;
    fd_ = std::move(*fd);
    int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{5, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    return ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  // Round trips for `window`, one every 2 ms; a lost round trip counts as 5 s.
  void sample(std::chrono::milliseconds window, std::vector<double>& out) {
    const auto end = Clock::now() + window;
    char buf[64] = {};
    while (Clock::now() < end) {
      const auto t0 = Clock::now();
      bool ok = ::write(fd_.get(), buf, sizeof(buf)) == sizeof(buf);
      size_t got = 0;
      while (ok && got < sizeof(buf)) {
        ssize_t n = ::read(fd_.get(), buf + got, sizeof(buf) - got);
        if (n <= 0)
          ok = false;
        else
          got += n;
      }
      out.push_back(ok ? std::chrono::duration<double, std::micro>(Clock::now() - t0).count() : 5e6);
      if (!ok) return;
      std::this_thread::sleep_for(2ms);
    }
  }

 private:
  UniqueFd fd_;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct Attack {
  std::string mode;
  bool mesh = true;                // needs the attacker's mesh certificate (mTLS)
  size_t rssBoundMib = 0;          // the stated bound on the tunnel's RSS
  std::vector<std::string> extra;  // more attacker flags
};

struct Outcome {
  double baseUs = 0, attackedUs = 0;
  size_t peakRssMib = 0;
  std::vector<nlohmann::json> on, off;  // the attacker's reports per cycle
  // The last cycle's reports; empty objects when no cycle completed (the
  // attacker failed), so a test's checks fail instead of reading past the end.
  nlohmann::json lastOn() const { return on.empty() ? nlohmann::json::object() : on.back(); }
  nlohmann::json lastOff() const { return off.empty() ? nlohmann::json::object() : off.back(); }
};

class AttackTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> tunnelArgs = {}) {
    cluster_ = std::make_unique<TestCluster>(std::move(tunnelArgs));
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("mesh", kEnabled);
    node(0).writeNamespace("attack", {});
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    target_ = node(0).addPod("mesh", "target", kTargetIp);
    client_ = node(0).addPod("mesh", "victim-client", "10.244.1.31");
    server_ = node(0).addPod("mesh", "victim-server", "10.244.1.32");
    attacker_ = node(1).addPod("attack", "attacker", kAttackerIp);
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(eventually([&] { return node(0).tunnelStateIs({.workloads = 4, .captured = 3}); }, 10s))
        << node(0).logTail("tunnel");
    targetApp_ = PodServer::start(target_.netnsPath(), 8080);
    victimApp_ = PodServer::start(server_.netnsPath(), 8080);
    ASSERT_TRUE(targetApp_ && victimApp_);
    auto cert = testcerts::issueWorkloadCert(cluster_->caDir(), {"cluster.local", "attack", "sa-attacker"},
                                             node(1).runDir(), "attacker");
    ASSERT_TRUE(cert) << cert.error().message;
    cert_ = *cert;
    ASSERT_TRUE(probe_.open(client_.netnsPath(), server_.ip, 8080));
    std::vector<double> warm;
    probe_.sample(300ms, warm);  // the pooled HBONE connection is up, caches warm
  }

  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->logTails(60);
    attacker_proc_.reset();
    probe_ = RttProbe();
    // The tunnel first: its connections to the apps end with it, and an echo app's
    // threads are joined only once their connections have ended.
    cluster_.reset();
    targetApp_.reset();
    victimApp_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }

  // Sends the attacker one command and waits for its answer (a JSON line).
  nlohmann::json command(const std::string& cmd, const std::string& event, std::chrono::seconds timeout = 20s) {
    const size_t from = attacker_proc_->output().size();
    std::string line = cmd + "\n";
    EXPECT_EQ(::write(control_.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
    const std::string want = "{\"event\":\"" + event + "\"";
    if (!attacker_proc_->waitForOutput(want, timeout, from)) {
      ADD_FAILURE() << "attacker did not answer " << cmd << ":\n" << attacker_proc_->output();
      return {};
    }
    std::string out = attacker_proc_->output();
    size_t at = out.find(want, from);
    return nlohmann::json::parse(out.substr(at, out.find('\n', at) - at), nullptr, false);
  }

  Outcome run(const Attack& a) {
    Outcome o;
    attacker_proc_.reset();  // the previous run's, which quit
    control_.reset();
    const std::string dir = node(1).runDir();
    const std::string fifo = dir + "/attack-control";
    ::unlink(fifo.c_str());
    EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // The attacker holds more sockets than a default soft limit (1024) allows: its
    // soft limit is raised to the hard one.
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    const std::string nofile = std::to_string(files.rlim_max);
    std::vector<std::string> argv = {"prlimit",
                                     "--nofile=" + nofile + ":" + nofile,
                                     "nsenter",
                                     "--net=" + attacker_.netnsPath(),
                                     "node",
                                     script(),
                                     a.mode,
                                     "--host",
                                     kTargetIp,
                                     "--port",
                                     "15008",
                                     "--authority",
                                     std::string(kTargetIp) + ":8080",
                                     "--control",
                                     fifo};
    if (a.mesh) argv.insert(argv.end(), {"--ca", cert_.root, "--cert", cert_.chain, "--key", cert_.key});
    argv.insert(argv.end(), a.extra.begin(), a.extra.end());
    auto p = Process::spawnWatched(argv, dir + "/attacker.log", "", 0ms);
    EXPECT_TRUE(p.ok()) << p.error().message;
    if (!p) return o;
    attacker_proc_ = std::move(*p);
    // Opened once Node reads it (ENXIO until then); never waits on an attacker that died.
    const auto deadline = Clock::now() + 10s;
    while (!control_ && attacker_proc_->running() && Clock::now() < deadline) {
      control_ = UniqueFd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
      if (!control_) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(control_) << "attacker never opened its control FIFO:\n" << attacker_proc_->output();
    if (!control_) return o;
    EXPECT_TRUE(attacker_proc_->waitForOutput("{\"event\":\"started\"}", 10s)) << attacker_proc_->output();

    Process* tunnel = node(0).tunnel();
    const pid_t pid = tunnel->pid();
    std::vector<double> base, attacked;
    {
      RssSampler rss(pid);
      probe_.sample(kPhase, base);
      // A cycle whose command went unanswered ends the attack (command() has
      // said why); an earlier run's failure in the same test does not.
      for (int i = 0; i < kCycles; ++i) {
        auto on = command("on", "on");
        if (on.is_null() || on.is_discarded()) break;
        o.on.push_back(std::move(on));
        probe_.sample(kPhase, attacked);
        auto off = command("off", "off");
        if (off.is_null() || off.is_discarded()) break;
        o.off.push_back(std::move(off));
        probe_.sample(kPhase, base);
      }
      o.peakRssMib = rss.peakKib() / 1024;
    }
    (void)!::write(control_.get(), "quit\n", 5);  // it exits; its destructor reaps it
    o.baseUs = median(base);
    o.attackedUs = median(attacked);
    // (1) up: the same process, still ready.
    EXPECT_TRUE(tunnel->running());
    EXPECT_EQ(node(0).tunnel()->pid(), pid);
    EXPECT_EQ(httpRequest("/var/run/netns/" + node(0).nodeNetns(), "GET", "/healthz/ready", 15021).status, 200);
    // (2) memory.
    EXPECT_LT(o.peakRssMib, a.rssBoundMib) << a.mode << ": tunnel peak RSS";
    // (3) the victim's latency.
    EXPECT_LE(o.attackedUs, 2 * o.baseUs) << a.mode << ": victim round trip, median of " << attacked.size()
                                          << " attacked against " << base.size() << " unattacked samples";
    std::cout << "ATTACK " << a.mode << " peak_rss_mib=" << o.peakRssMib << " rtt_base_us=" << o.baseUs
              << " rtt_attacked_us=" << o.attackedUs << " ratio=" << (o.baseUs ? o.attackedUs / o.baseUs : 0)
              << " samples=" << base.size() << "/" << attacked.size() << "\n  on: " << o.lastOn().dump()
              << "\n  off: " << o.lastOff().dump() << std::endl;
    return o;
  }

  std::unique_ptr<TestCluster> cluster_;
  Pod target_, client_, server_, attacker_;
  std::unique_ptr<PodServer> targetApp_, victimApp_;
  testcerts::CertFiles cert_;
  RttProbe probe_;
  std::unique_ptr<Process> attacker_proc_;
  UniqueFd control_;
};

// HEADERS + RST_STREAM pairs (CVE-2023-44487): nghttp2's reset-rate limit sends
// GOAWAY after its burst, and no reset request ever reaches the app.
// Disabled from stop 24 to stop 29: its victim-latency check failed in one of several
// runs (ratio 2.85) while other builds loaded the machine to 10-13. Alone, as the
// release suite runs it (RUN_SERIAL, after the build), it passed 5 of 5 with ratios
// 1.07-1.25, and in the full suite's rehearsal (README "Reliability").
TEST_F(AttackTest, RapidResetIsCutOffAndNeverReachesTheApp) {
  start();
  auto o = run({"rapid-reset", true, 30, {"--connections", "2"}});
  EXPECT_GT(o.lastOff().value("frames", 0), 1000) << "the attack did not run";
  EXPECT_GT(o.lastOff().value("connections", 0), 2) << "never cut off";
  // Each reset request that got as far as a dial had it cancelled; a handful may
  // have connected before their reset arrived, never one per request.
  const uint64_t requests = o.lastOff().value("frames", 0) / 2;
  EXPECT_LT(targetApp_->accepted() * 100, requests) << targetApp_->accepted() << " app connections";
}

// A HEADERS without END_HEADERS and CONTINUATIONs without end: closed after the
// CONTINUATION cap, every time.
TEST_F(AttackTest, ContinuationFloodIsClosedAtTheCap) {
  start();
  auto o = run({"continuation", true, 30, {"--connections", "2"}});
  EXPECT_GT(o.lastOff().value("connections", 0), 2) << "never cut off";
  EXPECT_EQ(targetApp_->accepted(), 0u);
}

// SETTINGS and PING floods whose ACKs the attacker never reads.
TEST_F(AttackTest, SettingsFloodWithUnreadAcksIsClosed) {
  start();
  auto o = run({"settings-flood", true, 30, {"--connections", "2"}});
  EXPECT_GT(o.lastOff().value("frames", 0), 1000);
}

// Disabled as rapid reset above, for one failed victim-latency check in a loaded
// full-suite run; alone 5 of 5 with ratios 0.96-1.12.
TEST_F(AttackTest, PingFloodWithUnreadAcksIsClosed) {
  start();
  auto o = run({"ping-flood", true, 30, {"--connections", "2"}});
  EXPECT_GT(o.lastOff().value("frames", 0), 1000);
}

// Streams with a window of 0 that the tunnel can never answer into, while the
// attacker sends all its windows allow to the echo app. The tunnel reads an app's
// answer only as far as the peer's window lets it out (hbone/send_allowance.h):
// nothing here, so the echo apps block in their socket buffers and the tunnel holds
// no send buffers for them. Before that, it filled 400 x 256 KiB send buffers
// (peak RSS 128 MiB) and the victim's median round trip went from 360 us to 1.5 s.
TEST_F(AttackTest, ZeroWindowReadersStayWithinTheBuffers) {
  start();
  auto o = run({"zero-window", true, 45, {"--connections", "4"}});
  EXPECT_EQ(o.lastOff().value("streams", 0), 400) << "the attack did not run";
  EXPECT_GT(o.lastOff().value("bytesSent", 0), 100 << 20) << "the attack did not run";
}

// Header lists past SETTINGS_MAX_HEADER_LIST_SIZE, many tiny fields, and HPACK
// references expanding to 4 KiB table entries: each stream is refused, none
// reaches the app.
TEST_F(AttackTest, HeaderBombsAreRefusedPerStream) {
  start();
  for (const char* mode : {"header-huge", "header-many", "header-hpack"}) {
    SCOPED_TRACE(mode);
    auto o = run({mode, true, 30, {"--connections", "2"}});
    EXPECT_GT(o.lastOff().value("frames", 0), 10);
  }
  EXPECT_EQ(targetApp_->accepted(), 0u);
}

// Slowloris: a request's HEADERS one byte every 500 ms on 200 mTLS connections,
// and 200 TLS handshakes that never finish from an arbitrary source.
TEST_F(AttackTest, SlowlorisHoldersCostNothingToOthers) {
  start();
  run({"slowloris-headers", true, 60, {"--connections", "200"}});
  run({"slowloris-tls", false, 60, {"--connections", "200"}});
}

// 10,000 concurrent TCP connections to the target's 15008 from 16 addresses of the
// attacker pod: the per-source cap (256) and the total cap (set to 2048 here) shed
// the rest on arrival. The first address takes 8 of every 23 connections, so it
// reaches its own cap long before the total is reached (16 even sources would each
// hold only 128 when the total is full, and the per-source cap would never act).
// Every reset the attacker saw is one the tunnel counted, by cause.
TEST_F(AttackTest, TenThousandConnectionsAreShedByThePerSourceAndTotalCaps) {
  start({"--hbone-max-inbound", "2048"});
  std::vector<std::string> sources;
  for (int i = 0; i < 16; ++i) {
    std::string ip = "10.244.2." + std::to_string(100 + i);
    ASSERT_EQ(runCommand({"ip", "-n", attacker_.netnsName, "addr", "add", ip + "/24", "dev", "eth0"}), 0);
    sources.push_back(ip);
  }
  std::string list = sources[0];
  for (int i = 0; i < 7; ++i) list += "," + sources[0];  // the heavy source: 8 shares of 23
  for (size_t i = 1; i < sources.size(); ++i) list += "," + sources[i];
  auto o = run({"connections", false, 380, {"--count", "10000", "--sources", list}});
  // Shed on arrival: thousands of the 10,000 were reset (the rest were admitted,
  // or waited in the listen queue until the attack ended).
  uint64_t resets = 0;
  for (const auto& on : o.on) EXPECT_GT(on.value("resets", 0), 1000) << on.dump();
  for (const auto& off : o.off) resets += off.value("resets", 0);
  auto metric = [&](const char* name) { return tunnelMetric(node(0), name).value_or(-1); };
  const double overSource = metric("warren_tunnel_hbone_inbound_over_source_limit_total");
  const double overTotal = metric("warren_tunnel_hbone_inbound_over_total_limit_total");
  const double overload = metric("warren_tunnel_overload_shed_total");
  const double noFds = metric("warren_tunnel_connections_shed_total");
  EXPECT_GT(overSource, 0) << "the per-source cap never acted";
  EXPECT_GT(overTotal, 0) << "the total cap never acted";
  EXPECT_EQ(overload, 0);
  EXPECT_EQ(noFds, 0);
  // Every reset the attacker saw is a counted refusal. A refusal may reach the
  // attacker as another end than a reset (its RST racing the attacker's own
  // close at the end of a cycle: 23,320 refusals for 23,319 resets once), so
  // the counters may exceed the resets by a few, never by more than 1%.
  const double refusals = overSource + overTotal;
  EXPECT_GE(refusals, static_cast<double>(resets))
      << "resets the attacker saw against the tunnel's refusals: " << overSource << " over the per-source cap, "
      << overTotal << " over the total";
  EXPECT_LE(refusals - static_cast<double>(resets), 0.01 * static_cast<double>(resets))
      << "refusals the attacker never saw: " << overSource << " over the per-source cap, " << overTotal
      << " over the total, " << resets << " resets";
}

}  // namespace
}  // namespace warren::e2e
