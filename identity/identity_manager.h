#pragma once
// Holds one certificate per identity (service account) with pods on this node:
// issues on first use, renews at half the lifetime (jittered, with backoff on
// failure), and never hands out a certificate past its notAfter: callers then fail
// closed. Thread-safe: the ZDS thread calls ensure(), the loop thread current().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "identity/ca_client.h"
#include "identity/cert_event.h"
#include "identity/identity.h"
#include "identity/x509_util.h"

namespace warren::identity {

struct IdentityOptions {
  std::string trustDomain = "cluster.local";
  std::chrono::seconds certTtl{24 * 3600};
  // First retry after a failed issue/renewal; doubles up to maxBackoff, each ±20%.
  std::chrono::milliseconds initialBackoff{500};
  std::chrono::milliseconds maxBackoff{30000};
  // Tests replace the clock.
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
};

struct IdentityCounters {
  std::atomic<uint64_t> issued{0}, renewed{0}, failures{0}, expiredRefusals{0};
};

class IdentityManager {
 public:
  // Loads the trust bundle from ca->trustRoots(); fails if there is none.
  static Result<std::unique_ptr<IdentityManager>> create(std::unique_ptr<CaClient> ca, IdentityOptions options);
  ~IdentityManager();  // stops the renewal thread

  // Blocks until `id` has a valid certificate (issuing one if needed) and keeps it
  // renewed from then on. Reference-counted per id: release() when a pod leaves.
  Result<WorkloadCertPtr> ensure(const SpiffeId& id);
  void release(const SpiffeId& id);

  // Non-blocking, for the data path. An error when the id has no certificate or its
  // certificate has expired (counted in expiredRefusals, message says so and when).
  Result<WorkloadCertPtr> current(const SpiffeId& id) const;

  TrustBundlePtr trustBundle() const;
  // Re-reads the roots from the CA client; keeps the old bundle on failure.
  Status reloadTrustBundle();

  // Every certificate event from now on (the audit log's `cert` records). Called
  // with the manager's lock held, from ensure()'s caller or the renewal thread:
  // it must be quick and never call back into the manager. Clearing it (null)
  // returns once no call is running.
  using CertEventFn = std::function<void(const CertEvent&)>;
  void setEventObserver(CertEventFn fn);

  const std::string& trustDomain() const { return options_.trustDomain; }
  const IdentityCounters& counters() const { return counters_; }
  // Every held certificate, for the admin endpoint and warrenctl.
  std::vector<WorkloadCertPtr> certificates() const;
  // When the renewal of id is next due (for display); nullopt if not held.
  std::optional<std::chrono::system_clock::time_point> renewalDue(const SpiffeId& id) const;

 private:
  // One held identity. An entry lives while refs > 0, or while a CA call for it is in
  // flight (that call's completion erases it if it was released meanwhile).
  struct Entry {
    WorkloadCertPtr cert;
    int refs = 0;
    // A CA call for this id is running outside mu_; others wait on cv_ rather than
    // issue a second certificate.
    bool inFlight = false;
    std::chrono::system_clock::time_point renewAt;
    // The delay of the last retry; zero after a success (the next failure starts over).
    std::chrono::milliseconds backoff{0};
    // cert's expiry while held was reported (an `expired` event once per certificate).
    bool expiryReported = false;
  };

  IdentityManager(std::unique_ptr<CaClient> ca, IdentityOptions options);
  // Key, CSR, CA call and checks; holds caMu_ but never mu_.
  Result<WorkloadCertPtr> issue(const SpiffeId& id);
  // Under mu_.
  void scheduleRenewal(Entry& entry);
  void scheduleRetry(Entry& entry);
  void renewalLoop();
  // Under mu_: to the observer, if any.
  void emit(CertEvent::Kind kind, const SpiffeId& id, const WorkloadCertPtr& cert, std::string reason = {},
            std::string previousSerial = {});
  // Under mu_: an `expired` event for each held certificate past its notAfter.
  void reportExpiries();

  std::unique_ptr<CaClient> ca_;
  const IdentityOptions options_;
  // current() is const but counts refusals.
  mutable IdentityCounters counters_;
  std::atomic<uint64_t> nextGeneration_{1};

  // Serialises calls into ca_, so CaClient implementations need not be thread-safe.
  std::mutex caMu_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::map<SpiffeId, Entry> entries_;
  TrustBundlePtr bundle_;
  uint64_t bundleGeneration_ = 0;
  bool stopping_ = false;
  std::mt19937_64 rng_;
  CertEventFn observer_;

  std::thread thread_;  // last: started once everything above exists
};

// Makes a P-256 key and a CSR for id. Exposed for CA clients and tests.
struct KeyAndCsr {
  ossl::EvpPkeyPtr key;
  std::string csrPem;
};
Result<KeyAndCsr> makeKeyAndCsr(const SpiffeId& id);

// Builds a WorkloadCert from a CA's PEM chain (leaf first) and the key: checks that
// the leaf matches the key and carries id as its URI SAN.
Result<WorkloadCertPtr> assembleCert(const SpiffeId& id, ossl::EvpPkeyPtr key, const std::vector<std::string>& pemChain,
                                     uint64_t generation);

}  // namespace warren::identity
