#pragma once
// Certificates on disk for tests: workload certificates from a LocalCa directory
// with any validity (already expired included), certificates with non-SPIFFE SANs,
// and SPIFFE certificates from an unrelated root. Interop tests hand the returned
// paths to the tunnel, openssl s_client/s_server or curl.

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "identity/identity.h"
#include "ossl/ossl.h"

namespace warren::testcerts {

// A scratch directory (under $TMPDIR, else /tmp), removed with its contents on
// destruction. path() is empty if it could not be made.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Relative to now. The default is valid for an hour, backdated a minute like LocalCa.
struct Validity {
  std::chrono::seconds notBeforeFromNow{-60};
  std::chrono::seconds notAfterFromNow{3600};
};
// Expired an hour ago.
inline Validity expiredValidity() { return {std::chrono::seconds(-7200), std::chrono::seconds(-3600)}; }

struct CertFiles {
  std::string cert;   // the leaf alone
  std::string key;    // its P-256 key, PKCS#8 PEM, mode 0600
  std::string chain;  // leaf then intermediates: what a TLS endpoint presents
  std::string root;   // the trust anchor that verifies it (root-cert.pem of the CA)
};

// A leaf signed with <caDir>/ca-key.pem, carrying `sans` in OpenSSL's syntax
// ("URI:spiffe://...", "DNS:client.example", "IP:127.0.0.1"), EKU serverAuth and
// clientAuth. Writes <outDir>/<name>.crt, <name>.key and <name>-chain.pem.
Result<CertFiles> issueCert(const std::string& caDir, const std::vector<std::string>& sans, const std::string& outDir,
                            const std::string& name, Validity validity = {});

// The public key of a PEM CSR signed with <caDir>/ca-key.pem for `sans`, whatever
// the CSR asks for: what a CA that decides the identity itself (istiod) returns.
Result<std::string> signCsrAs(const std::string& caDir, const std::string& csrPem,
                              const std::vector<std::string>& sans);

// The usual workload certificate: URI SAN = id.uri() only.
Result<CertFiles> issueWorkloadCert(const std::string& caDir, const identity::SpiffeId& id, const std::string& outDir,
                                    const std::string& name, Validity validity = {});

// A certificate whose only SAN is a DNS name (default DNS:client.example): a peer
// without a SPIFFE identity.
Result<CertFiles> issueDnsCert(const std::string& caDir, const std::string& outDir, const std::string& name,
                               const std::string& dnsName = "client.example", Validity validity = {});

// A new, unrelated root (a LocalCa directory at <outDir>/<name>-ca, same trust
// domain as id) and a SPIFFE certificate from it that looks valid in every way but
// does not chain to the tunnel's root. CertFiles::root is the other root.
Result<CertFiles> issueFromOtherRoot(const identity::SpiffeId& id, const std::string& outDir, const std::string& name,
                                     Validity validity = {});

// The first certificate in a PEM file.
Result<ossl::X509Ptr> loadCert(const std::string& path);
// Writes `data` to path (mode 0644), replacing it.
Status writeFile(const std::string& path, const std::string& data);

}  // namespace warren::testcerts
