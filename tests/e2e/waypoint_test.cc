// The waypoint end to end on two nodes: L7 AuthorizationPolicy enforced per HTTP
// request by a real warren-waypoint between two meshed pods, with real curl as the
// client and an HTTP app that records exactly what reaches it.
//
//   node1: payments/checkout 10.244.1.10 (client)   payments/waypoint 10.244.1.50
//          (warren-waypoint, Gateway payments/waypoint, not captured)
//   node2: payments/ledger 10.244.2.20:8080 (app=ledger)
//   Service payments/ledger: 10.96.0.20:80 -> 8080; namespace payments uses the
//   waypoint (istio.io/use-waypoint), which takes all traffic (istio.io/waypoint-for).
//
//   checkout --HBONE--> waypoint (L7 policy) --HBONE--> ledger's tunnel (L4) --> app

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <nlohmann/json.hpp>

#include "common/netns.h"
#include "tests/support/cluster.h"
#include "tests/support/payments_waypoint_cluster.h"
#include "tests/support/pcap.h"
#include "tests/support/waypoint_fixture.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVip = "10.96.0.20";

TEST_F(WaypointTest, AllowedThenDeniedRequestOnOneKeepAliveConnection) {
  const std::string w = "%{http_code} %{num_connects}\\n";
  std::string out = curl(
      {"-w", w, "http://" + std::string(kVip) + "/balance/1", "-w", w, "http://" + std::string(kVip) + "/admin/users"});
  EXPECT_EQ(lastCurlStatus_, 0) << out;
  // One TCP connection (num_connects 1, then 0: reused), two verdicts.
  EXPECT_NE(out.find("GET /balance/1 served\n200 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("RBAC: access denied403 0\n"), std::string::npos) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"}) << "the app saw a denied request";

  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 2; }, 5s)) << node(0).logTail("waypoint-waypoint");
  auto log = waypointAccessLog();
  EXPECT_EQ(log[0]["response_code"], 200);
  EXPECT_EQ(log[0]["source_principal"], "spiffe://cluster.local/ns/payments/sa/sa-checkout");
  EXPECT_EQ(log[0]["destination_principal"], "spiffe://cluster.local/ns/payments/sa/sa-ledger");
  EXPECT_EQ(log[0]["policy"], "payments/ledger-read");
  EXPECT_EQ(log[1]["response_code"], 403);
  // As Envoy reports an RBAC denial: no response flag, the policy in the details.
  EXPECT_EQ(log[1]["response_flags"], "-");
  EXPECT_EQ(log[1]["response_code_details"], "rbac_access_denied_matched_policy[none]");

  // Istio's request metrics on the waypoint's 15020, with the labels banks alert on.
  auto metrics = httpRequest(waypoint_.netnsPath(), "GET", "/metrics", 15020);
  ASSERT_EQ(metrics.status, 200);
  auto series = [&](const std::string& code) {
    std::istringstream in(metrics.body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("istio_requests_total{", 0) == 0 && line.find("reporter=\"waypoint\"") != std::string::npos &&
          line.find("response_code=\"" + code + "\"") != std::string::npos &&
          line.find("source_workload=\"checkout\"") != std::string::npos &&
          line.find("destination_service_name=\"ledger\"") != std::string::npos &&
          line.find("connection_security_policy=\"mutual_tls\"") != std::string::npos &&
          line.find("source_principal=\"spiffe://cluster.local/ns/payments/sa/sa-checkout\"") != std::string::npos)
        return line.substr(line.rfind(' ') + 1);
    return std::string();
  };
  EXPECT_EQ(series("200"), "1") << metrics.body.substr(0, 4000);
  EXPECT_EQ(series("403"), "1");
  EXPECT_NE(metrics.body.find("istio_request_duration_milliseconds_bucket{"), std::string::npos);

  // The ledger's tunnel still judged L4, and saw the waypoint (its identity), not checkout.
  ASSERT_TRUE(eventually([&] { return !accessLog(node(1)).empty(); }, 5s));
  bool fromWaypoint = false;
  for (const auto& e : accessLog(node(1)))
    fromWaypoint |=
        e["direction"] == "inbound" && e["src_identity"] == "spiffe://cluster.local/ns/payments/sa/sa-waypoint";
  EXPECT_TRUE(fromWaypoint);
  // Checkout's tunnel sent it through the waypoint (logged once that connection
  // has ended on both sides, which may be after curl returned).
  auto viaWaypoint = [&] {
    for (const auto& e : accessLog(node(0)))
      if (e["direction"] == "outbound" && e.value("waypoint", "") == "payments/waypoint.payments.svc.cluster.local")
        return true;
    return false;
  };
  EXPECT_TRUE(eventually(viaWaypoint, 5s));
}

TEST_F(WaypointTest, DenyPolicyWinsAndAPodIpDialedDirectlyStillMeetsTheWaypoint) {
  // POST /admin/*: the DENY policy; and not allowed anyway.
  std::string out =
      curl({"-X", "POST", "-d", "x=1", "-w", "%{http_code}", "http://" + ledger_.ip + ":8080/admin/drop"});
  EXPECT_NE(out.find("RBAC: access denied403"), std::string::npos) << out;
  // Dialing the pod IP, not the service: still through the waypoint, still judged.
  out = curl({"-w", "%{http_code}", "http://" + ledger_.ip + ":8080/balance/7"});
  EXPECT_NE(out.find("GET /balance/7 served\n200"), std::string::npos) << out;
  out = curl({"--path-as-is", "-w", "%{http_code}", "http://" + ledger_.ip + ":8080/balance/../admin/x"});
  EXPECT_NE(out.find("403"), std::string::npos) << "a dot-segment path must not slip past /balance/*: " << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/7"});
  // The access log is written in blocks at least once a second: wait for the lines.
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 3; }, 5s)) << node(0).logTail("waypoint-waypoint");
  EXPECT_EQ(waypointAccessLog()[0]["policy"], "payments/no-admin-writes");
}

