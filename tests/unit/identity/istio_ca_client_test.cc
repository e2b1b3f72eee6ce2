// IstioCaClient against an in-process IstioCertificateService (signing with a
// LocalCa): token and cluster metadata, validity, chain handling, trust roots, TLS,
// and errors that name the CA's address and the gRPC status.

#include "identity/istio_ca_client.h"

#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "identity/identity_manager.h"
#include "identity/local_ca.h"
#include "identity/x509_util.h"
#include "istio/v1/auth/ca.grpc.pb.h"
#include "tests/support/test_certs.h"

namespace warren::identity {
namespace {

using namespace std::chrono_literals;

const SpiffeId kApp{"cluster.local", "default", "app"};
const SpiffeId kDb{"cluster.local", "default", "db"};
// The node agent's account, trusted to impersonate (CA_TRUSTED_NODE_ACCOUNTS).
const SpiffeId kNode{"cluster.local", "warren-system", "warren"};

// Maps bearer tokens to identities, as istiod does with service-account tokens, and
// signs with a LocalCa. As istiod's CreateCertificate (security/pkg/server/ca): the
// certificate is for the caller's identity, whatever the CSR asks, unless the
// request's metadata names an ImpersonatedIdentity and the caller is a trusted
// node account; anyone else asking to impersonate is refused.
class FakeIstioCa final : public istio::v1::auth::IstioCertificateService::Service {
 public:
  FakeIstioCa(LocalCa* ca, std::string caDir) : ca_(ca), caDir_(std::move(caDir)) {}

  grpc::Status CreateCertificate(grpc::ServerContext* ctx, const istio::v1::auth::IstioCertificateRequest* req,
                                 istio::v1::auth::IstioCertificateResponse* resp) override {
    const auto& md = ctx->client_metadata();
    auto value = [&](const char* key) {
      auto it = md.find(key);
      return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
    };
    std::string auth = value("authorization");
    {
      std::lock_guard lock(mu_);
      lastClusterId_ = value("clusterid");
      lastValidity_ = req->validity_duration();
      calls_++;
    }
    const SpiffeId* caller = nullptr;
    if (auth == "Bearer app-token") caller = &kApp;
    if (auth == "Bearer db-token") caller = &kDb;
    if (auth == "Bearer node-token") caller = &kNode;
    if (!caller) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token not recognised");
    SpiffeId id = *caller;
    const auto& fields = req->metadata().fields();
    if (auto it = fields.find("ImpersonatedIdentity"); it != fields.end() && !it->second.string_value().empty()) {
      auto asked = SpiffeId::parse(it->second.string_value());
      if (!(*caller == kNode) || !asked)
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "request impersonation authentication failure");
      id = *asked;
    }
    auto chain = ca_->sign({id, req->csr(), std::chrono::seconds(req->validity_duration())});
    if (!chain) {
      // LocalCa refuses a CSR whose SAN is not `id`; istiod signs `id` whatever
      // the CSR's SAN says: the leaf for the CSR's key as `id`, then the root.
      auto leaf = testcerts::signCsrAs(caDir_, req->csr(), {"URI:" + id.uri()});
      auto root = readFile(caDir_ + "/" + LocalCa::kRootCertFile);
      if (!leaf || !root) return grpc::Status(grpc::StatusCode::INTERNAL, "test CA cannot sign");
      chain = std::vector<std::string>{*leaf, *root};
    }
    for (const auto& pem : *chain) resp->add_cert_chain(pem);
    return grpc::Status::OK;
  }

  std::string lastClusterId() {
    std::lock_guard lock(mu_);
    return lastClusterId_;
  }
  int64_t lastValidity() {
    std::lock_guard lock(mu_);
    return lastValidity_;
  }

