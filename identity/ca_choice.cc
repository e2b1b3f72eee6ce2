#include "identity/ca_choice.h"

#include "identity/istio_ca_client.h"
#include "identity/local_ca.h"

namespace warren::identity {

Result<std::unique_ptr<CaClient>> makeCaClient(const CaChoice& choice) {
  if (!choice.caAddress.empty()) {
    IstioCaOptions ca;
    ca.address = choice.caAddress;
    ca.rootCertFile = choice.caRootCert;
    ca.tokenFile = choice.caTokenFile;
    ca.clusterId = choice.clusterId;
    ca.impersonate = choice.impersonate;
    auto client = IstioCaClient::create(ca);
    if (!client) return client.error();
    return std::unique_ptr<CaClient>(std::move(*client));
  }
  auto local = LocalCa::open(choice.caDir, choice.trustDomain);
  if (!local) return local.error();
  return std::unique_ptr<CaClient>(std::move(*local));
}

Result<std::unique_ptr<IdentityManager>> makeIdentityManager(const CaChoice& choice, std::chrono::seconds certTtl) {
  auto ca = makeCaClient(choice);
  if (!ca) return withContext(ca.error(), "certificate authority");
  IdentityOptions options;
  options.trustDomain = choice.trustDomain;
  options.certTtl = certTtl;
  auto manager = IdentityManager::create(std::move(*ca), options);
  if (!manager) return withContext(manager.error(), "identity");
  return manager;
}

}  // namespace warren::identity