TEST_F(WaypointTest, SmugglingShapesGet400AndNothingReachesTheApp) {
  const std::vector<std::string> bad = {
      "POST /balance/1 HTTP/1.1\r\nHost: l\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /balance/1 HTTP/1.1\r\nHost: l\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "GET /balance/1 HTTP/1.1\r\nHost: l\r\nX-A: a\r\n b\r\n\r\n",
      "GET /balance/1 HTTP/1.1\nHost: l\n\n",
  };
  for (const auto& req : bad) {
    ConnectResult r = connectFrom(checkout_.netnsPath(), kVip, 80, req, 5s);
    EXPECT_EQ(r.reply.rfind("HTTP/1.1 400", 0), 0u) << "request: " << req << "\nreply: " << r.reply;
  }
  // Oversized head: 431. Slow headers (a head never finished): 408 once the head
  // timeout (1.5 s here) passes, not a connection held open for ever.
  const std::string big = "GET /balance/1 HTTP/1.1\r\nHost: l\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
  ConnectResult r = connectFrom(checkout_.netnsPath(), kVip, 80, big, 5s);
  EXPECT_EQ(r.reply.rfind("HTTP/1.1 431", 0), 0u) << r.reply.substr(0, 200);
  const auto start = std::chrono::steady_clock::now();
  r = connectFrom(checkout_.netnsPath(), kVip, 80, "GET /balance/1 HTTP/1.1\r\nHost: l\r\nX-Slow: 1", 10s);
  EXPECT_EQ(r.reply.rfind("HTTP/1.1 408", 0), 0u) << r.reply;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_TRUE(app_->seen().empty());
}

TEST_F(WaypointTest, PipelinedRequestsAreJudgedAndCountedEachOnItsOwn) {
  // Two requests in one write: each is judged, and each request's bytes_received
  // (istio_request_bytes) is its own size, not the pipelined successor's too.
  const std::string first = "GET /balance/1 HTTP/1.1\r\nHost: l\r\n\r\n";
  const std::string second = "GET /admin/x HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n";
  ConnectResult r = connectFrom(checkout_.netnsPath(), kVip, 80, first + second, 5s);
  EXPECT_EQ(r.reply.rfind("HTTP/1.1 200", 0), 0u) << r.reply;
  EXPECT_NE(r.reply.find("HTTP/1.1 403"), std::string::npos) << r.reply;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 2; }, 5s)) << node(0).logTail("waypoint-waypoint");
  auto log = waypointAccessLog();
  EXPECT_EQ(log[0]["response_code"], 200);
  EXPECT_EQ(log[0]["bytes_received"], first.size());
  EXPECT_EQ(log[1]["response_code"], 403);
  EXPECT_EQ(log[1]["bytes_received"], second.size());
}

TEST_F(WaypointTest, TheWireCarriesOnlyTlsOnBothHops) {
  auto underlay = PacketCapture::start(node(0).nodeNetns(), cluster_->underlayInterface(0), "tcp");
  ASSERT_TRUE(underlay) << underlay.error().message;
  auto bridge = PacketCapture::start(node(0).nodeNetns(), "wbr0", "tcp");
  ASSERT_TRUE(bridge) << bridge.error().message;
  const std::string secret = "/balance/secret-5e2b91";
  std::string out = curl({"-w", "%{http_code}", "http://" + std::string(kVip) + secret});
  EXPECT_NE(out.find("200"), std::string::npos) << out;
  for (auto* cap : {&underlay, &bridge}) {
    std::string pcap = (**cap)->stop();
    EXPECT_EQ(countOccurrences(pcap, "secret-5e2b91"), 0u) << "the request crossed in clear";
    auto flows = tcpPayloadsByDirection(pcap);
    ASSERT_TRUE(flows) << flows.error().message;
    bool sawHbone = false;
    for (const auto& [dir, bytes] : *flows) {
      EXPECT_EQ(dir.find(":8080"), std::string::npos) << dir << ": plaintext to the app's port";
      EXPECT_EQ(dir.find(std::string(kVip)), std::string::npos) << dir;
      if (dir.find(":15008") != std::string::npos) sawHbone |= hasTlsRecords(bytes) || startsWithTlsHandshake(bytes);
    }
    EXPECT_TRUE(sawHbone);
  }
}

TEST_F(WaypointTest, APodOutsideTheMeshCannotGoAroundTheWaypoint) {
  node(0).writeNamespace("plain", {});
  Pod legacy = node(0).addPod("plain", "legacy", "10.244.1.60");
  ASSERT_FALSE(isEnrolled(node(0).pinRoot(), legacy.netnsPath()));
  // Plaintext straight to ledger's pod IP: ledger's tunnel captures it and refuses
  // it, because ledger takes traffic only through its waypoint.
  std::string out;
  int rc = runCommand({"nsenter", "--net=" + legacy.netnsPath(), "curl", "-sS", "--max-time", "5", "-w", "%{http_code}",
                       "http://" + ledger_.ip + ":8080/admin/users"},
                      &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_TRUE(app_->seen().empty());
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& e : accessLog(node(1)))
          if (e["direction"] == "inbound" && e.value("verdict", "") == "deny" &&
              e.value("policy_reason", "").find("bound to waypoint") != std::string::npos)
            return true;
        return false;
      },
      5s))
      << node(1).logTail("tunnel");
}

TEST_F(WaypointTest, AWaypointThatIsDownFailsTheRequestNeverBypassesIt) {
  ASSERT_NE(curl({"-w", "%{http_code}", "http://" + std::string(kVip) + "/balance/1"}).find("200"), std::string::npos);
  node(0).stopWaypoint(SIGTERM);
  std::string out = curl({"-w", "%{http_code}", "http://" + std::string(kVip) + "/balance/2"});
  EXPECT_NE(lastCurlStatus_, 0) << out;
  out = curl({"-w", "%{http_code}", "http://" + ledger_.ip + ":8080/balance/3"});
  EXPECT_NE(lastCurlStatus_, 0) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
}

// ---- HTTP/2 inside the HBONE stream (h2c, prior knowledge) ----------------------------

