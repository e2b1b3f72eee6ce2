#pragma once
// The embedded default CA: file-backed, in the layout of Istio's plug-in CA
// (https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/):
//
//   ca-cert.pem     the signing certificate (the root itself, or an intermediate)
//   ca-key.pem      its private key (mode 0600)
//   root-cert.pem   the trust roots peers verify against
//   cert-chain.pem  ca-cert followed by any intermediates up to the root
//
// An empty directory gets a self-signed P-256 root on first open. Every sign() and
// trustRoots() re-reads the files, so an operator replacing them (plugging in their
// own CA, rotating the root) takes effect without a restart.

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "identity/ca_client.h"
#include "ossl/ossl.h"

namespace warren::identity {

class LocalCa : public CaClient {
 public:
  static constexpr const char* kCaCertFile = "ca-cert.pem";
  static constexpr const char* kCaKeyFile = "ca-key.pem";
  static constexpr const char* kRootCertFile = "root-cert.pem";
  static constexpr const char* kCertChainFile = "cert-chain.pem";
  static constexpr const char* kLockFile = ".lock";

  // Creates dir if needed. With none of the four files present, generates a root
  // (under flock(<dir>/.lock), so tunnels starting together agree on one); with all
  // four present, loads and checks them; anything in between is an error.
  static Result<std::unique_ptr<LocalCa>> open(std::string dir, std::string trustDomain);

  // Verifies the CSR (signature; exactly one URI SAN, equal to req.id) and issues a
  // leaf for req.ttl. Returns leaf, ca-cert and intermediates, ending with the root.
  Result<std::vector<std::string>> sign(const CertificateRequest& req) override;
  // root-cert.pem, one PEM block per root, read on every call.
  Result<std::vector<std::string>> trustRoots() override;

  const std::string& dir() const { return dir_; }
  const std::string& trustDomain() const { return trustDomain_; }

 private:
  // The CA's files, parsed and cross-checked.
  struct Material {
    ossl::X509Ptr caCert;
    ossl::EvpPkeyPtr caKey;
    std::vector<ossl::X509Ptr> chain;  // cert-chain.pem
    std::vector<ossl::X509Ptr> roots;  // root-cert.pem
  };

  LocalCa(std::string dir, std::string trustDomain) : dir_(std::move(dir)), trustDomain_(std::move(trustDomain)) {}
  std::string path(const char* file) const { return dir_ + "/" + file; }
  Result<Material> load() const;
  Status generateRoot() const;

  std::string dir_;
  std::string trustDomain_;
};

}  // namespace warren::identity
