// warrenctl's kernel-side commands against a live two-node cluster: real agents
// and tunnels, real capture. Every value checked is one the test made (pod names,
// IPs, netns cookies, the destination it dialed), read back through the binary.
//
//   node1: mesh/client 10.244.1.31 --captured--> node2: mesh/server 10.244.2.31:8080

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/netns.h"
#include "tests/support/cluster.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::map<std::string, std::string> kEnabled = {{"warren.io/mode", "enabled"}};
constexpr uint16_t kPort = 8080;

uint64_t cookieOf(const Pod& pod) {
  auto ns = openNetns(pod.netnsPath());
  if (!ns) return 0;
  auto c = netnsCookie(ns->get());
  return c ? *c : 0;
}

// A connection from inside a pod, held open (warren_orig_dst only has an entry
// while the captured socket lives). Echo-checked, so it went through the tunnel.
struct HeldConnection {
  UniqueFd fd;
  std::string local;
};
Result<HeldConnection> holdConnection(const Pod& from, const std::string& ip, uint16_t port) {
  auto ns = openNetns(from.netnsPath());
  if (!ns) return ns.error();
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) return fd.error();
  timeval tv{5, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return errnoError("connect");
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
  char buf[4];
  if (::write(fd->get(), "ping", 4) != 4 || ::read(fd->get(), buf, sizeof(buf)) != 4)
    return errnoError("echo through the held connection");
  return HeldConnection{std::move(*fd), sockaddrString(ss)};
}

class WarrenctlClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>();
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("mesh", kEnabled);
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    client_ = node(0).addPod("mesh", "client", "10.244.1.31");
    server_ = node(1).addPod("mesh", "server", "10.244.2.31");
    ASSERT_FALSE(HasFailure());
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return node(i).tunnelStateIs({.workloads = 2, .captured = 2}); }, 10s))
          << node(i).logTail("tunnel");
    ASSERT_TRUE(isEnrolled(node(0).pinRoot(), client_.netnsPath()));
    app_ = PodServer::start(server_.netnsPath(), kPort);
    ASSERT_TRUE(app_);
    clientCookie_ = cookieOf(client_);
    ASSERT_NE(clientCookie_, 0u);
  }

  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->logTails(60);
    app_.reset();
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }

  // warrenctl -j on node1: exit 0, empty stderr... (runCommand merges both streams,
  // so "parses as JSON" also proves nothing else was printed).
  json ctlJson(std::vector<std::string> args) {
    args.insert(args.begin(), "-j");
    std::string out;
    int rc = node(0).warrenctl(args, &out);
    EXPECT_EQ(rc, 0) << out;
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << out;
    return j;
  }

  std::string ctlText(const std::vector<std::string>& args) {
    std::string out;
    EXPECT_EQ(node(0).warrenctl(args, &out), 0) << out;
    std::cerr << "$ warrenctl";
    for (const auto& a : args) std::cerr << " " << a;
    std::cerr << "\n" << out;
    return out;
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<PodServer> app_;
  Pod client_, server_;
  uint64_t clientCookie_ = 0;
};

const json* findPod(const json& pods, const std::string& name) {
  for (const auto& p : pods)
    if (p["name"] == name) return &p;
  return nullptr;
}

TEST_F(WarrenctlClusterTest, PodListAndShowDecodeTheEnrolledPod) {
  json pods = ctlJson({"pod", "list"});
  const json* p = findPod(pods, "client");
  ASSERT_TRUE(p) << pods.dump();
  EXPECT_EQ((*p)["namespace"], "mesh");
  EXPECT_EQ((*p)["ips"], json::array({client_.ip}));
  EXPECT_EQ((*p)["netns_cookie"], clientCookie_);
  EXPECT_EQ((*p)["inbound_listener"], "up");
  EXPECT_EQ((*p)["sk_lookup_link"], "attached");

  // Every way of naming the pod finds the same one.
  for (std::string sel :
       {std::string("mesh/client"), std::string("client"), client_.ip, std::to_string(clientCookie_)}) {
    json show = ctlJson({"pod", "show", sel});
    EXPECT_EQ(show["netns_cookie"], clientCookie_) << sel;
    EXPECT_EQ(show["name"], "client") << sel;
  }
  // A capture shows up in the per-pod counters, per CPU and summed.
  ConnectResult r = connectFrom(client_.netnsPath(), server_.ip, kPort, "count-me");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  json show = ctlJson({"pod", "show", "mesh/client"});
  EXPECT_GE(show["counters"]["captured_out"].get<uint64_t>(), 1u);
  uint64_t perCpuSum = 0;
  for (const auto& c : show["counters_per_cpu"]) perCpuSum += c["captured_out"].get<uint64_t>();
  EXPECT_EQ(perCpuSum, show["counters"]["captured_out"].get<uint64_t>());
  EXPECT_EQ(show["listeners"][0]["ip"], client_.ip);
  EXPECT_EQ(show["listeners"][0]["state"], "up");
  ASSERT_TRUE(show["sk_lookup"].is_object()) << show.dump();
  EXPECT_EQ(show["sk_lookup"]["attach_type"], "sk_lookup");
  EXPECT_EQ(show["sk_lookup"]["pin"], "sk_lookup_" + std::to_string(clientCookie_));
  ctlText({"pod", "show", "mesh/client"});

  std::string out;
  EXPECT_EQ(node(0).warrenctl({"pod", "show", "nosuch"}, &out), 1);
  EXPECT_EQ(out, "Error: no enrolled pod matches 'nosuch'\n");
}