size_t countOf(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

TEST_F(WaypointTest, Http2AllowedAndDeniedStreamsOnOneConnection) {
  // nghttp: prior knowledge for http:// URIs; URIs with one authority share one connection.
  int rc = 0;
  const std::string base = "http://" + std::string(kVip);
  std::string out = inCheckout({"nghttp", "-v", "-t", "5", base + "/balance/1", base + "/admin/x"}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(countOf(out, "] Connected"), 1u) << out;
  EXPECT_NE(out.find("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100"), std::string::npos) << out;
  EXPECT_NE(out.find("SETTINGS_INITIAL_WINDOW_SIZE(0x04):1048576"), std::string::npos) << out;
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out;
  EXPECT_NE(out.find(":status: 403"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /balance/1 served"), std::string::npos) << out;
  EXPECT_NE(out.find("RBAC: access denied"), std::string::npos) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"}) << "the app saw a denied request";

  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 2; }, 5s)) << node(0).logTail("waypoint-waypoint");
  int allowed = 0, denied = 0;
  for (const auto& e : waypointAccessLog()) {
    EXPECT_EQ(e["protocol"], "HTTP/2") << e.dump();
    EXPECT_EQ(e["request_protocol"], "http") << e.dump();
    if (e["path"] == "/balance/1" && e["response_code"] == 200 && e["response_flags"] == "-") ++allowed;
    if (e["path"] == "/admin/x" && e["response_code"] == 403 &&
        e.value("response_code_details", "").rfind("rbac_access_denied", 0) == 0)
      ++denied;
  }
  EXPECT_EQ(allowed, 1);
  EXPECT_EQ(denied, 1);

  // curl's prior knowledge too, and HTTP/1.1 on the same waypoint still works.
  out = curl({"--http2-prior-knowledge", "-w", " %{http_code} %{http_version}", base + "/balance/2"});
  EXPECT_NE(out.find("GET /balance/2 served\n 200 2"), std::string::npos) << out;
  out = curl({"-w", " %{http_code} %{http_version}", base + "/balance/3"});
  EXPECT_NE(out.find("GET /balance/3 served\n 200 1.1"), std::string::npos) << out;
  // A denied request with a body is answered at its headers, the body never
  // forwarded. An upload still going when the 403 is complete gets RST_STREAM
  // (NO_ERROR) to stop it (RFC 9113 8.1, as Envoy does). nghttp takes that as the
  // end; curl 7.88 reports error 92 and drops the 403 (whenever its DATA had not
  // arrived yet, even for "-d x=1"), so nghttp here.
  const std::string upload = "/tmp/we2e-h2-upload-" + std::to_string(::getpid());
  {
    std::ofstream f(upload);
    f << std::string(4 << 20, 'x');
  }
  out = inCheckout({"nghttp", "-v", "-t", "5", "-d", upload, base + "/admin/upload"}, &rc);
  std::remove(upload.c_str());
  EXPECT_NE(out.find(":status: 403"), std::string::npos) << out.substr(0, 4000);
  EXPECT_NE(out.find("recv RST_STREAM frame"), std::string::npos) << out.substr(0, 4000);
  EXPECT_NE(out.find("(error_code=NO_ERROR(0x00))"), std::string::npos) << out.substr(0, 4000);
  EXPECT_EQ(app_->seen(), (std::vector<std::string>{"GET /balance/1", "GET /balance/2", "GET /balance/3"}));
}

TEST_F(WaypointTest, Http2LoadWithMultiplexedStreamsAllSucceed) {
  int rc = 0;
  std::string out =
      inCheckout({"h2load", "-n", "200", "-c", "2", "-m", "10", "http://" + std::string(kVip) + "/balance/1"}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx"), std::string::npos) << out;
  for (const char* key : {"finished in", "time for request:"}) {
    auto p = out.find(key);
    if (p != std::string::npos) std::cout << "h2load: " << out.substr(p, out.find('\n', p) - p) << "\n";
  }
  EXPECT_TRUE(eventually([&] { return app_->seen().size() >= 200; }, 5s));
  EXPECT_EQ(app_->seen().size(), 200u);
  // Upstreams are kept between requests: far fewer HBONE streams reached the
  // ledger's tunnel than requests (each is logged when it ends).
  auto inbound = [&] {
    size_t n = 0;
    for (const auto& e : accessLog(node(1))) n += e["direction"] == "inbound";
    return n;
  };
  EXPECT_TRUE(eventually([&] { return inbound() > 0; }, 5s));
  std::cout << "h2load: " << inbound() << " upstream HBONE streams for 200 requests\n";
  EXPECT_LT(inbound(), 100u);
}

// Frames from a real HTTP/2 client (nghttp2's own), for what the CLI clients will not send.
class RawH2Client {
 public:
  RawH2Client() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_client_new(&session_, cbs, nullptr);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
    drain();  // nghttp2 sends the client magic first, then SETTINGS
  }
  ~RawH2Client() { nghttp2_session_del(session_); }
  int32_t get(const std::string& path) {
    const std::string m = ":method", get = "GET", sc = ":scheme", http = "http", a = ":authority", p = ":path";
    auto nv = [](const std::string& n, const std::string& v) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                        NGHTTP2_NV_FLAG_NONE};
    };
    const std::string authority = kVip;
    nghttp2_nv nva[] = {nv(m, get), nv(sc, http), nv(a, authority), nv(p, path)};
    int32_t id = nghttp2_submit_request(session_, nullptr, nva, 4, nullptr, nullptr);
    drain();
    return id;
  }
  void reset(int32_t id) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    drain();
  }
  std::string bytes;

 private:
  void drain() {
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;)
      bytes.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  nghttp2_session* session_ = nullptr;
};

