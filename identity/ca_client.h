#pragma once
// Where workload certificates come from. Two implementations: LocalCa (the embedded
// default: a file-backed CA, Istio's "plug-in CA" files) and IstioCaClient (a gRPC
// client of istio.v1.auth.IstioCertificateService/CreateCertificate).

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "identity/identity.h"

namespace warren::identity {

struct CertificateRequest {
  SpiffeId id;
  std::string csrPem;  // PKCS#10, ECDSA P-256, URI SAN = id.uri()
  std::chrono::seconds ttl{24 * 3600};
};

class CaClient {
 public:
  virtual ~CaClient() = default;
  // Signs the CSR. Returns the chain as PEM blocks, leaf first, as Istio's
  // IstioCertificateResponse.cert_chain does (the root may or may not be last).
  // Blocking; called from the identity thread, never the data path.
  virtual Result<std::vector<std::string>> sign(const CertificateRequest& req) = 0;
  // The current trust roots (PEM), read fresh on every call so an operator's
  // replacement is picked up by a reload.
  virtual Result<std::vector<std::string>> trustRoots() = 0;
};

}  // namespace warren::identity
