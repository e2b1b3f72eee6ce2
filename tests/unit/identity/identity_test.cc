// SPIFFE ID parsing (the exact Istio shape, nothing else), peer identity extraction
// from certificates, and trust bundle stores.

#include "identity/identity.h"

#include <gtest/gtest.h>

#include "identity/local_ca.h"
#include "tests/support/test_certs.h"

namespace warren::identity {
namespace {

TEST(SpiffeId, ParsesTheIstioShape) {
  struct Case {
    std::string uri, td, ns, sa;
  };
  const Case cases[] = {
      {"spiffe://cluster.local/ns/default/sa/bookinfo-productpage", "cluster.local", "default", "bookinfo-productpage"},
      {"spiffe://example.org/ns/istio-system/sa/ztunnel", "example.org", "istio-system", "ztunnel"},
      {"spiffe://td_1-x.y/ns/a.b/sa/Svc_Acct-1", "td_1-x.y", "a.b", "Svc_Acct-1"},
      {"spiffe://a/ns/n/sa/s", "a", "n", "s"},
  };
  for (const auto& c : cases) {
    auto id = SpiffeId::parse(c.uri);
    ASSERT_TRUE(id.ok()) << c.uri << ": " << id.error().message;
    EXPECT_EQ(id->trustDomain, c.td);
    EXPECT_EQ(id->ns, c.ns);
    EXPECT_EQ(id->serviceAccount, c.sa);
    EXPECT_EQ(id->uri(), c.uri) << "round trip";
  }
}

TEST(SpiffeId, RefusesEveryOtherShape) {
  const std::string bad[] = {
      "",
      "cluster.local/ns/a/sa/b",                                   // no scheme
      "SPIFFE://cluster.local/ns/a/sa/b",                          // scheme is lower case
      "https://cluster.local/ns/a/sa/b",                           // not SPIFFE
      "spiffe://",                                                 // nothing after the scheme
      "spiffe:///ns/a/sa/b",                                       // empty trust domain
      "spiffe://cluster.local",                                    // no path
      "spiffe://cluster.local/ns/a",                               // no service account
      "spiffe://cluster.local/ns/a/sa/b/extra",                    // extra segment
      "spiffe://cluster.local/ns/a/sa/b/",                         // trailing slash
      "spiffe://cluster.local//ns/a/sa/b",                         // empty segment
      "spiffe://cluster.local/ns//sa/b",                           // empty namespace
      "spiffe://cluster.local/ns/a/sa/",                           // empty service account
      "spiffe://cluster.local/sa/b/ns/a",                          // segments swapped
      "spiffe://cluster.local/namespace/a/sa/b",                   // wrong keyword
      "spiffe://cluster.local/ns/a/sa/b?x=1",                      // query
      "spiffe://cluster.local/ns/a/sa/b#frag",                     // fragment
      "spiffe://cluster.local/ns/a%2Fb/sa/c",                      // percent-encoding
      "spiffe://Cluster.Local/ns/a/sa/b",                          // upper-case trust domain
      "spiffe://cluster.local:443/ns/a/sa/b",                      // port
      "spiffe://user@cluster.local/ns/a/sa/b",                     // user info
      "spiffe://cluster.local/ns/../sa/b",                         // dot segment
      "spiffe://cluster.local/ns/a/sa/.",                          // dot segment
      "spiffe://cluster.local/ns/a b/sa/c",                        // space
      std::string("spiffe://cluster.local/ns/a/sa/b\0c", 34),      // embedded NUL
      "spiffe://cluster.local/ns/a/sa/" + std::string(3000, 'x'),  // too long
  };
  for (const auto& uri : bad) {
    auto id = SpiffeId::parse(uri);
    EXPECT_FALSE(id.ok()) << "accepted " << uri;
    if (!id.ok()) {
      EXPECT_NE(id.error().message.find("invalid SPIFFE ID"), std::string::npos) << id.error().message;
    }
  }
}

TEST(SpiffeId, ErrorQuotesUnprintableInput) {
  auto id = SpiffeId::parse("spiffe://cluster.local/ns/a/sa/b\n2024 forged log line");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().message.find('\n'), std::string::npos) << id.error().message;
  EXPECT_NE(id.error().message.find("\\x0a"), std::string::npos) << id.error().message;
}

TEST(SpiffeId, ComparesAsText) {
  SpiffeId a{"cluster.local", "ns1", "sa"}, b{"cluster.local", "ns2", "sa"};
  EXPECT_EQ(a, (SpiffeId{"cluster.local", "ns1", "sa"}));
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
}

class PeerIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto ca = LocalCa::open(caDir(), "cluster.local");
    ASSERT_TRUE(ca.ok()) << ca.error().message;
  }
  std::string caDir() const { return dir_.file("ca"); }

  // The leaf of a certificate with these SANs, from the test CA.
  ossl::X509Ptr certWith(const std::vector<std::string>& sans) {
    auto files = testcerts::issueCert(caDir(), sans, dir_.path(), "peer" + std::to_string(n_++));
    EXPECT_TRUE(files.ok()) << files.error().message;
    if (!files.ok()) return nullptr;
    auto cert = testcerts::loadCert(files->cert);
    EXPECT_TRUE(cert.ok());
    return cert.ok() ? std::move(*cert) : nullptr;
  }

  std::string errorFor(const std::vector<std::string>& sans) {
    auto cert = certWith(sans);
    if (!cert) return "<no cert>";
    auto id = peerIdentity(cert.get(), "cluster.local");
    EXPECT_FALSE(id.ok()) << "accepted " << id->uri();
    return id.ok() ? "" : id.error().message;
  }

  testcerts::TempDir dir_;
  int n_ = 0;
};