// HTTP/2 frames in `reply`: (type, error code of a GOAWAY or RST_STREAM).
std::vector<std::pair<int, uint32_t>> framesOf(const std::string& reply) {
  std::vector<std::pair<int, uint32_t>> out;
  for (size_t p = 0; p + 9 <= reply.size();) {
    const auto* u = reinterpret_cast<const unsigned char*>(reply.data() + p);
    const size_t len = (size_t{u[0]} << 16) | (size_t{u[1]} << 8) | u[2];
    uint32_t code = 0;
    const size_t at = u[3] == 0x7 ? 13 : 9;  // GOAWAY: after last-stream-id; RST_STREAM: first
    if ((u[3] == 0x7 || u[3] == 0x3) && p + at + 4 <= reply.size())
      code = (uint32_t{u[at]} << 24) | (uint32_t{u[at + 1]} << 16) | (uint32_t{u[at + 2]} << 8) | u[at + 3];
    out.emplace_back(u[3], code);
    p += 9 + len;
  }
  return out;
}

// Sends `bytes` from the checkout pod to the service (then FIN, with `halfClose`,
// as `nc -N` does) and reads until the waypoint closes (true) or 5 s pass (false).
bool sendAndReadToClose(const std::string& netns, const std::string& bytes, std::string& reply, bool halfClose = false,
                        const char* ip = kVip, uint16_t port = 80) {
  auto ns = openNetns(netns);
  if (!ns) return false;
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) return false;
  timeval tv{5, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return false;
  if (::write(fd->get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return false;
  if (halfClose && ::shutdown(fd->get(), SHUT_WR) != 0) return false;
  for (;;) {
    char buf[4096];
    ssize_t n = ::read(fd->get(), buf, sizeof(buf));
    if (n <= 0) return n == 0 || errno == ECONNRESET;
    reply.append(buf, static_cast<size_t>(n));
  }
}

TEST_F(WaypointTest, Http2RapidResetEndsTheConnectionAndReachesAlmostNothing) {
  // CVE-2023-44487's shape: open a stream, cancel it at once, again and again.
  // Streams cancelled within the read that opened them never get an upstream;
  // past nghttp2's reset budget the connection gets a GOAWAY.
  RawH2Client client;
  ASSERT_EQ(client.bytes.rfind(NGHTTP2_CLIENT_MAGIC, 0), 0u);
  for (int i = 0; i < 400; ++i) client.reset(client.get("/balance/" + std::to_string(i)));
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), client.bytes, reply)) << "the connection must close";
  bool goaway = false;
  std::string frames;
  for (auto [type, code] : framesOf(reply)) {
    goaway |= type == 0x7 && code != 0;
    frames += " " + std::to_string(type) + "/" + std::to_string(code);
  }
  EXPECT_TRUE(goaway) << "frames (type/code):" << frames;
  std::cout << "rapid reset: frames back (type/code):" << frames << "; judged " << waypointAccessLog().size() << "\n";
  std::this_thread::sleep_for(500ms);
  EXPECT_LE(app_->seen().size(), 5u) << "cancelled streams went on to the app";
  std::string out =
      curl({"--http2-prior-knowledge", "-w", " %{http_code}", "http://" + std::string(kVip) + "/balance/ok"});
  EXPECT_NE(out.find("GET /balance/ok served\n 200"), std::string::npos) << out;
}

TEST_F(WaypointTest, Http2GarbageAfterThePrefaceGetsGoawayAndReachesNothing) {
  auto ns = openNetns(checkout_.netnsPath());
  ASSERT_TRUE(ns);
  auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
  ASSERT_TRUE(fd);
  timeval tv{5, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(80);
  inet_pton(AF_INET, kVip, &a.sin_addr);
  ASSERT_EQ(::connect(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  // The preface, then no SETTINGS frame but bytes that are no frame at all.
  const std::string bytes =
      std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + "GET /balance/1 HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd->get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  std::string reply;
  bool eof = false;
  for (;;) {
    char buf[4096];
    ssize_t n = ::read(fd->get(), buf, sizeof(buf));
    if (n <= 0) {
      eof = n == 0 || errno == ECONNRESET;
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(eof) << "the connection must close after the GOAWAY";
  // Frames: 9-byte headers (length 24 bits, type, flags, stream id).
  bool goaway = false;
  uint32_t errorCode = 0;
  for (size_t p = 0; p + 9 <= reply.size();) {
    const auto* u = reinterpret_cast<const unsigned char*>(reply.data() + p);
    const size_t len = (size_t{u[0]} << 16) | (size_t{u[1]} << 8) | u[2];
    if (u[3] == 0x7 && p + 9 + 8 <= reply.size()) {
      goaway = true;
      errorCode = (uint32_t{u[13]} << 24) | (uint32_t{u[14]} << 16) | (uint32_t{u[15]} << 8) | u[16];
    }
    p += 9 + len;
  }
  EXPECT_TRUE(goaway) << "reply of " << reply.size() << " bytes";
  EXPECT_EQ(errorCode, 1u) << "PROTOCOL_ERROR";
  EXPECT_TRUE(app_->seen().empty());
  // The waypoint goes on serving.
  std::string out =
      curl({"--http2-prior-knowledge", "-w", " %{http_code}", "http://" + std::string(kVip) + "/balance/4"});
  EXPECT_NE(out.find("GET /balance/4 served\n 200"), std::string::npos) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/4"});
}

// ---- HTTP/1.1 client edge cases -------------------------------------------------------

TEST_F(WaypointTest, AClientThatHalfClosesGetsEveryPipelinedRequestAnswered) {
  // Three requests in one write, then FIN (as `printf ... | nc -N`): each is
  // judged and answered in order, and only then does the waypoint close.
  const std::string requests =
      "GET /balance/1 HTTP/1.1\r\nHost: l\r\n\r\n"
      "GET /admin/x HTTP/1.1\r\nHost: l\r\n\r\n"
      "GET /balance/2 HTTP/1.1\r\nHost: l\r\n\r\n";
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), requests, reply, /*halfClose=*/true)) << reply;
  const auto first = reply.find("HTTP/1.1 200"), second = reply.find("HTTP/1.1 403"),
             third = reply.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(first, std::string::npos) << reply;
  ASSERT_NE(second, std::string::npos) << reply;
  ASSERT_NE(third, std::string::npos) << reply;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(reply.find("GET /balance/1 served"), std::string::npos) << reply;
  EXPECT_NE(reply.find("GET /balance/2 served", second), std::string::npos) << reply;
  EXPECT_EQ(app_->seen(), (std::vector<std::string>{"GET /balance/1", "GET /balance/2"}));
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 3; }, 5s)) << node(0).logTail("waypoint-waypoint");
  auto log = waypointAccessLog();
  EXPECT_EQ(log[0]["response_code"], 200);
  EXPECT_EQ(log[1]["response_code"], 403);
  EXPECT_EQ(log[2]["response_code"], 200);
}

