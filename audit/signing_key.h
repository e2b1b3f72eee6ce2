#pragma once
// The checkpoint key: ECDSA P-256 with SHA-256 (OpenSSL 3 EVP_DigestSign). The
// tunnel signs with the private key given by --audit-key; `warrenctl audit
// verify` checks with the public key (or a certificate holding it) that the
// tunnel writes beside its files.

#include <string>
#include <string_view>

#include "common/result.h"
#include "ossl/ossl.h"

namespace warren::audit {

// A PEM private key; anything but an EC P-256 key is refused.
Result<ossl::EvpPkeyPtr> loadSigningKey(const std::string& path);
// A PEM public key or certificate; likewise P-256 only.
Result<ossl::EvpPkeyPtr> loadVerifyingKey(const std::string& path);
Result<ossl::EvpPkeyPtr> parseVerifyingKey(std::string_view pem);

// The key's public half as PEM (SubjectPublicKeyInfo).
Result<std::string> publicKeyPem(EVP_PKEY* key);

// A DER ECDSA signature of SHA-256(message).
Result<std::string> sign(EVP_PKEY* key, std::string_view message);
bool verify(EVP_PKEY* key, std::string_view message, std::string_view der);

}  // namespace warren::audit
