#pragma once
// A test-time JWT issuer: fresh keys from OpenSSL in every test process, their
// public JWKs, and tokens signed with them. Tests mint every token they expect to
// verify, so no test trusts a token string it did not sign itself. Independent of
// warren_jwt (its own base64url, its own signing), so a bug there cannot hide
// behind the same bug here. Failures throw std::runtime_error: a test that cannot
// mint must fail, not pass vacuously.

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren::jwt::mint {

enum class KeyKind { Rsa2048, EcP256, EcP384, EcP521, Ed25519 };

class SigningKey {
 public:
  explicit SigningKey(KeyKind kind);
  KeyKind kind() const { return kind_; }

  // The public half as a JWK (kty and its numbers), with kid, alg and use when given.
  nlohmann::json publicJwk(std::string_view kid = "", std::string_view alg = "", std::string_view use = "") const;
  std::string publicPem() const;  // SubjectPublicKeyInfo, PEM
  std::string publicDer() const;  // SubjectPublicKeyInfo, DER

  // The JWS signature of `input` for `alg`: RS*/PS* (salt = hash length), ES* as
  // raw r||s, EdDSA. Throws for an alg this key cannot make.
  std::string sign(std::string_view alg, std::string_view input) const;
  // ES*: the DER signature OpenSSL makes natively, which JWS does not use.
  std::string signDer(std::string_view alg, std::string_view input) const;

 private:
  KeyKind kind_;
  std::shared_ptr<EVP_PKEY> key_;
};

std::string b64url(std::string_view bytes);

// A token in pieces, so a test can edit one after signing.
struct Signed {
  std::string header;     // base64url
  std::string payload;    // base64url
  std::string signature;  // raw bytes
  std::string signingInput() const { return header + "." + payload; }
  std::string compact() const { return signingInput() + "." + b64url(signature); }
};

// Serialises header and payload as JSON and signs with header["alg"].
Signed sign(const SigningKey& key, const nlohmann::json& header, const nlohmann::json& payload);
std::string token(const SigningKey& key, const nlohmann::json& header, const nlohmann::json& payload);

std::string hmacSha256(std::string_view secret, std::string_view input);

// {"keys": [...]}
nlohmann::json jwks(std::vector<nlohmann::json> keys);

}  // namespace warren::jwt::mint