TEST_F(WarrenctlClusterTest, ConnListShowsAnInFlightConnectionsOriginalDestination) {
  auto held = holdConnection(client_, server_.ip, kPort);
  ASSERT_TRUE(held) << held.error().message;
  // The app's own view of its local address is what the tunnel sees as its peer.
  json conns = ctlJson({"conn", "list"});
  const json* mine = nullptr;
  for (const auto& c : conns)
    if (c["name"] == "client" &&
        c["src_ip"].get<std::string>() + ":" + std::to_string(c["src_port"].get<int>()) == held->local)
      mine = &c;
  ASSERT_TRUE(mine) << "local " << held->local << " not in " << conns.dump();
  EXPECT_EQ((*mine)["namespace"], "mesh");
  EXPECT_EQ((*mine)["netns_cookie"], clientCookie_);
  EXPECT_EQ((*mine)["orig_dst_ip"], server_.ip);
  EXPECT_EQ((*mine)["orig_dst_port"], kPort);
  std::string table = ctlText({"conn", "list"});
  EXPECT_NE(table.find(held->local), std::string::npos);
  EXPECT_NE(table.find(server_.ip + ":8080"), std::string::npos);

  // map dump warren_orig_dst has the same entry, decoded.
  json dump = ctlJson({"map", "dump", "warren_orig_dst"});
  bool found = false;
  for (const auto& e : dump)
    found |= e["key"]["netns_cookie"] == clientCookie_ && e["value"]["ip"] == server_.ip && e["value"]["port"] == kPort;
  EXPECT_TRUE(found) << dump.dump();

  // The tunnel's view of the same connection: one HBONE stream to the server's
  // 15008, carrying the original destination as its :authority.
  json tunnel = ctlJson({"conn", "list", "--tunnel"});
  bool stream = false;
  for (const auto& c : tunnel["hbone"])
    for (const auto& s : c["streams"])
      stream |= c["direction"] == "outbound" && s["authority"] == server_.ip + ":" + std::to_string(kPort);
  EXPECT_TRUE(stream) << tunnel.dump();

  // Closed, the entry goes (sockops at TCP_CLOSE), and conn list says so.
  held->fd.reset();
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& c : ctlJson({"conn", "list"}))
          if (c["src_port"].get<int>() != 0 &&
              c["src_ip"].get<std::string>() + ":" + std::to_string(c["src_port"].get<int>()) == held->local)
            return false;
        return true;
      },
      10s));
}

