#include "jwt/algorithm.h"

#include <array>

namespace warren::jwt {
namespace {

using S = SignatureScheme;
const std::array<Algorithm, 10> kAlgorithms{{
    {"RS256", S::RsaPkcs1, EVP_sha256, KeyType::Rsa, "", 0},
    {"RS384", S::RsaPkcs1, EVP_sha384, KeyType::Rsa, "", 0},
    {"RS512", S::RsaPkcs1, EVP_sha512, KeyType::Rsa, "", 0},
    {"PS256", S::RsaPss, EVP_sha256, KeyType::Rsa, "", 0},
    {"PS384", S::RsaPss, EVP_sha384, KeyType::Rsa, "", 0},
    {"PS512", S::RsaPss, EVP_sha512, KeyType::Rsa, "", 0},
    {"ES256", S::Ecdsa, EVP_sha256, KeyType::Ec, "P-256", 32},
    {"ES384", S::Ecdsa, EVP_sha384, KeyType::Ec, "P-384", 48},
    {"ES512", S::Ecdsa, EVP_sha512, KeyType::Ec, "P-521", 66},
    {"EdDSA", S::Ed25519, nullptr, KeyType::Ed25519, "Ed25519", 0},
}};

}  // namespace

const Algorithm* findAlgorithm(std::string_view alg) {
  for (const auto& a : kAlgorithms)
    if (a.name == alg) return &a;
  return nullptr;
}

bool keyFits(const Algorithm& alg, const Jwk& key) {
  if (key.type != alg.keyType) return false;
  if (!alg.curve.empty() && key.curve != alg.curve) return false;
  return !key.alg || *key.alg == alg.name;
}

}  // namespace warren::jwt
