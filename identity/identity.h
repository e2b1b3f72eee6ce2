#pragma once
// Workload identities: SPIFFE IDs, the certificate a tunnel holds for each, and the
// trust bundle peers are verified against.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ossl/ossl.h"

namespace warren::identity {

// spiffe://<trustDomain>/ns/<ns>/sa/<serviceAccount>, the only shape Istio issues.
struct SpiffeId {
  std::string trustDomain, ns, serviceAccount;

  std::string uri() const { return "spiffe://" + trustDomain + "/ns/" + ns + "/sa/" + serviceAccount; }
  // Refuses anything but the exact shape above (no extra path segments, no query,
  // no empty parts, no percent-encoding): an identity is compared as text.
  static Result<SpiffeId> parse(std::string_view uri);
  bool operator==(const SpiffeId&) const = default;
  auto operator<=>(const SpiffeId&) const = default;
};

// The identity of a pod: its namespace and service account ("default" when the pod
// names none, as Kubernetes does), in the trust domain.
SpiffeId workloadIdentity(const std::string& trustDomain, const std::string& ns, const std::string& serviceAccount);

// One identity's key and certificate, immutable once issued: a renewal makes a new
// one, so a TLS context or connection built from it never sees it change.
struct WorkloadCert {
  SpiffeId id;
  ossl::EvpPkeyPtr key;              // ECDSA P-256
  ossl::X509Ptr leaf;                // URI SAN = id.uri()
  std::vector<ossl::X509Ptr> chain;  // intermediates up to (not including) a root
  std::chrono::system_clock::time_point notBefore, notAfter;
  std::string serialHex;    // upper-case hex, as `openssl x509 -serial`
  std::string issuer;       // the leaf's issuer name, RFC 2253 ("O=cluster.local")
  uint64_t generation = 0;  // increases with every issue, per manager

  bool expiredAt(std::chrono::system_clock::time_point now) const { return now >= notAfter; }
};
using WorkloadCertPtr = std::shared_ptr<const WorkloadCert>;

// The roots that peers' chains must lead to, plus the trust domain their SPIFFE IDs
// must carry. Immutable; a reload makes a new bundle.
struct TrustBundle {
  std::string trustDomain;
  std::vector<ossl::X509Ptr> roots;
  uint64_t generation = 0;

  // A fresh store holding the roots (X509_STORE is refcounted by SSL_CTX; callers
  // own what this returns).
  ossl::X509StorePtr makeStore() const;
};
using TrustBundlePtr = std::shared_ptr<const TrustBundle>;

// The URI SAN of a peer's leaf certificate as a SPIFFE ID of `trustDomain`; an error
// names what is wrong (no URI SAN, several, not SPIFFE, another trust domain).
Result<SpiffeId> peerIdentity(X509* leaf, std::string_view trustDomain);

}  // namespace warren::identity