TEST_F(PeerIdentityTest, AcceptsOneSpiffeUriOfTheTrustDomain) {
  auto cert = certWith({"URI:spiffe://cluster.local/ns/default/sa/app", "DNS:app.default.svc"});
  ASSERT_TRUE(cert);
  auto id = peerIdentity(cert.get(), "cluster.local");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, (SpiffeId{"cluster.local", "default", "app"}));
}

TEST_F(PeerIdentityTest, ErrorsSayWhatIsWrong) {
  EXPECT_NE(errorFor({}).find("no URI SAN (no subjectAltName extension)"), std::string::npos);
  EXPECT_NE(errorFor({"DNS:client.example"}).find("no URI SAN"), std::string::npos);
  auto two = errorFor({"URI:spiffe://cluster.local/ns/a/sa/x", "URI:spiffe://cluster.local/ns/a/sa/y"});
  EXPECT_NE(two.find("2 URI SANs"), std::string::npos) << two;
  EXPECT_NE(two.find("exactly one"), std::string::npos) << two;
  auto https = errorFor({"URI:https://example.com/app"});
  EXPECT_NE(https.find("not a SPIFFE ID"), std::string::npos) << https;
  auto extra = errorFor({"URI:spiffe://cluster.local/ns/a/sa/b/c"});
  EXPECT_NE(extra.find("not a SPIFFE ID"), std::string::npos) << extra;
  auto other = errorFor({"URI:spiffe://other.example/ns/a/sa/b"});
  EXPECT_NE(other.find("trust domain \"other.example\", not \"cluster.local\""), std::string::npos) << other;

  auto none = peerIdentity(nullptr, "cluster.local");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no certificate"), std::string::npos);
}

TEST_F(PeerIdentityTest, TrustBundleStoreVerifiesItsRootsOnly) {
  auto ca = LocalCa::open(caDir(), "cluster.local");
  ASSERT_TRUE(ca.ok());
  auto roots = (*ca)->trustRoots();
  ASSERT_TRUE(roots.ok());
  TrustBundle bundle;
  bundle.trustDomain = "cluster.local";
  auto root = testcerts::loadCert(caDir() + "/root-cert.pem");
  ASSERT_TRUE(root.ok());
  bundle.roots.push_back(std::move(*root));

  SpiffeId id{"cluster.local", "default", "app"};
  auto ours = testcerts::issueWorkloadCert(caDir(), id, dir_.path(), "ours");
  auto theirs = testcerts::issueFromOtherRoot(id, dir_.path(), "theirs");
  ASSERT_TRUE(ours.ok() && theirs.ok());

  auto verify = [&](const std::string& path) {
    auto leaf = testcerts::loadCert(path);
    EXPECT_TRUE(leaf.ok());
    auto store = bundle.makeStore();
    std::unique_ptr<X509_STORE_CTX, ossl::Deleter<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), nullptr);
    bool ok = X509_verify_cert(ctx.get()) == 1;
    ERR_clear_error();
    return ok;
  };
  EXPECT_TRUE(verify(ours->cert));
  EXPECT_FALSE(verify(theirs->cert)) << "a certificate from another root must not verify";
}

}  // namespace
}  // namespace warren::identity
