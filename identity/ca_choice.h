#pragma once
// Which CA signs a proxy's workload certificates, as warren-tunnel and
// warren-waypoint choose it from their flags: Istio's CA (istiod, or any server of
// istio.v1.auth.IstioCertificateService) when an address is given, else the local
// CA files of the standalone mode. One choice for both, so a waypoint on a cluster
// with istiod is signed by the same CA as the tunnels that must trust it.

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "identity/ca_client.h"
#include "identity/identity_manager.h"

namespace warren::identity {

struct CaChoice {
  std::string caDir;        // the local CA (standalone): ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem
  std::string trustDomain;  // the local CA's SPIFFE trust domain
  std::string caAddress;    // set: Istio's CA instead (host:port)
  std::string caRootCert, caTokenFile, clusterId;
  // Istio's CA: ask for other identities than the token's (IstioCaOptions::impersonate).
  bool impersonate = false;
};

Result<std::unique_ptr<CaClient>> makeCaClient(const CaChoice& choice);

// The identity manager of a proxy over that CA: certificates of `certTtl`,
// renewed at half. Errors say which of the two could not be made.
Result<std::unique_ptr<IdentityManager>> makeIdentityManager(const CaChoice& choice, std::chrono::seconds certTtl);

}  // namespace warren::identity