TEST_F(WarrenctlClusterTest, TraceStartedBeforeAConnectionPrintsItsEvent) {
  // A port only this test dials, so no other event can match.
  const uint16_t port = 18080;
  auto app2 = PodServer::start(server_.netnsPath(), port);
  ASSERT_TRUE(app2);
  auto trace =
      Process::spawnWatched({node(0).binPath("warrenctl"), "--bpffs", node(0).pinRoot(), "trace", "--pod",
                             "mesh/client", "--port", std::to_string(port), "--count", "1", "--timeout", "30", "-j"},
                            node(0).runDir() + "/trace.log", "", 5s);
  ASSERT_TRUE(trace) << trace.error().message;
  // trace only shows events from its start on, and prints nothing until one
  // matches: dial until it has caught one and exited (--count 1). No sleeps.
  int dials = 0;
  ASSERT_TRUE(eventually(
      [&] {
        if (!(*trace)->running()) return true;
        ConnectResult r = connectFrom(client_.netnsPath(), server_.ip, port, "trace-me");
        EXPECT_EQ(r.error, 0) << std::strerror(r.error);
        ++dials;
        return (*trace)->waitForOutput("\n", 200ms);
      },
      30s));
  // --count 1: trace ends by itself after its event (a SIGTERM now could land in
  // its exit path, after it has put its signal handlers back).
  EXPECT_TRUE(eventually([&] { return !(*trace)->running(); }, 10s)) << "trace did not stop after --count 1";
  EXPECT_EQ((*trace)->stop(SIGTERM), 0);
  std::string out = (*trace)->output();
  std::cerr << "$ warrenctl trace --pod mesh/client --port " << port << " --count 1 --timeout 30 -j  (" << dials
            << " dials)\n"
            << out;
  std::istringstream lines(out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  json e = json::parse(line, nullptr, false);
  ASSERT_FALSE(e.is_discarded()) << out;
  EXPECT_EQ(e["kind"], "captured_outbound");
  EXPECT_EQ(e["namespace"], "mesh");
  EXPECT_EQ(e["name"], "client");
  EXPECT_EQ(e["netns_cookie"], clientCookie_);
  EXPECT_EQ(e["dst_ip"], server_.ip);
  EXPECT_EQ(e["dst_port"], port);
  EXPECT_FALSE(std::getline(lines, line)) << "--count 1 printed more: " << out;

  // --timeout alone ends a trace that sees nothing, with status 0.
  std::string quiet;
  EXPECT_EQ(node(0).warrenctl({"trace", "--pod", "mesh/nosuch", "--timeout", "1", "-j"}, &quiet), 0) << quiet;
  EXPECT_EQ(quiet, "");
}

TEST_F(WarrenctlClusterTest, MapLinkAndStatsDecodeAndEveryCommandsJsonParses) {
  ConnectResult r = connectFrom(client_.netnsPath(), server_.ip, kPort, "stats");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);

  json maps = ctlJson({"map", "show"});
  std::map<std::string, json> byName;
  for (const auto& m : maps) byName[m["name"]] = m;
  for (const char* name : {"warren_enrolled", "warren_pod_ips", "warren_inbound", "warren_orig_dst", "warren_counters",
                           "warren_pod_meta", "warren_events"})
    EXPECT_TRUE(byName.count(name)) << name << " not in " << maps.dump();
  EXPECT_EQ(byName["warren_events"]["type"], "ringbuf");
  EXPECT_TRUE(byName["warren_events"]["entries"].is_null());
  EXPECT_EQ(byName["warren_counters"]["type"], "percpu_hash");
  // This node's agent enrolled exactly one pod.
  EXPECT_EQ(byName["warren_enrolled"]["entries"], 1);
  ctlText({"map", "show"});

  json enrolled = ctlJson({"map", "dump", "warren_enrolled"});
  ASSERT_EQ(enrolled.size(), 1u);
  EXPECT_EQ(enrolled[0]["key"]["netns_cookie"], clientCookie_);
  EXPECT_EQ(enrolled[0]["value"]["ip4"], client_.ip);
  EXPECT_EQ(enrolled[0]["value"]["flag_names"], json::array({"has_ip4"}));
  json ips = ctlJson({"map", "dump", "warren_pod_ips"});
  ASSERT_EQ(ips.size(), 1u);
  EXPECT_EQ(ips[0]["key"]["ip"], client_.ip);
  EXPECT_EQ(ips[0]["value"]["netns_cookie"], clientCookie_);
  json meta = ctlJson({"map", "dump", "warren_pod_meta"});
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_EQ(meta[0]["value"]["namespace"], "mesh");
  EXPECT_EQ(meta[0]["value"]["name"], "client");
  json inbound = ctlJson({"map", "dump", "warren_inbound"});
  ASSERT_EQ(inbound.size(), 1u);
  EXPECT_EQ(inbound[0]["key"]["ip"], client_.ip);
  json hbone = ctlJson({"map", "dump", "warren_hbone"});
  ASSERT_EQ(hbone.size(), 1u);
  EXPECT_EQ(hbone[0]["key"]["ip"], client_.ip);
  // The pod's quota counter exists from enrollment on; no connection is open now.
  json conns = ctlJson({"map", "dump", "warren_pod_conns"});
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0]["key"]["netns_cookie"], clientCookie_);
  EXPECT_GE(conns[0]["value"]["held"].get<int64_t>(), 0);
  json counters = ctlJson({"map", "dump", "warren_counters"});
  ASSERT_EQ(counters.size(), 1u);
  EXPECT_GE(counters[0]["value"]["captured_out"].get<uint64_t>(), 1u);
  ctlText({"map", "dump", "warren_counters"});

  std::string out;
  EXPECT_EQ(node(0).warrenctl({"map", "dump", "warren_events"}, &out), 1);
  EXPECT_EQ(out.rfind("Error: warren_events is a ring buffer", 0), 0u) << out;
  EXPECT_NE(out.find("warrenctl trace"), std::string::npos) << out;
  EXPECT_EQ(node(0).warrenctl({"map", "dump", "nosuch"}, &out), 1);
  EXPECT_EQ(out.rfind("Error: unknown map 'nosuch' (maps: warren_enrolled,", 0), 0u) << out;

  // link show: the per-pod sk_lookup link targets the client's netns, and every
  // link runs a program prog show knows.
  json links = ctlJson({"link", "show"});
  json progs = ctlJson({"prog", "show"});
  std::set<uint64_t> progIds;
  for (const auto& p : progs) progIds.insert(p["id"].get<uint64_t>());
  bool sk = false;
  for (const auto& l : links) {
    EXPECT_TRUE(progIds.count(l["prog_id"].get<uint64_t>())) << l.dump();
    if (l["pin"] == "sk_lookup_" + std::to_string(clientCookie_)) {
      sk = true;
      EXPECT_EQ(l["attach_type"], "sk_lookup");
      EXPECT_EQ(l["target_type"], "netns");
      EXPECT_EQ(l["attached"], true);
    }
  }
  EXPECT_TRUE(sk) << links.dump();
  ctlText({"link", "show"});

  json stats = ctlJson({"stats"});
  EXPECT_EQ(stats["totals"]["pods"], 1);
  EXPECT_GE(stats["totals"]["captured_out"].get<uint64_t>(), 1u);
  ASSERT_EQ(stats["pods"].size(), 1u);
  EXPECT_EQ(stats["pods"][0]["name"], "client");
  EXPECT_EQ(stats["pods"][0]["captured_out"], stats["totals"]["captured_out"]);
  bool enrolledFill = false;
  for (const auto& m : stats["maps"])
    if (m["name"] == "warren_enrolled") enrolledFill = m["entries"] == 1 && m["max_entries"].get<uint64_t>() > 1;
  EXPECT_TRUE(enrolledFill) << stats.dump();
  ctlText({"stats"});

  // Every command's -j output is one JSON document.
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{{"prog", "show"},
                                                                            {"link", "show"},
                                                                            {"map", "show"},
                                                                            {"pod", "list"},
                                                                            {"pod", "show", "client"},
                                                                            {"conn", "list"},
                                                                            {"stats"},
                                                                            {"map", "dump", "warren_orig_dst"}})
    ctlJson(cmd);
}