 private:
  LocalCa* ca_;
  const std::string caDir_;
  std::mutex mu_;
  std::string lastClusterId_;
  int64_t lastValidity_ = 0;
  int calls_ = 0;
};

class IstioCaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    auto ca = LocalCa::open(caDir(), "cluster.local");
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = std::move(*ca);
    service_ = std::make_unique<FakeIstioCa>(ca_.get(), caDir());
    ASSERT_TRUE(testcerts::writeFile(tokenFile(), "app-token\n").ok());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  // Serves on 127.0.0.1:<ephemeral>, with TLS when given a server key pair.
  // The CA over TLS, presenting `server` (key and chain).
  void serveTls(const testcerts::CertFiles& server) {
    auto key = readFile(server.key);
    auto chain = readFile(server.chain);
    ASSERT_TRUE(key.ok() && chain.ok());
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *chain});
    serve(grpc::SslServerCredentials(ssl));
  }

  void serve(std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials()) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", creds, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    ASSERT_GT(port_, 0);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string caDir() const { return tmp_.file("ca"); }
  std::string tokenFile() const { return tmp_.file("token"); }

  IstioCaOptions plaintextOptions() const {
    IstioCaOptions o;
    o.address = address();
    o.tokenFile = tokenFile();
    o.clusterId = "Kubernetes";
    o.timeout = 5s;
    return o;
  }
  std::unique_ptr<IstioCaClient> client(IstioCaOptions o) {
    auto c = IstioCaClient::create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? std::move(*c) : nullptr;
  }

  testcerts::TempDir tmp_;
  std::unique_ptr<LocalCa> ca_;
  std::unique_ptr<FakeIstioCa> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(IstioCaClientTest, SignsWithTokenAndClusterId) {
  serve();
  auto c = client(plaintextOptions());
  ASSERT_TRUE(c);
  auto before = c->trustRoots();
  ASSERT_FALSE(before.ok()) << "no chain yet and no root file";
  EXPECT_NE(before.error().message.find(address()), std::string::npos);

  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  auto chain = c->sign({kApp, kc->csrPem, 7200s});
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  EXPECT_EQ(service_->lastClusterId(), "Kubernetes");
  EXPECT_EQ(service_->lastValidity(), 7200);
  auto cert = assembleCert(kApp, std::move(kc->key), *chain, 1);
  ASSERT_TRUE(cert.ok()) << cert.error().message;

  auto roots = c->trustRoots();
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  auto localRoots = ca_->trustRoots();
  ASSERT_TRUE(localRoots.ok());
  EXPECT_EQ(*roots, *localRoots) << "the last certificate of the chain";
}

TEST_F(IstioCaClientTest, WrongTokenIsUnauthenticatedAndTheTokenIsReReadEachCall) {
  serve();
  auto c = client(plaintextOptions());
  ASSERT_TRUE(c);
  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  ASSERT_TRUE(c->sign({kApp, kc->csrPem, 3600s}).ok());

  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "stolen-token").ok());
  auto refused = c->sign({kApp, kc->csrPem, 3600s});
  ASSERT_FALSE(refused.ok());
  const std::string& msg = refused.error().message;
  EXPECT_NE(msg.find("CreateCertificate at " + address()), std::string::npos) << msg;
  EXPECT_NE(msg.find("UNAUTHENTICATED"), std::string::npos) << msg;
  EXPECT_NE(msg.find("token not recognised"), std::string::npos) << msg;

  // A token for another identity authenticates, and istiod signs that token's
  // identity, never app's (the identity manager then refuses the certificate:
  // WithoutImpersonationTheCertificateIsTheTokensAndIsRefused).
  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "db-token").ok());
  auto mismatch = c->sign({kApp, kc->csrPem, 3600s});
  ASSERT_TRUE(mismatch.ok()) << mismatch.error().message;
  auto leaf = parseCertsPem(mismatch->front(), "leaf");
  ASSERT_TRUE(leaf.ok());
  auto san = peerIdentity(leaf->front().get(), "cluster.local");
  ASSERT_TRUE(san.ok()) << san.error().message;
  EXPECT_EQ(*san, kDb);

  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "app-token").ok());
  EXPECT_TRUE(c->sign({kApp, kc->csrPem, 3600s}).ok());

  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "\n").ok());
  auto empty = c->sign({kApp, kc->csrPem, 3600s});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("is empty"), std::string::npos) << empty.error().message;
}

TEST_F(IstioCaClientTest, UnreachableCaNamesAddressAndStatus) {
  // Bind, note the port, and close: nothing listens there now.
  serve();
  std::string gone = address();
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();

  auto o = plaintextOptions();
  o.address = gone;
  o.timeout = 500ms;
  auto c = client(o);
  ASSERT_TRUE(c);
  auto kc = makeKeyAndCsr(kApp);
  auto r = c->sign({kApp, kc->csrPem, 3600s});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("CreateCertificate at " + gone), std::string::npos) << r.error().message;
  EXPECT_TRUE(r.error().message.find("UNAVAILABLE") != std::string::npos ||
              r.error().message.find("DEADLINE_EXCEEDED") != std::string::npos)
      << r.error().message;
}

