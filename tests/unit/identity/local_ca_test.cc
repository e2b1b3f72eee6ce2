// LocalCa: the embedded, file-backed CA (Istio plug-in CA layout). Generates one root
// even when tunnels start together, loads what is there, refuses broken files with
// errors that name them, and signs only what the CSR proves and the caller asked for.

#include "identity/local_ca.h"

#include <dirent.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "identity/identity_manager.h"
#include "tests/support/test_certs.h"

namespace warren::identity {
namespace {

const SpiffeId kApp{"cluster.local", "default", "app"};

// A file's bytes, or "" when it cannot be read (tests compare against it).
std::string slurp(const std::string& path) {
  auto bytes = readFile(path);
  return bytes.ok() ? *bytes : "";
}

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class LocalCaTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(tmp_.path().empty()); }
  std::string caDir() const { return tmp_.file("ca"); }
  std::unique_ptr<LocalCa> openCa(const std::string& dir) {
    auto ca = LocalCa::open(dir, "cluster.local");
    EXPECT_TRUE(ca.ok()) << ca.error().message;
    return ca.ok() ? std::move(*ca) : nullptr;
  }
  std::string openError(const std::string& dir) {
    auto ca = LocalCa::open(dir, "cluster.local");
    EXPECT_FALSE(ca.ok()) << "opened " << dir;
    return ca.ok() ? "" : ca.error().message;
  }

  testcerts::TempDir tmp_;
};

