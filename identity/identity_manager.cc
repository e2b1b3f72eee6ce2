#include "identity/identity_manager.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include <spdlog/spdlog.h>

namespace warren::identity {

namespace {

using Clock = std::chrono::system_clock;

// The renewal thread re-reads the clock at least this often, so a stepped system
// clock (or a test's fake one) cannot leave a renewal waiting on a stale deadline.
constexpr auto kMaxSleep = std::chrono::seconds(1);

std::string formatTime(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Clock::time_point> asn1Time(const ASN1_TIME* t, const char* what) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return ossl::sslError(std::string("certificate ") + what + " is malformed");
  return Clock::from_time_t(timegm(&tm));
}

// RFC 2253, as `openssl x509 -issuer -nameopt RFC2253` prints it.
std::string nameString(const X509_NAME* name) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string serialHex(X509* cert) {
  std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  if (!hex) return "";
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

// A uniform factor in [1 - spread, 1 + spread] applied to d.
template <typename Duration>
Duration jitter(Duration d, double spread, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(1.0 - spread, 1.0 + spread);
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, typename Duration::period>(static_cast<double>(d.count()) * dist(rng)));
}

}  // namespace

Result<KeyAndCsr> makeKeyAndCsr(const SpiffeId& id) {
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ossl::sslError("generating P-256 key for " + id.uri());

  ossl::X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1)
    return ossl::sslError("building CSR for " + id.uri());

  // The identity travels only as the URI SAN; the subject stays empty, as in Istio's
  // CSRs, which makes the SAN critical (RFC 5280 4.2.1.6).
  std::string uri = id.uri();
  auto names = uriSubjectAltName(uri);
  if (!names) return withContext(names.error(), "CSR for " + uri);
  X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 1, names->get());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  bool added = ext && exts && sk_X509_EXTENSION_push(exts, ext) > 0;
  if (!added) X509_EXTENSION_free(ext);
  added = added && X509_REQ_add_extensions(req.get(), exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!added) return ossl::sslError("adding SAN to CSR for " + uri);

  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) return ossl::sslError("signing CSR for " + uri);

  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) return ossl::sslError("encoding CSR for " + uri);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return KeyAndCsr{std::move(key), std::string(data, static_cast<size_t>(len))};
}

Result<WorkloadCertPtr> assembleCert(const SpiffeId& id, ossl::EvpPkeyPtr key, const std::vector<std::string>& pemChain,
                                     uint64_t generation) {
  if (!key) return makeError("no private key for " + id.uri());
  if (pemChain.empty()) return makeError("CA returned an empty certificate chain for " + id.uri());
  std::vector<ossl::X509Ptr> certs;
  for (size_t i = 0; i < pemChain.size(); ++i) {
    // An element may hold several blocks (some CAs send the chain as one string).
    auto parsed = parseCertsPem(pemChain[i], "certificate chain element " + std::to_string(i));
    if (!parsed) return parsed.error();
    for (auto& c : *parsed) certs.push_back(std::move(c));
  }

  X509* leaf = certs[0].get();
  if (X509_check_private_key(leaf, key.get()) != 1)
    return ossl::sslError("CA's leaf certificate for " + id.uri() + " does not match the requested key");
  auto san = peerIdentity(leaf, id.trustDomain);
  if (!san) return withContext(san.error(), "CA's leaf certificate for " + id.uri());
  if (*san != id) return makeError("CA issued a certificate for " + san->uri() + ", not the requested " + id.uri());

  auto nb = asn1Time(X509_get0_notBefore(leaf), "notBefore");
  if (!nb) return nb.error();
  auto na = asn1Time(X509_get0_notAfter(leaf), "notAfter");
  if (!na) return na.error();

  auto out = std::make_shared<WorkloadCert>();
  out->id = id;
  out->key = std::move(key);
  out->notBefore = *nb;
  out->notAfter = *na;
  out->serialHex = serialHex(leaf);
  out->issuer = nameString(X509_get_issuer_name(leaf));
  out->generation = generation;
  out->leaf = std::move(certs[0]);
  for (size_t i = 1; i < certs.size(); ++i) {
    // Roots belong in the trust bundle, not in what we present.
    if (X509_self_signed(certs[i].get(), 0) == 1) continue;
    out->chain.push_back(std::move(certs[i]));
  }
  ERR_clear_error();
  return WorkloadCertPtr(std::move(out));
}

// ---------------------------------------------------------------------------------

IdentityManager::IdentityManager(std::unique_ptr<CaClient> ca, IdentityOptions options)
    : ca_(std::move(ca)), options_(std::move(options)), rng_(std::random_device{}()) {}

