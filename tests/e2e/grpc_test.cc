// gRPC through the waypoint, end to end on two nodes, with grpc++ at both ends
// (warren-grpc-demo): the client in payments/checkout, the Ledger service in
// payments/ledger on port 9090, behind Service payments/ledger-grpc (port name
// "grpc", so HTTP/2 to the upstream). The waypoint's policy allows Balance,
// Statement and Upload from checkout; Transfer matches no ALLOW rule.
//
// What gRPC needs of a proxy, each checked here: HTTP/2 to the upstream, trailers
// relayed (grpc-status lives there; without it every call fails), streaming both
// ways under flow control, and a denial the client can read (PERMISSION_DENIED).

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/cluster.h"
#include "tests/support/payments_waypoint_cluster.h"
#include "tests/support/waypoint_fixture.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGrpcTarget = "10.96.0.21:9090";

constexpr const char* kGrpcYaml = R"(
---
apiVersion: v1
kind: Service
metadata: {name: ledger-grpc, namespace: payments}
spec:
  clusterIP: 10.96.0.21
  selector: {app: ledger}
  ports: [{name: grpc, port: 9090, targetPort: 9090}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-grpc-read, namespace: payments}
spec:
  targetRefs: [{kind: Service, group: "", name: ledger-grpc}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/sa-checkout"]}}]
    to:
    - operation:
        methods: ["POST"]
        paths: ["/warren.demo.ledger.v1.Ledger/Balance", "/warren.demo.ledger.v1.Ledger/Statement",
                "/warren.demo.ledger.v1.Ledger/Upload"]
)";

class GrpcWaypointTest : public WaypointTest {
 protected:
  std::string clusterYaml() override { return std::string(kWaypointCluster) + kGrpcYaml; }

  void SetUp() override {
    WaypointTest::SetUp();
    ASSERT_FALSE(HasFailure());
    auto p = Process::spawnWatched(
        {"nsenter", "--net=" + ledger_.netnsPath(), node(1).binPath("warren-grpc-demo"), "serve", "9090"},
        node(1).runDir() + "/app-grpc.log", "listening on", 10s);
    ASSERT_TRUE(p) << "the gRPC server did not start";
    server_ = std::move(*p);
  }
  void TearDown() override {
    server_.reset();
    WaypointTest::TearDown();
  }

  // One call from checkout; its output, and its exit status (the gRPC code).
  std::string grpcCall(std::vector<std::string> args, int* code) {
    std::vector<std::string> argv = {node(0).binPath("warren-grpc-demo"), "call", kGrpcTarget};
    argv.insert(argv.end(), args.begin(), args.end());
    return inCheckout(argv, code);
  }

  // The calls the Ledger service received, in order.
  std::vector<std::string> served() {
    std::vector<std::string> out;
    std::istringstream in(server_->output());
    for (std::string line; std::getline(in, line);)
      if (line.rfind("grpc: ", 0) == 0) out.push_back(line.substr(6));
    return out;
  }

  std::string metricLine(const std::string& with) {
    auto r = httpRequest(waypoint_.netnsPath(), "GET", "/metrics", 15020);
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("istio_requests_total{", 0) == 0 && line.find(with) != std::string::npos) return line;
    return "";
  }

  std::unique_ptr<Process> server_;
};

