#include "identity/local_ca.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/file_io.h"
#include "common/unique_fd.h"
#include "identity/identity_manager.h"
#include "identity/x509_util.h"

namespace warren::identity {

namespace {

// Covers clock skew between this node and peers verifying the leaf.
constexpr long kBackdateSeconds = 60;
constexpr long kRootValiditySeconds = 10L * 365 * 24 * 3600;

using ExtStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION),
                    decltype([](STACK_OF(X509_EXTENSION) * s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); })>;
using BignumPtr = std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>>;

// Ed25519/Ed448 sign without a separate digest; everything else with SHA-256.
const EVP_MD* digestFor(EVP_PKEY* key) {
  int id = EVP_PKEY_get_id(key);
  return (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? nullptr : EVP_sha256();
}

Status setRandomSerial(X509* cert) {
  BignumPtr bn(BN_new());
  // 128 random bits, positive: unguessable, so a forged certificate cannot reuse a
  // serial, and far below the 20-octet limit.
  do {
    if (!bn || BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) return ossl::sslError("random serial");
  } while (BN_is_zero(bn.get()));
  if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) return ossl::sslError("setting serial");
  return okStatus();
}

// The URI SANs of a CSR's extension request.
Result<std::vector<std::string>> csrUris(X509_REQ* csr) {
  ExtStackPtr exts(X509_REQ_get_extensions(csr));
  int crit = 0;
  GeneralNamesPtr names(
      exts ? static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, &crit, nullptr)) : nullptr);
  ERR_clear_error();
  std::vector<std::string> uris;
  if (!names) {
    if (crit == -2) return makeError("CSR has more than one subjectAltName extension");
    if (crit >= 0) return makeError("CSR has a malformed subjectAltName extension");
    return uris;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
  }
  return uris;
}

Status addUriSan(X509* cert, const std::string& uri) {
  auto names = uriSubjectAltName(uri);
  if (!names) return names.error();
  // Critical because the subject is empty (RFC 5280 4.2.1.6): the SAN is the identity.
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names->get(), 1, X509V3_ADD_DEFAULT) != 1)
    return ossl::sslError("adding URI SAN");
  return okStatus();
}

}  // namespace

Result<std::unique_ptr<LocalCa>> LocalCa::open(std::string dir, std::string trustDomain) {
  // The trust domain ends up in every SPIFFE ID this CA signs; check it the same way.
  if (auto probe = SpiffeId::parse("spiffe://" + trustDomain + "/ns/n/sa/s"); !probe)
    return makeError("local CA: invalid trust domain \"" + trustDomain + "\"");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return makeError("create CA directory " + dir + ": " + ec.message(), ec.value());

  std::unique_ptr<LocalCa> ca(new LocalCa(std::move(dir), std::move(trustDomain)));

  // flock is per open file description, so this excludes other threads of this
  // process as well as other tunnels sharing the directory. A directory that already
  // holds all four files needs no lock (nothing will be written), and may well be
  // read-only: a Kubernetes Secret mounted as the CA directory.
  auto allPresent = [&] {
    for (const char* f : {kCaCertFile, kCaKeyFile, kRootCertFile, kCertChainFile}) {
      struct stat st {};
      if (::stat(ca->path(f).c_str(), &st) != 0) return false;
    }
    return true;
  };
  UniqueFd lock;
  if (!allPresent()) {
    std::string lockPath = ca->path(kLockFile);
    lock = UniqueFd(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) return errnoError("open " + lockPath);
    while (::flock(lock.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return errnoError("flock " + lockPath);
    }
  }

  std::vector<std::string> present, absent;
  for (const char* f : {kCaCertFile, kCaKeyFile, kRootCertFile, kCertChainFile}) {
    struct stat st {};
    if (::stat(ca->path(f).c_str(), &st) == 0) {
      present.push_back(f);
    } else if (errno == ENOENT) {
      absent.push_back(f);
    } else {
      return errnoError("stat " + ca->path(f));
    }
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  if (present.empty()) {
    if (auto st = ca->generateRoot(); !st) return withContext(st.error(), "local CA " + ca->dir_ + ": generating root");
  } else if (!absent.empty()) {
    // Never fill in the gaps: that would silently pair an operator's files with a
    // root of our own.
    return makeError("local CA " + ca->dir_ + " is incomplete: has " + join(present) + " but not " + join(absent) +
                     "; supply all four (Istio plug-in CA layout) or none to generate a root");
  }

  auto material = ca->load();
  if (!material) return withContext(material.error(), "local CA " + ca->dir_);
  char* subject = X509_NAME_oneline(X509_get_subject_name(material->caCert.get()), nullptr, 0);
  spdlog::info("identity: local CA {} ({}), signing as {}", ca->dir_,
               present.empty() ? "generated a new root" : "loaded", subject ? subject : "?");
  OPENSSL_free(subject);
  return ca;
}

Status LocalCa::generateRoot() const {
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ossl::sslError("generating P-256 key");
  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return ossl::sslError("X509_new");
  if (auto st = setRandomSerial(cert.get()); !st) return st;

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(trustDomain_.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1)
    return ossl::sslError("setting root subject");

  std::time_t now = std::time(nullptr);
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), now - kBackdateSeconds) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), now + kRootValiditySeconds) ||
      X509_set_pubkey(cert.get(), key.get()) != 1)
    return ossl::sslError("setting root validity");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE"}, std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
        std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto st = addExtension(cert.get(), &ctx, nid, value); !st) return st;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return ossl::sslError("self-signing root");

  auto keyPem = keyToPem(key.get());
  if (!keyPem) return withContext(keyPem.error(), "CA key");
  std::string certPem = certToPem(cert.get());
  // Key first and root-cert last, so that a crash part-way leaves an incomplete set,
  // which open() reports, rather than a cert without its key.
  if (auto st = writeFileAtomic(path(kCaKeyFile), *keyPem, 0600); !st) return st;
  for (const char* f : {kCaCertFile, kCertChainFile, kRootCertFile}) {
    if (auto st = writeFileAtomic(path(f), certPem, 0644); !st) return st;
  }
  // Make the renames durable before anyone signs with the new root.
  UniqueFd dirFd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirFd) ::fsync(dirFd.get());
  return okStatus();
}