Result<std::unique_ptr<IdentityManager>> IdentityManager::create(std::unique_ptr<CaClient> ca,
                                                                 IdentityOptions options) {
  if (!ca) return makeError("identity manager needs a CA client");
  if (options.trustDomain.empty()) return makeError("identity manager needs a trust domain");
  if (options.certTtl <= std::chrono::seconds(0)) return makeError("certificate TTL must be positive");
  if (options.initialBackoff <= std::chrono::milliseconds(0) || options.maxBackoff < options.initialBackoff)
    return makeError("backoff must be positive with maxBackoff >= initialBackoff");
  if (!options.now) return makeError("identity manager needs a clock");

  std::unique_ptr<IdentityManager> m(new IdentityManager(std::move(ca), std::move(options)));
  if (auto st = m->reloadTrustBundle(); !st) return withContext(st.error(), "loading trust bundle");
  m->thread_ = std::thread([raw = m.get()] { raw->renewalLoop(); });
  return m;
}

IdentityManager::~IdentityManager() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<WorkloadCertPtr> IdentityManager::issue(const SpiffeId& id) {
  auto kc = makeKeyAndCsr(id);
  if (!kc) return kc.error();
  CertificateRequest req{id, kc->csrPem, options_.certTtl};
  Result<std::vector<std::string>> chain = [&] {
    std::lock_guard ca(caMu_);
    return ca_->sign(req);
  }();
  if (!chain) return withContext(chain.error(), "issuing certificate for " + id.uri());
  auto cert = assembleCert(id, std::move(kc->key), *chain, nextGeneration_.fetch_add(1));
  if (!cert) return cert;
  if ((*cert)->expiredAt(options_.now()))
    return makeError("CA returned a certificate for " + id.uri() + " that expired at " + formatTime((*cert)->notAfter));
  return cert;
}

void IdentityManager::scheduleRenewal(Entry& entry) {
  // Half the lifetime, counted from when we got the certificate rather than from
  // notBefore: CAs backdate notBefore for clock skew (LocalCa by 60 s), which for a
  // short TTL would otherwise put the renewal in the past.
  auto now = options_.now();
  auto start = std::max(now, entry.cert->notBefore);
  auto half = (entry.cert->notAfter - start) / 2;
  // ±10% so that identities issued together (a node full of pods starting at once)
  // do not all renew in the same instant.
  entry.renewAt = start + jitter(std::chrono::duration_cast<std::chrono::milliseconds>(half), 0.10, rng_);
  entry.backoff = std::chrono::milliseconds(0);
}

void IdentityManager::scheduleRetry(Entry& entry) {
  entry.backoff =
      entry.backoff.count() == 0 ? options_.initialBackoff : std::min(entry.backoff * 2, options_.maxBackoff);
  entry.renewAt = options_.now() + jitter(entry.backoff, 0.20, rng_);
}

Result<WorkloadCertPtr> IdentityManager::ensure(const SpiffeId& id) {
  if (id.trustDomain != options_.trustDomain)
    return makeError("identity " + id.uri() + " is not in this tunnel's trust domain \"" + options_.trustDomain + "\"");

  std::unique_lock lock(mu_);
  entries_[id].refs++;
  while (true) {
    // refs > 0 (ours) keeps the entry alive across the waits below.
    Entry& entry = entries_.at(id);
    if (entry.cert && !entry.cert->expiredAt(options_.now())) return entry.cert;
    if (entry.inFlight) {
      cv_.wait(lock);
      continue;
    }
    entry.inFlight = true;
    lock.unlock();
    auto fresh = issue(id);
    lock.lock();

    Entry& after = entries_.at(id);
    after.inFlight = false;
    cv_.notify_all();
    if (!fresh) {
      counters_.failures++;
      spdlog::warn("identity: {}", fresh.error().message);
      emit(CertEvent::Kind::Failed, id, after.cert, fresh.error().message);
      // The caller gets no reference on failure.
      if (--after.refs == 0) entries_.erase(id);
      return fresh.error();
    }
    // A certificate that had expired while held is replaced: an issue, as it was
    // for a new identity, but the record says which one it replaced.
    const std::string previous = after.cert ? after.cert->serialHex : "";
    after.cert = *fresh;
    after.expiryReported = false;
    scheduleRenewal(after);
    counters_.issued++;
    emit(CertEvent::Kind::Issued, id, after.cert, {}, previous);
    spdlog::info("identity: issued {} serial {} (generation {}), valid until {}, renewal due {}", id.uri(),
                 after.cert->serialHex, after.cert->generation, formatTime(after.cert->notAfter),
                 formatTime(after.renewAt));
    return after.cert;
  }
}

void IdentityManager::release(const SpiffeId& id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.refs == 0) return;
  if (--it->second.refs > 0) return;
  // An in-flight CA call still refers to the entry; it erases it when it returns.
  if (!it->second.inFlight) entries_.erase(it);
  cv_.notify_all();
}

Result<WorkloadCertPtr> IdentityManager::current(const SpiffeId& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.refs == 0 || !it->second.cert)
    return makeError("no certificate for " + id.uri());
  const WorkloadCertPtr& cert = it->second.cert;
  if (cert->expiredAt(options_.now())) {
    counters_.expiredRefusals++;
    return makeError("certificate for " + id.uri() + " expired at " + formatTime(cert->notAfter) +
                     "; refusing (fail closed)");
  }
  return cert;
}

