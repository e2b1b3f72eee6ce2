#pragma once
// TLS contexts for HBONE: TLS 1.3 only, ALPN "h2", mutual authentication by SPIFFE
// identity. A context is built from one workload certificate and one trust bundle
// and never changes; a renewal or a bundle reload builds a new one (connections keep
// the context they started with).

#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "identity/identity.h"
#include "ossl/ossl.h"

namespace warren::tls {

enum class Role { Client, Server };

class TlsContext {
 public:
  // The peer's chain must verify against bundle's roots, and its leaf must carry
  // exactly one SPIFFE URI SAN in bundle's trust domain; otherwise the handshake
  // fails with an alert (the server also refuses a client without a certificate,
  // and a client that does not offer ALPN "h2").
  static Result<std::shared_ptr<const TlsContext>> create(Role role, identity::WorkloadCertPtr cert,
                                                          identity::TrustBundlePtr bundle);

  SSL_CTX* get() const { return ctx_.get(); }
  const identity::WorkloadCert& cert() const { return *cert_; }
  const identity::TrustBundle& bundle() const { return *bundle_; }
  Role role() const { return role_; }

 private:
  TlsContext(Role role, identity::WorkloadCertPtr cert, identity::TrustBundlePtr bundle)
      : role_(role), cert_(std::move(cert)), bundle_(std::move(bundle)) {}
  Role role_;
  identity::WorkloadCertPtr cert_;
  identity::TrustBundlePtr bundle_;
  ossl::SslCtxPtr ctx_;
};
using TlsContextPtr = std::shared_ptr<const TlsContext>;

// Reuses a context while its certificate and bundle are current. Loop thread only.
class TlsContextCache {
 public:
  Result<TlsContextPtr> get(Role role, const identity::WorkloadCertPtr& cert, const identity::TrustBundlePtr& bundle);

 private:
  std::map<std::pair<Role, std::string>, TlsContextPtr> byIdentity_;  // (role, SPIFFE URI)
};

// After a handshake: the peer's SPIFFE identity (the verify callback has already
// checked it is there and in the trust domain).
Result<identity::SpiffeId> handshakePeerIdentity(SSL* ssl, const std::string& trustDomain);

// "TLSv1.3" and the negotiated ALPN ("h2"), for logs.
std::string describeSession(SSL* ssl);

}  // namespace warren::tls