TEST_F(LocalCaTest, GeneratesARootOnFirstOpen) {
  auto ca = openCa(caDir());
  ASSERT_TRUE(ca);
  EXPECT_EQ(listDir(caDir()),
            (std::vector<std::string>{".lock", "ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"}))
      << "no temporary files left behind";
  struct stat st {};
  ASSERT_EQ(::stat((caDir() + "/ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto root = testcerts::loadCert(caDir() + "/root-cert.pem");
  ASSERT_TRUE(root.ok());
  X509* r = root->get();
  EXPECT_EQ(X509_self_signed(r, 1), 1);
  EXPECT_EQ(X509_check_ca(r), 1);
  EXPECT_TRUE(X509_get_key_usage(r) & KU_KEY_CERT_SIGN);
  EXPECT_EQ(EVP_PKEY_get_id(X509_get0_pubkey(r)), EVP_PKEY_EC);
  char org[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(r), NID_organizationName, org, sizeof(org));
  EXPECT_STREQ(org, "cluster.local");
  // Ten years, give or take the backdating.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(r), X509_get0_notAfter(r)), 1);
  EXPECT_NEAR(days, 3650, 1);
  EXPECT_EQ(slurp(caDir() + "/ca-cert.pem"), slurp(caDir() + "/root-cert.pem"));
  EXPECT_EQ(slurp(caDir() + "/cert-chain.pem"), slurp(caDir() + "/root-cert.pem"));

  auto roots = ca->trustRoots();
  ASSERT_TRUE(roots.ok());
  ASSERT_EQ(roots->size(), 1u);
  EXPECT_EQ((*roots)[0], slurp(caDir() + "/root-cert.pem"));
}

TEST_F(LocalCaTest, SecondOpenLoadsTheSameRoot) {
  auto first = openCa(caDir());
  ASSERT_TRUE(first);
  std::string root = slurp(caDir() + "/root-cert.pem");
  std::string key = slurp(caDir() + "/ca-key.pem");
  first.reset();
  auto second = openCa(caDir());
  ASSERT_TRUE(second);
  EXPECT_EQ(slurp(caDir() + "/root-cert.pem"), root);
  EXPECT_EQ(slurp(caDir() + "/ca-key.pem"), key);
  auto roots = second->trustRoots();
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ((*roots)[0], root);
}

// A complete directory is only read: it may be a read-only Secret mount, where the
// lock file cannot be made. (A directory in the lock file's place makes open(2) fail
// for root too, as a read-only mount would.)
TEST_F(LocalCaTest, CompleteDirectoryIsOpenedWithoutWritingALock) {
  ASSERT_TRUE(openCa(caDir()));
  std::filesystem::remove(caDir() + "/.lock");
  std::filesystem::create_directory(caDir() + "/.lock");
  auto again = openCa(caDir());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->trustRoots().ok());
  // An incomplete one still needs the lock (it would generate), and says why not.
  std::filesystem::remove(caDir() + "/cert-chain.pem");
  std::filesystem::remove(caDir() + "/ca-cert.pem");
  std::filesystem::remove(caDir() + "/ca-key.pem");
  std::filesystem::remove(caDir() + "/root-cert.pem");
  auto fresh = LocalCa::open(caDir(), "cluster.local");
  ASSERT_FALSE(fresh);
  EXPECT_NE(fresh.error().message.find(".lock"), std::string::npos) << fresh.error().message;
}

TEST_F(LocalCaTest, ConcurrentOpensMakeOneRoot) {
  for (int round = 0; round < 5; ++round) {
    std::string dir = tmp_.file("race" + std::to_string(round));
    Result<std::unique_ptr<LocalCa>> a = makeError("not run"), b = makeError("not run");
    std::latch go(2);
    std::thread ta([&] {
      go.arrive_and_wait();
      a = LocalCa::open(dir, "cluster.local");
    });
    std::thread tb([&] {
      go.arrive_and_wait();
      b = LocalCa::open(dir, "cluster.local");
    });
    ta.join();
    tb.join();
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    auto ra = (*a)->trustRoots();
    auto rb = (*b)->trustRoots();
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(*ra, *rb) << "round " << round;
    // Both sign under the one root on disk.
    auto kc = makeKeyAndCsr(kApp);
    ASSERT_TRUE(kc.ok());
    auto chain = (*a)->sign({kApp, kc->csrPem, std::chrono::seconds(3600)});
    ASSERT_TRUE(chain.ok()) << chain.error().message;
    EXPECT_EQ(chain->back(), (*rb)[0]);
    EXPECT_EQ(listDir(dir).size(), 5u) << "four files and the lock, no leftovers";
  }
}

TEST_F(LocalCaTest, MalformedFilesGiveClearErrors) {
  ASSERT_TRUE(openCa(caDir()));
  auto otherDir = tmp_.file("other");
  ASSERT_TRUE(openCa(otherDir));
  const std::string good = caDir();
  auto restore = [&] {
    for (const char* f : {"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"}) {
      // Rewrite from the copies kept below.
      (void)testcerts::writeFile(good + "/" + f, slurp(tmp_.file(std::string("keep-") + f)));
    }
  };
  for (const char* f : {"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"})
    ASSERT_TRUE(testcerts::writeFile(tmp_.file(std::string("keep-") + f), slurp(good + "/" + f)).ok());

  ASSERT_TRUE(testcerts::writeFile(good + "/ca-cert.pem", "not a certificate\n").ok());
  auto e = openError(good);
  EXPECT_NE(e.find(good + "/ca-cert.pem: no PEM certificate found"), std::string::npos) << e;
  restore();

  ASSERT_TRUE(
      testcerts::writeFile(good + "/ca-cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n")
          .ok());
  e = openError(good);
  EXPECT_NE(e.find("ca-cert.pem: malformed PEM certificate"), std::string::npos) << e;
  restore();

  ASSERT_TRUE(testcerts::writeFile(good + "/ca-key.pem", "garbage").ok());
  e = openError(good);
  EXPECT_NE(e.find(good + "/ca-key.pem: no usable PEM private key"), std::string::npos) << e;
  restore();

  ASSERT_TRUE(testcerts::writeFile(good + "/ca-key.pem", slurp(otherDir + "/ca-key.pem")).ok());
  e = openError(good);
  EXPECT_NE(e.find(good + "/ca-key.pem does not match " + good + "/ca-cert.pem"), std::string::npos) << e;
  restore();

  ASSERT_TRUE(testcerts::writeFile(good + "/root-cert.pem", slurp(otherDir + "/root-cert.pem")).ok());
  e = openError(good);
  EXPECT_NE(e.find("ca-cert.pem does not chain to " + good + "/root-cert.pem"), std::string::npos) << e;
  restore();

  ASSERT_EQ(::unlink((good + "/root-cert.pem").c_str()), 0);
  e = openError(good);
  EXPECT_NE(e.find("is incomplete: has ca-cert.pem, ca-key.pem, cert-chain.pem but not root-cert.pem"),
            std::string::npos)
      << e;
  EXPECT_FALSE(::access((good + "/root-cert.pem").c_str(), F_OK) == 0) << "must not fill in a missing root";
  restore();

  EXPECT_TRUE(openCa(good)) << "restored files load again";
  EXPECT_NE(LocalCa::open(tmp_.file("td"), "Bad Domain").error().message.find("invalid trust domain"),
            std::string::npos);
}

TEST_F(LocalCaTest, SignRefusesCsrForAnotherIdentity) {
  auto ca = openCa(caDir());
  ASSERT_TRUE(ca);
  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  SpiffeId admin{"cluster.local", "kube-system", "admin"};
  auto chain = ca->sign({admin, kc->csrPem, std::chrono::seconds(3600)});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().message.find("CSR's URI SAN \"" + kApp.uri() + "\" does not match the requested identity " +
                                       admin.uri()),
            std::string::npos)
      << chain.error().message;

  SpiffeId foreign{"other.example", "default", "app"};
  auto kc2 = makeKeyAndCsr(foreign);
  ASSERT_TRUE(kc2.ok());
  auto refused = ca->sign({foreign, kc2->csrPem, std::chrono::seconds(3600)});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("will not sign"), std::string::npos) << refused.error().message;

  auto garbage = ca->sign({kApp, "not a csr", std::chrono::seconds(3600)});
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not a PEM certificate request"), std::string::npos);
}