void IdentityManager::renewalLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    reportExpiries();
    auto now = options_.now();
    const SpiffeId* due = nullptr;
    Clock::time_point dueAt = Clock::time_point::max();
    for (const auto& [id, entry] : entries_) {
      // Entries without a certificate are still being issued by ensure().
      if (entry.inFlight || entry.refs == 0 || !entry.cert) continue;
      if (entry.renewAt < dueAt) {
        dueAt = entry.renewAt;
        due = &id;
      }
    }
    if (!due || dueAt > now) {
      auto wait = due ? std::min<Clock::duration>(dueAt - now, kMaxSleep) : Clock::duration(kMaxSleep);
      cv_.wait_for(lock, wait);
      continue;
    }

    SpiffeId id = *due;
    entries_.at(id).inFlight = true;
    lock.unlock();
    auto fresh = issue(id);
    lock.lock();

    auto it = entries_.find(id);
    Entry& entry = it->second;
    entry.inFlight = false;
    cv_.notify_all();
    if (entry.refs == 0) {
      entries_.erase(it);  // released while we were at the CA
      continue;
    }
    if (fresh) {
      const std::string previous = entry.cert->serialHex;
      entry.cert = *fresh;
      entry.expiryReported = false;
      scheduleRenewal(entry);
      counters_.renewed++;
      emit(CertEvent::Kind::Rotated, id, entry.cert, {}, previous);
      spdlog::info("identity: renewed {} serial {} (generation {}), valid until {}, next renewal {}", id.uri(),
                   entry.cert->serialHex, entry.cert->generation, formatTime(entry.cert->notAfter),
                   formatTime(entry.renewAt));
    } else {
      counters_.failures++;
      scheduleRetry(entry);
      spdlog::warn("identity: renewal failed, retrying at {} (current certificate valid until {}): {}",
                   formatTime(entry.renewAt), formatTime(entry.cert->notAfter), fresh.error().message);
      emit(CertEvent::Kind::Failed, id, entry.cert, "renewal: " + fresh.error().message);
    }
  }
}

std::string_view certEventName(CertEvent::Kind k) {
  switch (k) {
    case CertEvent::Kind::Issued: return "issued";
    case CertEvent::Kind::Rotated: return "rotated";
    case CertEvent::Kind::Failed: return "failed";
    case CertEvent::Kind::Expired: return "expired";
  }
  return "?";
}

void IdentityManager::setEventObserver(CertEventFn fn) {
  std::lock_guard lock(mu_);
  observer_ = std::move(fn);
}

void IdentityManager::emit(CertEvent::Kind kind, const SpiffeId& id, const WorkloadCertPtr& cert, std::string reason,
                           std::string previousSerial) {
  if (!observer_) return;
  observer_(CertEvent{kind, id, cert, std::move(previousSerial), std::move(reason), options_.now()});
}

void IdentityManager::reportExpiries() {
  const auto now = options_.now();
  for (auto& [id, entry] : entries_) {
    // Held (refs) and past notAfter: current() refuses it, the pods' connections fail.
    if (entry.refs == 0 || !entry.cert || entry.expiryReported || !entry.cert->expiredAt(now)) continue;
    entry.expiryReported = true;
    spdlog::error(
        "identity: the certificate for {} (serial {}) expired at {} while in use: no renewal succeeded; "
        "its pods' connections are refused until one does",
        id.uri(), entry.cert->serialHex, formatTime(entry.cert->notAfter));
    emit(CertEvent::Kind::Expired, id, entry.cert,
         "expired while in use: no renewal succeeded before " + formatTime(entry.cert->notAfter));
  }
}

TrustBundlePtr IdentityManager::trustBundle() const {
  std::lock_guard lock(mu_);
  return bundle_;
}

Status IdentityManager::reloadTrustBundle() {
  Result<std::vector<std::string>> pems = [&] {
    std::lock_guard ca(caMu_);
    return ca_->trustRoots();
  }();
  if (!pems) return withContext(pems.error(), "reading trust roots");
  if (pems->empty()) return makeError("CA has no trust roots");

  auto bundle = std::make_shared<TrustBundle>();
  bundle->trustDomain = options_.trustDomain;
  for (size_t i = 0; i < pems->size(); ++i) {
    auto certs = parseCertsPem((*pems)[i], "trust root " + std::to_string(i));
    if (!certs) return certs.error();
    for (auto& c : *certs) bundle->roots.push_back(std::move(c));
  }

  std::lock_guard lock(mu_);
  bundle->generation = ++bundleGeneration_;
  bundle_ = std::move(bundle);
  spdlog::info("identity: trust bundle generation {} with {} root(s)", bundle_->generation, bundle_->roots.size());
  return okStatus();
}

std::vector<WorkloadCertPtr> IdentityManager::certificates() const {
  std::lock_guard lock(mu_);
  std::vector<WorkloadCertPtr> out;
  for (const auto& [id, entry] : entries_)
    if (entry.refs > 0 && entry.cert) out.push_back(entry.cert);
  return out;
}

std::optional<std::chrono::system_clock::time_point> IdentityManager::renewalDue(const SpiffeId& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.refs == 0 || !it->second.cert) return std::nullopt;
  return it->second.renewAt;
}

}  // namespace warren::identity
