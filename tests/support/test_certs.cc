#include "tests/support/test_certs.h"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "common/file_io.h"
#include "common/unique_fd.h"
#include "identity/identity_manager.h"
#include "identity/local_ca.h"
#include "identity/x509_util.h"

namespace warren::testcerts {

namespace {

Status writeMode(const std::string& path, const std::string& data, mode_t mode) {
  ::unlink(path.c_str());
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return errnoError("create " + path);
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return errnoError("write " + path);
  return okStatus();
}

Result<ossl::EvpPkeyPtr> readKey(const std::string& path) {
  auto pem = readFile(path);
  if (!pem) return pem.error();
  return identity::parseKeyPem(*pem, path);
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/warren-test-XXXXXX";
  if (::mkdtemp(tmpl.data())) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Result<ossl::X509Ptr> loadCert(const std::string& path) {
  auto pem = readFile(path);
  if (!pem) return pem.error();
  auto certs = identity::parseCertsPem(*pem, path);
  if (!certs) return certs.error();
  return std::move(certs->front());
}

Status writeFile(const std::string& path, const std::string& data) { return writeMode(path, data, 0644); }

namespace {
// A leaf for `key` signed with <caDir>/ca-key.pem, carrying `sans`.
Result<ossl::X509Ptr> signLeaf(const std::string& caDir, EVP_PKEY* key, const std::vector<std::string>& sans,
                               const std::string& name, Validity validity) {
  auto caCert = loadCert(caDir + "/" + identity::LocalCa::kCaCertFile);
  if (!caCert) return caCert.error();
  auto caKey = readKey(caDir + "/" + identity::LocalCa::kCaKeyFile);
  if (!caKey) return caKey.error();
  ossl::X509Ptr leaf(X509_new());
  if (!leaf) return ossl::sslError("test cert " + name);
  X509_set_version(leaf.get(), X509_VERSION_3);
  std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>> serial(BN_new());
  BN_rand(serial.get(), 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(leaf.get()));
  X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(leaf.get(), X509_get_subject_name(caCert->get()));
  std::time_t now = std::time(nullptr);
  ASN1_TIME_set(X509_getm_notBefore(leaf.get()), now + validity.notBeforeFromNow.count());
  ASN1_TIME_set(X509_getm_notAfter(leaf.get()), now + validity.notAfterFromNow.count());
  X509_set_pubkey(leaf.get(), key);

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, caCert->get(), leaf.get(), nullptr, nullptr, 0);
  std::string sanValue;
  for (const auto& s : sans) sanValue += (sanValue.empty() ? "" : ",") + s;
  std::vector<std::pair<int, std::string>> exts = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                   {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                                                   {NID_ext_key_usage, "serverAuth,clientAuth"},
                                                   {NID_subject_key_identifier, "hash"},
                                                   {NID_authority_key_identifier, "keyid"}};
  if (!sanValue.empty()) exts.emplace_back(NID_subject_alt_name, sanValue);
  for (const auto& [nid, value] : exts)
    if (auto st = identity::addExtension(leaf.get(), &ctx, nid, value); !st) return st.error();
  if (X509_sign(leaf.get(), caKey->get(), EVP_sha256()) <= 0) return ossl::sslError("sign test cert " + name);
  return leaf;
}
}  // namespace

Result<std::string> signCsrAs(const std::string& caDir, const std::string& csrPem,
                              const std::vector<std::string>& sans) {
  ossl::BioPtr bio(BIO_new_mem_buf(csrPem.data(), static_cast<int>(csrPem.size())));
  ossl::X509ReqPtr csr(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  EVP_PKEY* pub = csr ? X509_REQ_get0_pubkey(csr.get()) : nullptr;
  if (!pub) return ossl::sslError("test CA: not a usable CSR");
  auto leaf = signLeaf(caDir, pub, sans, "csr", {});
  if (!leaf) return leaf.error();
  ERR_clear_error();
  return identity::certToPem(leaf->get());
}

Result<CertFiles> issueCert(const std::string& caDir, const std::vector<std::string>& sans, const std::string& outDir,
                            const std::string& name, Validity validity) {
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ossl::sslError("test cert key " + name);
  auto leaf = signLeaf(caDir, key.get(), sans, name, validity);
  if (!leaf) return leaf.error();

  // What an endpoint presents: the leaf and any intermediates of the CA, not roots.
  std::string leafPem = identity::certToPem(leaf->get());
  std::string chainPem = leafPem;
  auto chainFile = readFile(caDir + "/" + identity::LocalCa::kCertChainFile);
  if (!chainFile) return chainFile.error();
  auto chain = identity::parseCertsPem(*chainFile, caDir + "/" + identity::LocalCa::kCertChainFile);
  if (!chain) return chain.error();
  for (const auto& c : *chain)
    if (X509_self_signed(c.get(), 0) != 1) chainPem += identity::certToPem(c.get());

  CertFiles out{outDir + "/" + name + ".crt", outDir + "/" + name + ".key", outDir + "/" + name + "-chain.pem",
                caDir + "/" + identity::LocalCa::kRootCertFile};
  if (auto st = writeMode(out.cert, leafPem, 0644); !st) return st.error();
  auto keyPem = identity::keyToPem(key.get());
  if (!keyPem) return keyPem.error();
  if (auto st = writeMode(out.key, *keyPem, 0600); !st) return st.error();
  if (auto st = writeMode(out.chain, chainPem, 0644); !st) return st.error();
  ERR_clear_error();
  return out;
}

Result<CertFiles> issueWorkloadCert(const std::string& caDir, const identity::SpiffeId& id, const std::string& outDir,
                                    const std::string& name, Validity validity) {
  return issueCert(caDir, {"URI:" + id.uri()}, outDir, name, validity);
}

Result<CertFiles> issueDnsCert(const std::string& caDir, const std::string& outDir, const std::string& name,
                               const std::string& dnsName, Validity validity) {
  return issueCert(caDir, {"DNS:" + dnsName}, outDir, name, validity);
}

Result<CertFiles> issueFromOtherRoot(const identity::SpiffeId& id, const std::string& outDir, const std::string& name,
                                     Validity validity) {
  std::string caDir = outDir + "/" + name + "-ca";
  auto ca = identity::LocalCa::open(caDir, id.trustDomain);
  if (!ca) return ca.error();
  return issueWorkloadCert(caDir, id, outDir, name, validity);
}

}  // namespace warren::testcerts
