#pragma once
// A CaClient for Istio's CA API: istio.v1.auth.IstioCertificateService/CreateCertificate,
// as istiod (or any Istio-compatible CA) serves it. Authenticates with a bearer token
// (normally a projected Kubernetes service-account token for the tunnel).

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "identity/ca_client.h"

namespace grpc {
class Channel;
}

namespace warren::identity {

// The request metadata key istiod reads the identity asked for from
// (pkg/security: ImpersonatedIdentity).
inline constexpr const char* kImpersonatedIdentityKey = "ImpersonatedIdentity";

struct IstioCaOptions {
  std::string address;  // host:port, e.g. istiod.istio-system.svc:15012
  // PEM roots for TLS to the CA. Empty means plaintext: for tests only (logged as a
  // warning), since the token and the certificates would cross the network in clear.
  std::string rootCertFile;
  // When the CA's certificate names another host than `address` (an IP, a tunnel).
  std::string tlsServerName;
  // Sent as "authorization: Bearer <token>"; re-read on every call because kubelet
  // rotates projected tokens in place. Empty: no token.
  std::string tokenFile;
  std::string clusterId;  // metadata "ClusterID" (empty: not sent)
  // Ask for each requested identity rather than the token's own: the request's
  // metadata carries "ImpersonatedIdentity" = the SPIFFE URI, as ztunnel sends it.
  // istiod signs the token's identity otherwise (it ignores the CSR's SAN), and
  // grants impersonation only to accounts in CA_TRUSTED_NODE_ACCOUNTS, for pods on
  // the caller's node. The tunnel (a node agent asking for its pods) sets it; a
  // waypoint asking for its own identity with its own token does not.
  bool impersonate = false;
  std::chrono::milliseconds timeout{10000};
};

class IstioCaClient : public CaClient {
 public:
  static Result<std::unique_ptr<IstioCaClient>> create(IstioCaOptions options);
  ~IstioCaClient() override;

  Result<std::vector<std::string>> sign(const CertificateRequest& req) override;
  // The last certificate of the most recent chain (the root the CA signs under), or,
  // before any chain, the contents of rootCertFile, re-read on each call.
  Result<std::vector<std::string>> trustRoots() override;

 private:
  struct Stub;
  IstioCaClient(IstioCaOptions options, std::shared_ptr<grpc::Channel> channel);

  const IstioCaOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;

  std::mutex mu_;
  std::string lastRootPem_;  // guarded by mu_
};

}  // namespace warren::identity