Result<LocalCa::Material> LocalCa::load() const {
  Material m;
  auto caCertPem = readFile(path(kCaCertFile));
  if (!caCertPem) return caCertPem.error();
  auto caCerts = parseCertsPem(*caCertPem, path(kCaCertFile));
  if (!caCerts) return caCerts.error();
  m.caCert = std::move(caCerts->front());

  auto keyPem = readFile(path(kCaKeyFile));
  if (!keyPem) return keyPem.error();
  auto key = parseKeyPem(*keyPem, path(kCaKeyFile));
  if (!key) return key.error();
  m.caKey = std::move(*key);

  auto chainPem = readFile(path(kCertChainFile));
  if (!chainPem) return chainPem.error();
  auto chain = parseCertsPem(*chainPem, path(kCertChainFile));
  if (!chain) return chain.error();
  m.chain = std::move(*chain);

  auto rootPem = readFile(path(kRootCertFile));
  if (!rootPem) return rootPem.error();
  auto roots = parseCertsPem(*rootPem, path(kRootCertFile));
  if (!roots) return roots.error();
  m.roots = std::move(*roots);

  if (X509_check_private_key(m.caCert.get(), m.caKey.get()) != 1)
    return ossl::sslError(path(kCaKeyFile) + " does not match " + path(kCaCertFile));
  if (X509_check_ca(m.caCert.get()) == 0) return makeError(path(kCaCertFile) + " is not a CA certificate");

  // ca-cert must lead to one of the roots through cert-chain, or peers holding
  // root-cert.pem would reject every certificate we issue.
  ossl::X509StorePtr store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), decltype([](STACK_OF(X509) * s) { sk_X509_free(s); })> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, ossl::Deleter<X509_STORE_CTX_free>> vctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !vctx) return ossl::sslError("allocating verifier");
  for (auto& r : m.roots) X509_STORE_add_cert(store.get(), r.get());
  for (auto& c : m.chain) sk_X509_push(untrusted.get(), c.get());
  if (X509_STORE_CTX_init(vctx.get(), store.get(), m.caCert.get(), untrusted.get()) != 1)
    return ossl::sslError("initialising verifier");
  if (X509_verify_cert(vctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(vctx.get());
    ERR_clear_error();
    return makeError(path(kCaCertFile) + " does not chain to " + path(kRootCertFile) + ": " +
                     X509_verify_cert_error_string(err));
  }
  ERR_clear_error();
  return m;
}