TEST_F(LocalCaTest, SignRefusesCsrWithBadSignature) {
  auto ca = openCa(caDir());
  ASSERT_TRUE(ca);
  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  // Flip the last byte of the DER (inside the signature's s value): still parses,
  // no longer verifies.
  ossl::BioPtr in(BIO_new_mem_buf(kc->csrPem.data(), static_cast<int>(kc->csrPem.size())));
  ossl::X509ReqPtr req(PEM_read_bio_X509_REQ(in.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(req);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  ASSERT_GT(len, 0);
  der[len - 1] ^= 0x01;
  const unsigned char* p = der;
  ossl::X509ReqPtr forged(d2i_X509_REQ(nullptr, &p, len));
  OPENSSL_free(der);
  ASSERT_TRUE(forged);
  ossl::BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), forged.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  auto chain = ca->sign({kApp, std::string(data, static_cast<size_t>(n)), std::chrono::seconds(3600)});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().message.find("bad signature"), std::string::npos) << chain.error().message;
}

TEST_F(LocalCaTest, IssuedLeafVerifiesAgainstTheRoot) {
  auto ca = openCa(caDir());
  ASSERT_TRUE(ca);
  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  const auto ttl = std::chrono::seconds(7200);
  std::time_t before = std::time(nullptr);
  auto chain = ca->sign({kApp, kc->csrPem, ttl});
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u) << "leaf and the self-signed root";
  EXPECT_EQ(chain->back(), slurp(caDir() + "/root-cert.pem"));

  auto leafCerts = parseCertsPem((*chain)[0], "leaf");
  ASSERT_TRUE(leafCerts.ok());
  X509* leaf = leafCerts->front().get();
  auto root = testcerts::loadCert(caDir() + "/root-cert.pem");
  ASSERT_TRUE(root.ok());

  for (int purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    ossl::X509StorePtr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), root->get());
    std::unique_ptr<X509_STORE_CTX, ossl::Deleter<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
    ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr), 1);
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    // Strict RFC 5280 checks: AKI/SKI present, critical SAN with an empty subject, ...
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())) << " purpose " << purpose;
  }

  uint32_t xku = X509_get_extended_key_usage(leaf);
  EXPECT_TRUE(xku & XKU_SSL_SERVER);
  EXPECT_TRUE(xku & XKU_SSL_CLIENT);
  uint32_t ku = X509_get_key_usage(leaf);
  EXPECT_EQ(ku, static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_check_ca(leaf), 0) << "CA:FALSE";

  // Exactly one SAN, the URI.
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_TRUE(names);
  EXPECT_EQ(sk_GENERAL_NAME_num(names), 1);
  GENERAL_NAMES_free(names);
  auto id = peerIdentity(leaf, "cluster.local");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, kApp);

  std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr));
  EXPECT_FALSE(BN_is_negative(serial.get()));
  EXPECT_GT(BN_num_bits(serial.get()), 64);
  EXPECT_LE(BN_num_bits(serial.get()), 128);

  EXPECT_EQ(X509_cmp_time(X509_get0_notBefore(leaf), nullptr), -1);
  int days = 0, secs = 0;
  ASN1_TIME* t = ASN1_TIME_set(nullptr, before - 60);
  ASN1_TIME_diff(&days, &secs, t, X509_get0_notBefore(leaf));
  EXPECT_LE(std::abs(days * 86400 + secs), 5) << "notBefore = now - 60s";
  ASN1_TIME_set(t, before + ttl.count());
  ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(leaf));
  EXPECT_LE(std::abs(days * 86400 + secs), 5) << "notAfter = now + ttl";
  ASN1_TIME_free(t);

  auto cert = assembleCert(kApp, std::move(kc->key), *chain, 7);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_TRUE((*cert)->chain.empty()) << "the root is not presented";
  EXPECT_EQ((*cert)->generation, 7u);
  EXPECT_FALSE((*cert)->serialHex.empty());

  // A TTL beyond the CA's own lifetime ends with the CA.
  auto kcLong = makeKeyAndCsr(kApp);
  auto longChain = ca->sign({kApp, kcLong->csrPem, std::chrono::seconds(INT64_MAX / 2)});
  ASSERT_TRUE(longChain.ok()) << longChain.error().message;
  auto longLeaf = parseCertsPem((*longChain)[0], "leaf");
  ASSERT_TRUE(longLeaf.ok());
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(longLeaf->front().get()), X509_get0_notAfter(root->get())), 0);

  // Two issues never share a serial.
  auto kc2 = makeKeyAndCsr(kApp);
  auto again = ca->sign({kApp, kc2->csrPem, ttl});
  ASSERT_TRUE(again.ok());
  auto cert2 = assembleCert(kApp, std::move(kc2->key), *again, 8);
  ASSERT_TRUE(cert2.ok());
  EXPECT_NE((*cert)->serialHex, (*cert2)->serialHex);
}