TEST_F(WaypointTest, ChunkedRequestTrailersReachTheAppLessHopByHopFields) {
  // gRPC-style trailers after a chunked body: passed on as chunked trailers, less
  // the fields a trailer may not carry (framing, routing, connection).
  const std::string request =
      "GET /balance/1 HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nContent-Length: 5\r\nHost: evil\r\nTE: trailers\r\n"
      "X-Done: yes\r\n\r\n";
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), request, reply)) << reply;
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
  EXPECT_EQ(app_->trailersSeen(), (std::vector<std::string>{"x-checksum: abc", "x-done: yes"}));
  // A malformed trailer section is refused as a malformed head is, before the
  // request is complete: 400.
  reply.clear();
  const std::string folded =
      "GET /balance/2 HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\nX-A: 1\r\n folded\r\n\r\n";
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), folded, reply)) << reply;
  EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
  EXPECT_EQ(app_->trailersSeen().size(), 2u) << "the folded trailer went on";
}

TEST_F(WaypointTest, ConnectionCloseInRequestTrailersNeitherEndsTheConnectionNorGoesOn) {
  // A trailer field carries no connection control (RFC 9110 6.5.1): the pipelined
  // request after it is judged and answered, and the app never sees the field.
  const std::string requests =
      "GET /balance/1 HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nConnection: close\r\nX-Checksum: abc\r\n\r\n"
      "GET /balance/2 HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n";
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), requests, reply)) << reply;
  const auto first = reply.find("HTTP/1.1 200"), second = reply.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(first, std::string::npos) << reply;
  ASSERT_NE(second, std::string::npos) << reply;
  EXPECT_NE(reply.find("GET /balance/2 served", second), std::string::npos) << reply;
  EXPECT_EQ(app_->seen(), (std::vector<std::string>{"GET /balance/1", "GET /balance/2"}));
  EXPECT_EQ(app_->trailersSeen(), std::vector<std::string>{"x-checksum: abc"});
}

TEST_F(WaypointTest, Http2RequestTrailersReachAnHttp11AppAsChunkedTrailers) {
  // An HTTP/2 client's body of no stated length goes to the HTTP/1.1 app chunked,
  // and its trailers (less hop-by-hop ones) as that body's chunked trailers.
  const std::string upload = "/tmp/we2e-h2-trailers-" + std::to_string(::getpid());
  std::ofstream(upload) << "hello";
  int rc = 0;
  std::string out =
      inCheckout({"nghttp", "-t", "5", "--no-content-length", "-d", upload, "-H", ":method: GET", "--trailer",
                  "x-checksum: abc", "--trailer", "x-done: yes", "http://" + std::string(kVip) + "/balance/1"},
                 &rc);
  std::remove(upload.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("GET /balance/1 served"), std::string::npos) << out;
  EXPECT_EQ(app_->trailersSeen(), (std::vector<std::string>{"x-checksum: abc", "x-done: yes"}));
}

TEST_F(WaypointTest, AnHttp11AppsResponseTrailersReachAnHttp11ClientAsChunkedTrailers) {
  // The app answers chunked with trailers (x-reply-trailer): they go on as the
  // chunked answer's trailers, less the fields a trailer may not carry, to a
  // client that did not send TE: trailers too (as Envoy's HTTP/1 codec does).
  const std::string request =
      "GET /balance/1 HTTP/1.1\r\nHost: l\r\nConnection: close\r\n"
      "X-Reply-Trailer: X-Checksum: abc\r\nX-Reply-Trailer: Connection: x-private\r\n"
      "X-Reply-Trailer: X-Private: 1\r\nX-Reply-Trailer: Content-Length: 5\r\nX-Reply-Trailer: X-Done: yes\r\n\r\n";
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), request, reply)) << reply;
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("transfer-encoding: chunked\r\n"), std::string::npos) << reply;
  const std::string end = "\r\nGET /balance/1 served\n\r\n0\r\nx-checksum: abc\r\nx-done: yes\r\n\r\n";
  EXPECT_EQ(reply.size() >= end.size() ? reply.substr(reply.size() - end.size()) : reply, end) << reply;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
}

TEST_F(WaypointTest, AnHttp10ClientGetsAChunkedAnswerUnchunkedAndEndedByTheClose) {
  // The request goes to the app as HTTP/1.1, which answers chunked (it has
  // trailers to send); an HTTP/1.0 client knows no chunks: it gets the bare body,
  // ended by the connection's close, and no trailers.
  const std::string request =
      "GET /balance/1 HTTP/1.0\r\nHost: l\r\nConnection: keep-alive\r\nX-Reply-Trailer: X-Checksum: abc\r\n\r\n";
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), request, reply)) << reply;
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ(reply.find("transfer-encoding"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\r\nconnection: close\r\n"), std::string::npos) << reply;
  const std::string end = "\r\n\r\nGET /balance/1 served\n";
  EXPECT_EQ(reply.size() >= end.size() ? reply.substr(reply.size() - end.size()) : reply, end) << reply;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
}

TEST_F(WaypointTest, AnHttp10KeepAliveClientIsToldTheConnectionStaysOpenThenThatItCloses) {
  // HTTP/1.0 closes after a response unless the response says keep-alive (ab -k
  // waits for the close otherwise): the first answer says it, the second (its
  // request did not ask) says close, and the waypoint closes.
  const std::string requests =
      "GET /balance/1 HTTP/1.0\r\nHost: l\r\nConnection: keep-alive\r\n\r\n"
      "GET /balance/2 HTTP/1.0\r\nHost: l\r\n\r\n";
  std::string reply;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), requests, reply)) << reply;
  const auto first = reply.find("HTTP/1.1 200"), second = reply.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(first, std::string::npos) << reply;
  ASSERT_NE(second, std::string::npos) << reply;
  const std::string one = reply.substr(first, second - first), two = reply.substr(second);
  EXPECT_NE(one.find("\r\nconnection: keep-alive\r\n"), std::string::npos) << one;
  EXPECT_NE(one.find("GET /balance/1 served"), std::string::npos) << one;
  EXPECT_NE(two.find("\r\nconnection: close\r\n"), std::string::npos) << two;
  EXPECT_NE(two.find("GET /balance/2 served"), std::string::npos) << two;
  EXPECT_EQ(app_->seen(), (std::vector<std::string>{"GET /balance/1", "GET /balance/2"}));
}