Result<std::vector<std::string>> LocalCa::sign(const CertificateRequest& req) {
  const std::string uri = req.id.uri();
  if (req.id.trustDomain != trustDomain_)
    return makeError("local CA for trust domain \"" + trustDomain_ + "\" will not sign " + uri);
  if (req.ttl <= std::chrono::seconds(0)) return makeError("requested TTL for " + uri + " is not positive");

  auto m = load();
  if (!m) return withContext(m.error(), "local CA " + dir_);

  ossl::BioPtr bio(BIO_new_mem_buf(req.csrPem.data(), static_cast<int>(req.csrPem.size())));
  ossl::X509ReqPtr csr(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!csr) return ossl::sslError("CSR for " + uri + " is not a PEM certificate request");
  EVP_PKEY* pub = X509_REQ_get0_pubkey(csr.get());
  if (!pub) return ossl::sslError("CSR for " + uri + " has no usable public key");
  // Proof of possession: whoever asks holds the private key.
  if (X509_REQ_verify(csr.get(), pub) != 1) return ossl::sslError("CSR for " + uri + " has a bad signature");
  auto uris = csrUris(csr.get());
  if (!uris) return withContext(uris.error(), "CSR for " + uri);
  if (uris->size() != 1)
    return makeError("CSR for " + uri + " has " + std::to_string(uris->size()) + " URI SANs; exactly one is required");
  if ((*uris)[0] != uri)
    return makeError("CSR's URI SAN \"" + (*uris)[0] + "\" does not match the requested identity " + uri);

  ossl::X509Ptr leaf(X509_new());
  if (!leaf || X509_set_version(leaf.get(), X509_VERSION_3) != 1) return ossl::sslError("X509_new");
  if (auto st = setRandomSerial(leaf.get()); !st) return st.error();
  std::time_t now = std::time(nullptr);
  // A leaf outliving its issuer would be rejected by verifiers anyway, so it ends with
  // the CA at the latest (which also keeps a huge requested TTL from overflowing).
  std::tm caEnd{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(m->caCert.get()), &caEnd) != 1)
    return ossl::sslError(path(kCaCertFile) + ": malformed notAfter");
  std::time_t caNotAfter = timegm(&caEnd);
  std::time_t notAfter =
      caNotAfter - now < req.ttl.count() ? caNotAfter : now + static_cast<std::time_t>(req.ttl.count());
  if (X509_set_issuer_name(leaf.get(), X509_get_subject_name(m->caCert.get())) != 1 ||
      X509_set_pubkey(leaf.get(), pub) != 1 ||
      !ASN1_TIME_set(X509_getm_notBefore(leaf.get()), now - kBackdateSeconds) ||
      !ASN1_TIME_set(X509_getm_notAfter(leaf.get()), notAfter))
    return ossl::sslError("building leaf for " + uri);

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, m->caCert.get(), leaf.get(), nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
        std::pair{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        std::pair{NID_ext_key_usage, "serverAuth,clientAuth"}, std::pair{NID_subject_key_identifier, "hash"},
        std::pair{NID_authority_key_identifier, "keyid"}}) {
    if (auto st = addExtension(leaf.get(), &ctx, nid, value); !st) return withContext(st.error(), "leaf for " + uri);
  }
  if (auto st = addUriSan(leaf.get(), uri); !st) return withContext(st.error(), "leaf for " + uri);
  if (X509_sign(leaf.get(), m->caKey.get(), digestFor(m->caKey.get())) <= 0)
    return ossl::sslError("signing leaf for " + uri);

  // leaf, then ca-cert and intermediates (not roots), then the root they lead to.
  auto isRoot = [&](X509* c) {
    for (const auto& r : m->roots)
      if (X509_cmp(r.get(), c) == 0) return true;
    return false;
  };
  std::vector<X509*> mids;
  if (!isRoot(m->caCert.get())) mids.push_back(m->caCert.get());
  for (const auto& c : m->chain) {
    if (X509_cmp(c.get(), m->caCert.get()) == 0 || isRoot(c.get())) continue;
    mids.push_back(c.get());
  }
  X509* top = mids.empty() ? m->caCert.get() : mids.back();
  X509* root = m->roots.front().get();
  for (const auto& r : m->roots) {
    if (X509_check_issued(r.get(), top) == X509_V_OK) {
      root = r.get();
      break;
    }
  }
  std::vector<std::string> out{certToPem(leaf.get())};
  for (X509* c : mids) out.push_back(certToPem(c));
  out.push_back(certToPem(root));
  ERR_clear_error();
  return out;
}

Result<std::vector<std::string>> LocalCa::trustRoots() {
  auto pem = readFile(path(kRootCertFile));
  if (!pem) return pem.error();
  auto roots = parseCertsPem(*pem, path(kRootCertFile));
  if (!roots) return roots.error();
  std::vector<std::string> out;
  for (const auto& r : *roots) out.push_back(certToPem(r.get()));
  return out;
}

}  // namespace warren::identity