TEST_F(IstioCaClientTest, TlsToTheCaWithRootCertFile) {
  auto serverCert =
      testcerts::issueCert(caDir(), {"DNS:istiod.istio-system.svc", "IP:127.0.0.1"}, tmp_.path(), "istiod");
  ASSERT_TRUE(serverCert.ok()) << serverCert.error().message;
  serveTls(*serverCert);

  auto o = plaintextOptions();
  o.rootCertFile = serverCert->root;
  o.tlsServerName = "istiod.istio-system.svc";
  auto c = client(o);
  ASSERT_TRUE(c);
  // Before any chain, the roots are those of the file.
  auto roots = c->trustRoots();
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  EXPECT_EQ((*roots)[0], *readFile(serverCert->root));

  auto kc = makeKeyAndCsr(kApp);
  auto chain = c->sign({kApp, kc->csrPem, 3600s});
  ASSERT_TRUE(chain.ok()) << chain.error().message;

  // A client trusting another root refuses the CA's certificate.
  auto other = testcerts::issueFromOtherRoot(kApp, tmp_.path(), "other");
  ASSERT_TRUE(other.ok());
  auto wrong = plaintextOptions();
  wrong.rootCertFile = other->root;
  wrong.tlsServerName = "istiod.istio-system.svc";
  wrong.timeout = 2s;
  auto c2 = client(wrong);
  ASSERT_TRUE(c2);
  auto refused = c2->sign({kApp, kc->csrPem, 3600s});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find(address()), std::string::npos) << refused.error().message;

  auto missing = plaintextOptions();
  missing.rootCertFile = tmp_.file("nope.pem");
  auto bad = IstioCaClient::create(missing);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("nope.pem"), std::string::npos);
}

TEST_F(IstioCaClientTest, IdentityManagerOverIstioCa) {
  auto serverCert = testcerts::issueCert(caDir(), {"IP:127.0.0.1"}, tmp_.path(), "istiod");
  ASSERT_TRUE(serverCert.ok());
  serveTls(*serverCert);

  auto o = plaintextOptions();
  o.rootCertFile = serverCert->root;
  auto c = IstioCaClient::create(o);
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto m = IdentityManager::create(std::move(*c), {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto cert = (*m)->ensure(kApp);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ((*cert)->id, kApp);
  EXPECT_EQ(service_->lastValidity(), 24 * 3600);
  ASSERT_TRUE((*m)->reloadTrustBundle().ok());
  EXPECT_EQ((*m)->trustBundle()->generation, 2u);
}

// The tunnel asks for its pods' identities with the node agent's token: each
// request names the identity it wants (ImpersonatedIdentity), and gets it.
TEST_F(IstioCaClientTest, ANodeAgentImpersonatingGetsEachPodsIdentity) {
  serve();
  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "node-token\n").ok());
  IstioCaOptions o = plaintextOptions();
  o.impersonate = true;
  auto c = client(o);
  ASSERT_TRUE(c);
  for (const SpiffeId& id : {kApp, kDb}) {
    auto kc = makeKeyAndCsr(id);
    ASSERT_TRUE(kc.ok());
    auto chain = c->sign({id, kc->csrPem, 3600s});
    ASSERT_TRUE(chain.ok()) << chain.error().message;
    auto leaf = parseCertsPem(chain->front(), "leaf");
    ASSERT_TRUE(leaf.ok());
    auto san = peerIdentity(leaf->front().get(), "cluster.local");
    ASSERT_TRUE(san.ok()) << san.error().message;
    EXPECT_EQ(*san, id);
  }
}

// Without impersonation istiod signs the token's own identity whatever the CSR
// says: the identity manager refuses such a certificate rather than serve a pod
// under the node agent's name. And a caller that is not a trusted node account is
// refused when it asks to impersonate.
TEST_F(IstioCaClientTest, WithoutImpersonationTheCertificateIsTheTokensAndIsRefused) {
  auto serverCert = testcerts::issueCert(caDir(), {"IP:127.0.0.1"}, tmp_.path(), "istiod");
  ASSERT_TRUE(serverCert.ok());
  serveTls(*serverCert);
  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "node-token\n").ok());
  IstioCaOptions tls = plaintextOptions();
  tls.rootCertFile = serverCert->root;
  auto plain = IdentityManager::create(client(tls), {});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  auto cert = (*plain)->ensure(kApp);
  ASSERT_FALSE(cert.ok());
  EXPECT_NE(
      cert.error().message.find("CA issued a certificate for " + kNode.uri() + ", not the requested " + kApp.uri()),
      std::string::npos)
      << cert.error().message;

  ASSERT_TRUE(testcerts::writeFile(tokenFile(), "app-token\n").ok());
  IstioCaOptions o = tls;
  o.impersonate = true;
  auto c = client(o);
  ASSERT_TRUE(c);
  auto kc = makeKeyAndCsr(kDb);
  ASSERT_TRUE(kc.ok());
  auto refused = c->sign({kDb, kc->csrPem, 3600s});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("UNAUTHENTICATED"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace warren::identity
