#pragma once
// JSON Web Key Sets (RFC 7517) as the verifier holds them: public keys already in
// OpenSSL form, built once when a JWKS arrives and never per request. A parsed
// KeySet is immutable; share it (shared_ptr<const KeySet>) between threads.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "ossl/ossl.h"

namespace warren::jwt {

using PkeyPtr = ossl::EvpPkeyPtr;

enum class KeyType { Rsa, Ec, Ed25519 };

struct Jwk {
  KeyType type = KeyType::Rsa;
  std::string curve;               // "P-256", "P-384", "P-521", "Ed25519"; "" for RSA
  std::optional<std::string> kid;  // absent: the key is a candidate for any token kid
  std::optional<std::string> alg;  // present: only tokens with exactly this alg
  std::string use;                 // "sig" or "" (keys for anything else are skipped)
  PkeyPtr key;                     // the public key
};

// A key of the document that the set does not hold, and why.
struct SkippedKey {
  size_t index = 0;  // position in "keys"
  std::string kid;   // "" when it had none
  std::string reason;
  // true for a kty, crv or alg this verifier does not implement (oct, Ed448,
  // RSA-OAEP...); false for a key it implements but could not use (bad numbers,
  // a point off the curve, use "enc").
  bool unsupported = false;
};

struct KeySet {
  std::vector<Jwk> keys;
  std::vector<SkippedKey> skipped;

  size_t unsupportedCount() const;
};

// A JWKS document: an object whose "keys" is an array of JWK objects. A key that
// cannot be used is skipped and listed, not fatal: one odd key of a rotating
// issuer must not take down its other keys (a skipped key verifies nothing, so
// skipping never accepts more). Anything that is not such a document is an error.
// A document with no usable key parses to an empty set; every token then fails.
Result<KeySet> parseJwks(std::string_view json);

// One JWK, as text or already parsed (two names: a std::string converts to both).
// Unlike parseJwks, an unsupported or unusable key is an error.
Result<Jwk> parseJwk(std::string_view json);
Result<Jwk> jwkFromJson(const nlohmann::json& jwk);

}  // namespace warren::jwt