TEST_F(WaypointTest, AnHttp11AppsResponseTrailersReachAnHttp2ClientAsATrailingHeadersFrame) {
  int rc = 0;
  std::string out = inCheckout({"nghttp", "-v", "-t", "5", "-H", "te: trailers", "-H",
                                "x-reply-trailer: X-Checksum: abc", "-H", "x-reply-trailer: Connection: close", "-H",
                                "x-reply-trailer: X-Done: yes", "http://" + std::string(kVip) + "/balance/1"},
                               &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("GET /balance/1 served"), std::string::npos) << out;
  // After the body's DATA, a HEADERS frame that ends the stream carries them.
  const auto data = out.find("recv DATA frame"), checksum = out.find(") x-checksum: abc"),
             done = out.find(") x-done: yes");
  ASSERT_NE(data, std::string::npos) << out;
  ASSERT_NE(checksum, std::string::npos) << out;
  ASSERT_NE(done, std::string::npos) << out;
  EXPECT_LT(data, checksum) << out;
  const auto trailersFrame = out.find("recv HEADERS frame", checksum);
  ASSERT_NE(trailersFrame, std::string::npos) << out;
  EXPECT_NE(out.find("END_STREAM", trailersFrame), std::string::npos) << out;
  EXPECT_EQ(out.find(") connection:"), std::string::npos) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
}

// ---- a client that half-closes and is gone ----------------------------------------

class HalfClosedWaypointTest : public WaypointTest {
 protected:
  std::vector<std::string> waypointArgs() override {
    return {"--request-head-timeout", "1500", "--half-closed-timeout", "1000"};
  }
};

TEST_F(HalfClosedWaypointTest, AHalfClosedClientWhoseAnswerDoesNotMoveIsClosedAfterTheTimeout) {
  // The client sends its request and FIN; the app takes 20 s to answer. The
  // waypoint cannot tell this client from one that vanished without a reset: after
  // 1 s with nothing moving it closes, where it waited for the answer (or 300 s).
  const std::string request = "GET /balance/slow HTTP/1.1\r\nHost: l\r\nX-Reply-Delay-Ms: 20000\r\n\r\n";
  std::string reply;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), request, reply, /*halfClose=*/true))
      << "still open after 5 s: " << reply;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  EXPECT_EQ(reply, "");
  ASSERT_TRUE(eventually([&] { return !waypointAccessLog().empty(); }, 5s)) << node(0).logTail("waypoint-waypoint");
  auto log = waypointAccessLog();
  EXPECT_EQ(log[0]["path"], "/balance/slow");
  EXPECT_EQ(log[0]["response_flags"], "SI") << log[0].dump();
  // A half-closed client whose answer comes in time is answered as before.
  reply.clear();
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(),
                                 "GET /balance/1 HTTP/1.1\r\nHost: l\r\nX-Reply-Delay-Ms: 300\r\n\r\n", reply,
                                 /*halfClose=*/true));
  EXPECT_NE(reply.find("GET /balance/1 served"), std::string::npos) << reply;
}

// ---- a service with two endpoints ------------------------------------------------
//
// ledger-1 10.244.2.21 (app=ledger) next to ledger-0: requests on one client
// connection are spread over both (round robin), each on an upstream to its own
// endpoint.

class TwoEndpointWaypointTest : public WaypointTest {
 protected:
  void beforeWaypoint() override {
    ledger1_ = node(1).addPod("payments", "ledger-1", "10.244.2.21", {{"app", "ledger"}});
    ASSERT_FALSE(HasFailure());
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return knows("/var/run/netns/" + node(i).nodeNetns(), "ledger-1"); }, 10s))
          << node(i).logTail("tunnel");
  }
  void SetUp() override {
    WaypointTest::SetUp();
    ASSERT_FALSE(HasFailure());
    app1_ = HttpApp::start(node(1), ledger1_, 8080);
    ASSERT_TRUE(app1_);
    ASSERT_TRUE(eventually([&] { return knows(waypoint_.netnsPath(), "ledger-1"); }, 10s))
        << node(0).logTail("waypoint-waypoint");
  }
  void TearDown() override {
    app1_.reset();
    WaypointTest::TearDown();
  }
  // The admin config dump (a tunnel's, or the waypoint's) has workload `name`.
  bool knows(const std::string& netnsPath, const std::string& name) {
    auto r = httpRequest(netnsPath, "GET", "/config_dump", 15000);
    auto dump = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || dump.is_discarded()) return false;
    // The tunnel's dump has the state under "state"; the waypoint's is the state.
    const auto& state = dump.contains("state") ? dump["state"] : dump;
    for (const auto& w : state.value("workloads", nlohmann::json::array()))
      if (w.value("name", "") == name) return true;
    return false;
  }

  Pod ledger1_;
  std::unique_ptr<HttpApp> app1_;
};