TEST_F(GrpcWaypointTest, UnaryAndStreamingCallsPassWithTheirTrailersAndADeniedMethodIsPermissionDenied) {
  int code = -1;
  // Unary: the reply, grpc-status 0 and the server's own trailing metadata all
  // crossed the waypoint (an HTTP/1.1 upstream would have lost every trailer).
  std::string out = grpcCall({"Balance"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("balance acct-1 12345"), std::string::npos) << out;
  EXPECT_NE(out.find("status 0 "), std::string::npos) << out;
  EXPECT_NE(out.find("trailer x-ledger-audit=balance-read"), std::string::npos) << out;

  // Server streaming, 4 MiB in 256 entries: more than the stream window (1 MiB),
  // so the waypoint's flow control has to pass each window on, in order.
  out = grpcCall({"Statement", "256", "16384"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("statement entries 256 bytes 4194304 in order"), std::string::npos) << out;
  EXPECT_NE(out.find("trailer x-ledger-entries=256"), std::string::npos) << out;

  // Client streaming, 4 MiB up: request DATA relayed under the upstream's window.
  out = grpcCall({"Upload", "256", "16384"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("upload entries 256 bytes 4194304"), std::string::npos) << out;

  // Transfer matches no ALLOW rule: the client reads PERMISSION_DENIED with
  // Envoy's message, and the service never sees the call.
  out = grpcCall({"Transfer"}, &code);
  EXPECT_EQ(code, 7) << out;
  EXPECT_NE(out.find("status 7 RBAC: access denied"), std::string::npos) << out;
  EXPECT_EQ(served(), (std::vector<std::string>{"Balance", "Statement", "Upload"}));

  // Telemetry: request_protocol grpc; the denial is response_code 403 with
  // grpc_response_status 7, the allowed calls 200 with 0.
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 4; }, 5s)) << node(0).logTail("waypoint-waypoint");
  int ok = 0, denied = 0;
  for (const auto& e : waypointAccessLog()) {
    EXPECT_EQ(e["request_protocol"], "grpc") << e.dump();
    EXPECT_EQ(e["protocol"], "HTTP/2") << e.dump();
    if (e["response_code"] == 200 && e.value("grpc_status", -1) == 0) ++ok;
    if (e["path"] == "/warren.demo.ledger.v1.Ledger/Transfer" && e["response_code"] == 403 &&
        e.value("grpc_status", -1) == 7)
      ++denied;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(denied, 1);
  const std::string deniedSeries = metricLine("grpc_response_status=\"7\"");
  EXPECT_NE(deniedSeries.find("response_code=\"403\""), std::string::npos) << deniedSeries;
  EXPECT_NE(deniedSeries.find("request_protocol=\"grpc\""), std::string::npos) << deniedSeries;
  EXPECT_NE(deniedSeries.find("destination_service_name=\"ledger-grpc\""), std::string::npos) << deniedSeries;
  const std::string okSeries = metricLine("grpc_response_status=\"0\"");
  EXPECT_NE(okSeries.find("response_code=\"200\""), std::string::npos) << okSeries;
  EXPECT_EQ(okSeries.substr(okSeries.rfind(' ') + 1), "3") << okSeries;
}

TEST_F(GrpcWaypointTest, AnHttp11ClientOnTheGrpcPortGetsHttp2UpstreamAndTheTrailersItAsksFor) {
  // An HTTP/1.1 client (curl --http1.1) calling the grpc port: the waypoint sends
  // it to the grpc++ server as HTTP/2 and relays the answer as HTTP/1.1, chunked,
  // with grpc-status as a chunked trailer since the client sent "TE: trailers".
  // --raw: the body as it came on the wire, chunk framing and trailers included.
  const std::string request = node(0).runDir() + "/balance.grpc";
  std::ofstream(request, std::ios::binary) << std::string("\0\0\0\0\0", 5);  // an empty BalanceRequest
  std::string out = inCheckout({"curl", "-sS", "--max-time", "5", "--http1.1", "--raw", "-i", "-H",
                                "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@" + request,
                                std::string("http://") + kGrpcTarget + "/warren.demo.ledger.v1.Ledger/Balance"});
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("transfer-encoding: chunked\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n0\r\ngrpc-status: 0\r\n"), std::string::npos) << out;
  EXPECT_EQ(served(), (std::vector<std::string>{"Balance"}));
}

TEST_F(GrpcWaypointTest, ConcurrentStreamingCallsAllSucceedInOrder) {
  // Eight clients at once, each with its own HTTP/2 connection to the waypoint and
  // its own upstream: every stream arrives whole and in order.
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      int code = -1;
      std::string out = grpcCall({"Statement", "64", "4096"}, &code);
      if (code != 0 || out.find("statement entries 64 bytes 262144 in order") == std::string::npos) {
        ++failures;
        std::cerr << out;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(served().size(), 8u);
}

TEST_F(GrpcWaypointTest, AServiceThatIsDownIsUnavailableToTheClient) {
  int code = -1;
  std::string out = grpcCall({"Balance"}, &code);
  ASSERT_EQ(code, 0) << out;
  server_.reset();  // the Ledger service goes away (killed by its pid)
  out = grpcCall({"Balance"}, &code);
  // Envoy's words for it, as a gRPC client reads them: UNAVAILABLE.
  EXPECT_EQ(code, 14) << out;
  EXPECT_NE(out.find("status 14 upstream connect error or disconnect/reset before headers"), std::string::npos) << out;
  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 2; }, 5s));
  const auto last = waypointAccessLog().back();
  EXPECT_EQ(last["response_code"], 503) << last.dump();
  EXPECT_EQ(last["response_flags"], "UF") << last.dump();
  EXPECT_EQ(last.value("grpc_status", -1), 14) << last.dump();
}

}  // namespace
}  // namespace warren::e2e