TEST_F(LocalCaTest, ReplacedFilesTakeEffectOnTheNextSign) {
  auto ca = openCa(caDir());
  ASSERT_TRUE(ca);
  auto otherDir = tmp_.file("other");
  ASSERT_TRUE(openCa(otherDir));
  // An operator plugs in another CA: all four files, each replaced atomically.
  for (const char* f : {"ca-key.pem", "ca-cert.pem", "cert-chain.pem", "root-cert.pem"})
    ASSERT_TRUE(testcerts::writeFile(caDir() + "/" + f, slurp(otherDir + "/" + f)).ok());

  auto kc = makeKeyAndCsr(kApp);
  ASSERT_TRUE(kc.ok());
  auto chain = ca->sign({kApp, kc->csrPem, std::chrono::seconds(3600)});
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  EXPECT_EQ(chain->back(), slurp(otherDir + "/root-cert.pem"));
  auto roots = ca->trustRoots();
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ((*roots)[0], slurp(otherDir + "/root-cert.pem"));

  // A broken replacement makes sign fail loudly rather than sign with stale material.
  ASSERT_TRUE(testcerts::writeFile(caDir() + "/ca-key.pem", "garbage").ok());
  auto broken = ca->sign({kApp, kc->csrPem, std::chrono::seconds(3600)});
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("ca-key.pem"), std::string::npos) << broken.error().message;
}

}  // namespace
}  // namespace warren::identity
