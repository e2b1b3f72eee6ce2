#pragma once
// X.509 and PEM plumbing shared by the CA clients, the local CA and the identity
// manager (and the tests' certificate issuer): parsing and encoding certificates and
// keys, adding extensions, the SPIFFE URI SAN.

#include <openssl/x509v3.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ossl/ossl.h"

namespace warren::identity {

using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, ossl::Deleter<GENERAL_NAMES_free>>;

// Every certificate in `pem` (at least one; an error names `what`).
Result<std::vector<ossl::X509Ptr>> parseCertsPem(std::string_view pem, const std::string& what);
// One certificate as a PEM block.
std::string certToPem(X509* cert);

// A PEM private key. Encrypted keys are refused (never a passphrase prompt on the
// tunnel's terminal); an error names `what`.
Result<ossl::EvpPkeyPtr> parseKeyPem(std::string_view pem, const std::string& what);
// A private key as unencrypted PKCS#8 PEM.
Result<std::string> keyToPem(EVP_PKEY* key);

// Adds an extension given in openssl.cnf syntax ("critical,CA:FALSE"), with ctx
// naming issuer and subject (for key identifiers).
Status addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value);

// A subjectAltName holding exactly one URI: how a SPIFFE ID travels, in a CSR and
// in the certificate issued for it.
Result<GeneralNamesPtr> uriSubjectAltName(const std::string& uri);

}  // namespace warren::identity
