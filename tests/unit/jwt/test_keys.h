#pragma once
// The keys, issuer and clock every JWT test shares: generated once per test
// process (RSA generation is the slow part), never written to disk.

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "jwt/rule.h"
#include "tests/support/jwt_mint.h"

namespace warren::jwt::testkit {

struct TestKeys {
  mint::SigningKey rsa{mint::KeyKind::Rsa2048};
  mint::SigningKey rsa2{mint::KeyKind::Rsa2048};
  mint::SigningKey ec256{mint::KeyKind::EcP256};
  mint::SigningKey ec384{mint::KeyKind::EcP384};
  mint::SigningKey ec521{mint::KeyKind::EcP521};
  mint::SigningKey ed{mint::KeyKind::Ed25519};
};

inline const TestKeys& keys() {
  static const TestKeys k;
  return k;
}

inline const std::string kIssuer = "https://issuer.example";
inline const std::string kAudience = "api.example";
// "Now" in every test: a fixed instant, so exp/nbf edges are exact.
inline constexpr int64_t kT0 = 1'700'000'000;
inline std::chrono::system_clock::time_point at(int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

inline JwtRule rule() {
  JwtRule r;
  r.issuer = kIssuer;
  r.audiences = {kAudience};
  return r;
}

// A valid payload at kT0, with `patch` merged in (RFC 7386: null removes a claim).
inline nlohmann::json payload(const nlohmann::json& patch = nlohmann::json::object()) {
  nlohmann::json p = {{"iss", kIssuer}, {"sub", "alice"}, {"aud", kAudience}, {"iat", kT0 - 10}, {"exp", kT0 + 3600}};
  p.merge_patch(patch);
  return p;
}

inline nlohmann::json header(const std::string& alg, const std::string& kid = "") {
  nlohmann::json h = {{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) h["kid"] = kid;
  return h;
}

// Every test key under its own kid, none with an "alg".
inline nlohmann::json allKeysJwks() {
  const auto& k = keys();
  return mint::jwks({k.rsa.publicJwk("rsa"), k.ec256.publicJwk("ec256"), k.ec384.publicJwk("ec384"),
                     k.ec521.publicJwk("ec521"), k.ed.publicJwk("ed"), k.rsa2.publicJwk("rsa2-rs384", "RS384")});
}

}  // namespace warren::jwt::testkit
