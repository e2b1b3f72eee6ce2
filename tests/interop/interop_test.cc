// HBONE against an implementation no one here wrote: Node.js's TLS and HTTP/2
// (tests/interop/hbone_peer.mjs), both ways.
//  - Node as the client of Warren's HBONE server: a valid workload certificate gets
//    200 and a working byte stream; no certificate, another root, a non-SPIFFE SAN,
//    an expired certificate are refused in the TLS handshake; cleartext is refused.
//  - Node as the server for Warren's HBONE client: Warren connects, proves its
//    identity, and carries bytes.

#include <sys/prctl.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/hbone_fixture.h"
#include "tests/support/test_certs.h"

namespace warren::hbone {
namespace {

std::string peerScript() { return std::string(WARREN_SOURCE_DIR) + "/tests/interop/hbone_peer.mjs"; }

class InteropTest : public HboneFixture {
 protected:
  std::string caDir() const { return (dir_ / "ca").string(); }
  std::string outDir() const { return (dir_ / "peer").string(); }

  // Runs the Node client against the in-process HBONE server; returns its JSON line.
  nlohmann::json nodeClient(const std::string& authority, const testcerts::CertFiles* client,
                            const std::string& payload = "hello from node") {
    std::vector<std::string> argv = {"node",
                                     peerScript(),
                                     "client",
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(hbonePort_),
                                     "--authority",
                                     authority,
                                     "--ca",
                                     caDir() + "/root-cert.pem",
                                     "--payload",
                                     payload};
    if (client) argv.insert(argv.end(), {"--cert", client->chain, "--key", client->key});
    std::string out;
    int rc = e2e::runCommand(argv, &out);
    EXPECT_EQ(rc, 0) << out;
    auto j = nlohmann::json::parse(out.substr(0, out.find('\n')), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }

  void SetUp() override {
    HboneFixture::SetUp();
    std::filesystem::create_directories(outDir());
  }
};

TEST_F(InteropTest, NodeClientWithAWorkloadCertificateGets200AndAByteStream) {
  App app(App::Mode::Echo);
  auto cert = testcerts::issueWorkloadCert(caDir(), kClient, outDir(), "client");
  ASSERT_TRUE(cert) << cert.error().message;
  auto j = nodeClient("127.0.0.1:" + std::to_string(app.port()), &*cert, "bytes through warren");
  EXPECT_EQ(j["stage"], "done") << j.dump();
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["echo"], "bytes through warren");
  EXPECT_EQ(j["tls"], "TLSv1.3");
  EXPECT_EQ(j["alpn"], "h2");
  EXPECT_EQ(j["peerSan"], "URI:" + kServer.uri());
  EXPECT_EQ(app.accepted(), 1u);
}

TEST_F(InteropTest, NodeClientAuthorityOfAnotherAddressGets400) {
  App app(App::Mode::Echo);
  auto cert = testcerts::issueWorkloadCert(caDir(), kClient, outDir(), "client");
  ASSERT_TRUE(cert);
  auto j = nodeClient("127.0.0.9:" + std::to_string(app.port()), &*cert);
  EXPECT_EQ(j["status"], 400) << j.dump();
  EXPECT_EQ(app.accepted(), 0u);
}

// Each refused peer: the handshake fails, no HTTP status is ever seen, and nothing
// reaches the app.
void expectRefusedInTls(const nlohmann::json& j, const App& app, const std::string& alert) {
  EXPECT_EQ(j["stage"], "tls") << j.dump();
  EXPECT_EQ(j["error"], alert) << j.dump();
  EXPECT_FALSE(j.contains("status")) << j.dump();
  EXPECT_EQ(app.accepted(), 0u);
}

TEST_F(InteropTest, NodeClientWithoutACertificateIsRefused) {
  App app(App::Mode::Echo);
  expectRefusedInTls(nodeClient("127.0.0.1:" + std::to_string(app.port()), nullptr), app,
                     "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
}

TEST_F(InteropTest, NodeClientFromAnotherRootIsRefused) {
  App app(App::Mode::Echo);
  auto cert = testcerts::issueFromOtherRoot(kClient, outDir(), "foreign");
  ASSERT_TRUE(cert) << cert.error().message;
  expectRefusedInTls(nodeClient("127.0.0.1:" + std::to_string(app.port()), &*cert), app,
                     "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
}

TEST_F(InteropTest, NodeClientWithANonSpiffeSanIsRefused) {
  App app(App::Mode::Echo);
  auto cert = testcerts::issueDnsCert(caDir(), outDir(), "dns");
  ASSERT_TRUE(cert) << cert.error().message;
  // The chain is good; the SPIFFE check in the verify callback fails the handshake.
  expectRefusedInTls(nodeClient("127.0.0.1:" + std::to_string(app.port()), &*cert), app,
                     "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE");
}

TEST_F(InteropTest, NodeClientWithAnExpiredCertificateIsRefused) {
  App app(App::Mode::Echo);
  auto cert = testcerts::issueWorkloadCert(caDir(), kClient, outDir(), "expired", testcerts::expiredValidity());
  ASSERT_TRUE(cert) << cert.error().message;
  expectRefusedInTls(nodeClient("127.0.0.1:" + std::to_string(app.port()), &*cert), app,
                     "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED");
}

TEST_F(InteropTest, CleartextHttp2ToTheHbonePortIsRefused) {
  App app(App::Mode::Echo);
  std::string out;
  ASSERT_EQ(e2e::runCommand(
                {"node", peerScript(), "plaintext", "--host", "127.0.0.1", "--port", std::to_string(hbonePort_)}, &out),
            0);
  auto j = nlohmann::json::parse(out.substr(0, out.find('\n')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_NE(j["how"], "timeout") << out;        // the server closed on us
  EXPECT_FALSE(j["http2"].get<bool>()) << out;  // and never spoke HTTP/2 in clear
  if (j["bytes"].get<int>() > 0) {
    EXPECT_EQ(j["firstByte"], 0x15) << out;  // at most a TLS alert
  }
  EXPECT_EQ(app.accepted(), 0u);
}

// Warren's client against Node's HBONE server.
TEST_F(InteropTest, WarrenClientThroughANodeServer) {
  App app(App::Mode::Echo);
  auto serverCert = testcerts::issueWorkloadCert(caDir(), kServer, outDir(), "node-server");
  ASSERT_TRUE(serverCert) << serverCert.error().message;
  std::string log = outDir() + "/node-server.log";
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(ready[1], 1);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execlp("node", "node", peerScript().c_str(), "server", "--port", "0", "--ca",
             (caDir() + "/root-cert.pem").c_str(), "--cert", serverCert->chain.c_str(), "--key",
             serverCert->key.c_str(), nullptr);
    _exit(127);
  }
  ::close(ready[1]);
  UniqueFd out(ready[0]);
  auto readLine = [&]() {
    std::string line;
    char c;
    while (::read(out.get(), &c, 1) == 1 && c != '\n') line += c;
    return line;
  };
  // Node prints its port once it listens: the readiness signal.
  auto hello = nlohmann::json::parse(readLine(), nullptr, false);
  ASSERT_TRUE(hello.contains("listening")) << hello.dump();
  uint16_t nodePort = hello["listening"].get<uint16_t>();

  auto dial = dialFor(kServer);
  dial.address = iotest::loopback4(nodePort);
  dial.key.destination = "127.0.0.1:" + std::to_string(nodePort);
  auto s = open(app.port(), dial);
  EXPECT_EQ(roundTrip(s.app.get(), "warren to node"), "warren to node");
  auto stats = s.result.get();
  EXPECT_EQ(stats.status, 200);
  auto req = nlohmann::json::parse(readLine(), nullptr, false);
  EXPECT_EQ(req["request"], "CONNECT") << req.dump();
  EXPECT_EQ(req["peerSan"], "URI:" + kClient.uri());  // Node saw our client certificate
  EXPECT_EQ(req["forwarded"], "for=127.0.0.1");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace
}  // namespace warren::hbone