TEST_F(TwoEndpointWaypointTest, UpstreamHostNamesTheEndpointEachRequestWentTo) {
  // Four requests on one keep-alive client connection (num_connects 1, then 0).
  const std::string base = "http://" + std::string(kVip) + "/balance/";
  const std::string w = "%{http_code} %{num_connects}\n";
  std::string out = curl({"-w", w, base + "1", "-w", w, base + "2", "-w", w, base + "3", "-w", w, base + "4"});
  EXPECT_EQ(lastCurlStatus_, 0) << out;
  EXPECT_NE(out.find("200 1\n"), std::string::npos) << out;
  EXPECT_EQ(countOf(out, "200 0\n"), 3u) << out;
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 4; }, 5s)) << node(0).logTail("waypoint-waypoint");
  // Each request is in the log of the endpoint that served it, and only there.
  std::map<std::string, std::vector<std::string>> seenAt = {{ledger_.ip + ":15008", app_->seen()},
                                                            {ledger1_.ip + ":15008", app1_->seen()}};
  std::map<std::string, int> perHost;
  for (const auto& e : waypointAccessLog()) {
    const std::string host = e.value("upstream_host", ""), request = "GET " + e.value("path", "");
    ASSERT_TRUE(seenAt.count(host)) << e.dump();
    const auto& seen = seenAt[host];
    EXPECT_NE(std::find(seen.begin(), seen.end(), request), seen.end())
        << request << " logged as sent to " << host << ", which did not see it";
    ++perHost[host];
  }
  // Round robin: both endpoints served.
  EXPECT_EQ(perHost.size(), 2u);
  EXPECT_EQ(app_->seen().size() + app1_->seen().size(), 4u);
}

// ---- an HTTP/1.1 client to a port declared http2 ---------------------------------
//
// Service payments/ledger-h2 10.96.0.22, ports named "http2" (8082) and
// "http2-nolen" (8083): their backend is nghttpd, which speaks HTTP/2 with prior
// knowledge only (an HTTP/1.1 request gets a SETTINGS frame back, which curl
// rejects as HTTP/0.9); on 8083 it states no content-length. As Envoy does for
// such ports, the waypoint sends HTTP/1.1 clients' requests upstream as HTTP/2
// and translates the answers back.

constexpr const char* kH2PortYaml = R"(
---
apiVersion: v1
kind: Service
metadata: {name: ledger-h2, namespace: payments}
spec:
  clusterIP: 10.96.0.22
  selector: {app: ledger}
  ports: [{name: http2, port: 8082, targetPort: 8082}, {name: http2-nolen, port: 8083, targetPort: 8083}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-h2-upload, namespace: payments}
spec:
  targetRefs: [{kind: Service, group: "", name: ledger-h2}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/sa-checkout"]}}]
    to: [{operation: {methods: ["POST"], paths: ["/upload"]}}]
)";

class Http2PortWaypointTest : public WaypointTest {
 protected:
  std::string clusterYaml() override { return std::string(kWaypointCluster) + kH2PortYaml; }

  void SetUp() override {
    WaypointTest::SetUp();
    ASSERT_FALSE(HasFailure());
    const std::string docroot = node(1).runDir() + "/h2-docroot";
    std::filesystem::create_directories(docroot + "/balance");
    std::ofstream(docroot + "/balance/1") << "balance of 1 over h2";
    // -v: every frame it receives is logged, the witness of what reached it.
    for (const char* port : {"8082", "8083"}) {
      std::vector<std::string> argv = {
          "nsenter", "--net=" + ledger_.netnsPath(), "nghttpd", "--no-tls", "-v", "--echo-upload", "-d", docroot, port};
      if (std::string(port) == "8083") argv.push_back("--no-content-length");
      auto p = Process::spawnWatched(argv, node(1).runDir() + "/app-h2-" + port + ".log", "listen", 10s);
      ASSERT_TRUE(p) << "nghttpd did not start";
      h2Apps_.push_back(std::move(*p));
    }
  }
  void TearDown() override {
    h2Apps_.clear();
    WaypointTest::TearDown();
  }

  // The :path of every request the HTTP/2 backend on 8082 (0) or 8083 (1) received, in order.
  // The :path of every request backend `app` has printed. Its output is read by
  // a thread through a pipe, so a line the backend wrote before answering may
  // not be here yet when the client has its answer: waits (up to 5 s) for at
  // least `expected` of them, then returns all, so extra ones still show.
  std::vector<std::string> pathsSeen(size_t app, size_t expected) {
    auto parse = [&] {
      std::vector<std::string> out;
      std::istringstream in(h2Apps_[app]->output());
      for (std::string line; std::getline(in, line);)
        if (auto at = line.find(") :path: "); at != std::string::npos) out.push_back(line.substr(at + 9));
      return out;
    };
    eventually([&] { return parse().size() >= expected; }, 5s);
    return parse();
  }

  std::vector<std::unique_ptr<Process>> h2Apps_;
};

TEST_F(Http2PortWaypointTest, Http11ClientReachesAnH2OnlyBackendWithKeepAliveABodyAndADenial) {
  const std::string base = "http://10.96.0.22:8082";
  const std::string w = "|%{http_code} %{num_connects} %{http_version}\n";
  // One client connection (num_connects 1, then 0): a GET, a POST with a body,
  // then a request the policy denies.
  std::string out = curl({"--http1.1",
                          "-w",
                          w,
                          base + "/balance/1",
                          "--next",
                          "--http1.1",
                          "--max-time",
                          "5",
                          "-w",
                          w,
                          "--data-binary",
                          "upload over h2",
                          base + "/upload",
                          "--next",
                          "--http1.1",
                          "--max-time",
                          "5",
                          "-w",
                          w,
                          base + "/admin/x"});
  EXPECT_EQ(lastCurlStatus_, 0) << out;
  EXPECT_EQ(out,
            "balance of 1 over h2|200 1 1.1\n"
            "upload over h2|200 0 1.1\n"
            "RBAC: access denied|403 0 1.1\n");
  // The backend saw both allowed requests, over HTTP/2, and never the denied one.
  EXPECT_EQ(pathsSeen(0, 2), (std::vector<std::string>{"/balance/1", "/upload"})) << h2Apps_[0]->output();

  // Telemetry reports the client's protocol, as Envoy's %PROTOCOL% does.
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 3; }, 5s)) << node(0).logTail("waypoint-waypoint");
  auto log = waypointAccessLog();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(log[i]["protocol"], "HTTP/1.1") << log[i];
    EXPECT_EQ(log[i]["request_protocol"], "http") << log[i];
  }
  EXPECT_EQ(log[0]["response_code"], 200);
  EXPECT_EQ(log[0]["upstream_host"], "10.244.2.20:15008");  // the HBONE endpoint, as for HTTP/1.1 upstreams
  EXPECT_EQ(log[1]["method"], "POST");
  EXPECT_EQ(log[1]["response_code"], 200);
  EXPECT_GT(log[1]["bytes_received"].get<uint64_t>(), std::string("upload over h2").size()) << log[1];
  EXPECT_EQ(log[2]["response_code"], 403);
}

