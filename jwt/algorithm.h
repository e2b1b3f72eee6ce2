#pragma once
// The JWS algorithms (RFC 7518 §3, RFC 8037) this verifier implements, and which
// keys each may use. Knowing both sides here keeps algorithm confusion out: a key
// is only ever used with the signature scheme its type was made for.

#include <openssl/evp.h>

#include <cstddef>
#include <string_view>

#include "jwt/jwks.h"

namespace warren::jwt {

enum class SignatureScheme { RsaPkcs1, RsaPss, Ecdsa, Ed25519 };

struct Algorithm {
  std::string_view name;  // the JWS "alg"
  SignatureScheme scheme;
  const EVP_MD* (*digest)();  // nullptr for EdDSA, which hashes internally
  KeyType keyType;
  std::string_view curve;  // EC and OKP: the only curve allowed; "" for RSA
  size_t coordinateBytes;  // ECDSA: bytes of r and of s in the JWS signature
};

// RS256/384/512, PS256/384/512, ES256/384/512, EdDSA; nullptr for anything else,
// HS* and "none" included.
const Algorithm* findAlgorithm(std::string_view alg);

// The key's type and curve fit the algorithm, and its own "alg", if any, is it.
bool keyFits(const Algorithm& alg, const Jwk& key);

}  // namespace warren::jwt