// `log level LEVEL` changes the tunnel, so the tunnel wants its admin token for it: warrenctl
// sends the one the tunnel wrote (root-only file), and without it nothing changes,
// neither through warrenctl nor through a raw POST any local process could send.
TEST_F(WarrenctlClusterTest, LogLevelIsSetWithTheTunnelsAdminTokenOnly) {
  EXPECT_EQ(ctlJson({"log", "level"})["level"], "debug");  // the harness starts tunnels at debug

  std::string out;
  EXPECT_EQ(node(0).warrenctl({"--admin-token-file", node(0).runDir() + "/no-such-token", "log", "level", "off"}, &out),
            1);
  EXPECT_NE(out.find("Error: cannot read warren-tunnel's admin token"), std::string::npos) << out;

  const std::string netns = "/var/run/netns/" + node(0).nodeNetns();
  const HttpReply raw = httpRequest(netns, "POST", "/logging?level=off", 15000);
  EXPECT_EQ(raw.status, 401) << raw.body;
  EXPECT_NE(raw.body.find("admin token"), std::string::npos) << raw.body;
  EXPECT_EQ(ctlJson({"log", "level"})["level"], "debug");  // unchanged by either attempt
  const HttpReply metrics = httpRequest(netns, "GET", "/metrics", 15020);
  EXPECT_NE(metrics.body.find("warren_admin_requests_unauthorized_total 1\n"), std::string::npos) << metrics.body;

  EXPECT_EQ(ctlJson({"log", "level", "warn"})["level"], "warn");
  EXPECT_EQ(ctlJson({"log", "level"})["level"], "warn");
  EXPECT_EQ(ctlJson({"log", "level", "debug"})["level"], "debug");
}

}  // namespace
}  // namespace warren::e2e