TEST_F(Http2PortWaypointTest, AChunkedUploadAndPipelinedRequestsAreAnsweredInOrder) {
  // Two requests written at once on one connection to the port whose backend
  // states no length: a chunked POST and a GET, both answered chunked, in order.
  const std::string requests =
      "POST /upload HTTP/1.1\r\nHost: 10.96.0.22:8083\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      "GET /balance/1 HTTP/1.1\r\nHost: 10.96.0.22:8083\r\nConnection: close\r\n\r\n";
  const std::string out = connectFrom(checkout_.netnsPath(), "10.96.0.22", 8083, requests, 5s).reply;
  const auto first = out.find("HTTP/1.1 200 OK\r\n");
  ASSERT_NE(first, std::string::npos) << out;
  const auto second = out.find("HTTP/1.1 200 OK\r\n", first + 1);
  ASSERT_NE(second, std::string::npos) << out;
  const std::string echo = out.substr(first, second - first), get = out.substr(second);
  EXPECT_NE(echo.find("transfer-encoding: chunked\r\n"), std::string::npos) << echo;
  EXPECT_NE(echo.find("\r\n\r\nb\r\nhello world\r\n0\r\n\r\n"), std::string::npos) << echo;
  EXPECT_NE(get.find("transfer-encoding: chunked\r\n"), std::string::npos) << get;
  EXPECT_NE(get.find("\r\n\r\n14\r\nbalance of 1 over h2\r\n0\r\n\r\n"), std::string::npos) << get;
  EXPECT_EQ(pathsSeen(1, 2), (std::vector<std::string>{"/upload", "/balance/1"})) << h2Apps_[1]->output();
}

TEST_F(Http2PortWaypointTest, Http11RequestTrailersGoUpstreamAsAnHttp2TrailersFrame) {
  // gRPC over HTTP/1.1: the chunked request's trailers become the HTTP/2 stream's
  // trailing HEADERS frame, less the fields an HTTP/2 peer would refuse there.
  const std::string request =
      "POST /upload HTTP/1.1\r\nHost: 10.96.0.22:8082\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nConnection: x-private\r\nX-Private: 1\r\nTE: trailers\r\n"
      "Content-Length: 5\r\n\r\n";
  std::string out;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), request, out, false, "10.96.0.22", 8082)) << out;
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("hello"), std::string::npos) << out;
  EXPECT_EQ(pathsSeen(0, 1), std::vector<std::string>{"/upload"}) << h2Apps_[0]->output();
  // The trailers frame is printed after the path: it may still be in the pipe.
  EXPECT_TRUE(h2Apps_[0]->waitForOutput(") x-checksum: abc", 5s)) << h2Apps_[0]->output();
  const std::string frames = h2Apps_[0]->output();
  for (const char* dropped : {") connection:", ") x-private:", ") te:", ") content-length:"})
    EXPECT_EQ(frames.find(dropped), std::string::npos) << dropped << "\n" << frames;
}

TEST_F(Http2PortWaypointTest, AHalfClosedClientIsAnsweredFromAnHttp2Upstream) {
  // Two pipelined requests, then FIN: both go to the HTTP/2 backend in turn and
  // both answers come back before the waypoint closes.
  const std::string requests =
      "GET /balance/1 HTTP/1.1\r\nHost: 10.96.0.22:8082\r\n\r\n"
      "POST /upload HTTP/1.1\r\nHost: 10.96.0.22:8082\r\nContent-Length: 4\r\n\r\nping";
  std::string out;
  EXPECT_TRUE(sendAndReadToClose(checkout_.netnsPath(), requests, out, /*halfClose=*/true, "10.96.0.22", 8082)) << out;
  const auto balance = out.find("balance of 1 over h2"), echo = out.find("ping");
  EXPECT_NE(balance, std::string::npos) << out;
  EXPECT_NE(echo, std::string::npos) << out;
  EXPECT_LT(balance, echo) << out;
  EXPECT_EQ(pathsSeen(0, 2), (std::vector<std::string>{"/balance/1", "/upload"})) << h2Apps_[0]->output();
}

TEST_F(Http2PortWaypointTest, ClientConnectionsShareOneUpstreamHttp2Connection) {
  // 16 client connections at once, then 16 one after another, each with one
  // request: all ride one HTTP/2 connection to the backend (nghttpd numbers its
  // connections "[id=N]"), as HBONE pools share theirs.
  const std::string url = "http://10.96.0.22:8082/balance/1";
  std::vector<std::string> parallel = {"--http1.1", "--parallel", "--parallel-immediate", "--parallel-max",
                                       "16",        "-w",         "%{http_code}\n"};
  for (int i = 0; i < 16; ++i) parallel.push_back(url);
  std::string out = curl(parallel);
  EXPECT_EQ(lastCurlStatus_, 0) << out;
  EXPECT_EQ(countOf(out, "200\n"), 16u) << out;
  for (int i = 0; i < 16; ++i) {
    out = curl({"--http1.1", "-w", "%{http_code}", url});
    EXPECT_NE(out.find("balance of 1 over h2200"), std::string::npos) << out;
  }
  EXPECT_EQ(pathsSeen(0, 32).size(), 32u);
  std::set<std::string> connections;
  std::istringstream log(h2Apps_[0]->output());
  for (std::string line; std::getline(log, line);)
    if (line.rfind("[id=", 0) == 0) connections.insert(line.substr(0, line.find(']')));
  EXPECT_EQ(connections.size(), 1u) << "upstream connections: " << connections.size() << "\n"
                                    << node(0).logTail("waypoint-waypoint");
}

}  // namespace
}  // namespace warren::e2e
