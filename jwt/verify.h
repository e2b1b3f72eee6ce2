#pragma once
// Verifies one token against one RequestAuthentication rule and its issuer's
// keys: signature, issuer, validity times and audience. Pure: the caller passes
// the time, nothing is read from the clock or the network.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "jwt/jwks.h"
#include "jwt/rule.h"

namespace warren::jwt {

// Envoy's default clock_skew_seconds: exp and nbf are stretched by this much.
inline constexpr std::chrono::seconds kClockSkew{60};

enum class JwtFailure {
  Malformed,             // not a compact JWS, undecodable, or a claim of the wrong type
  UnsupportedAlgorithm,  // an "alg" we do not implement
  AlgNone,               // an unsigned token
  UnknownKid,            // no key has the token's kid (or the set is empty)
  KeyAlgorithmMismatch,  // keys exist, but none may be used with this alg (HS* always)
  BadSignature,
  Expired,
  NotYetValid,
  IssuerMismatch,
  AudienceMismatch,
};

// "malformed", "unsupported_algorithm", ...: stable, usable as a metrics label.
std::string_view toString(JwtFailure failure);
// What Envoy's jwt_authn answers for the failure, as the 401 body ("Jwt is
// expired", "Jwt verification fails", ...): clients and alerts match on these.
std::string_view envoyMessage(JwtFailure failure);
// The status Envoy answers the failure with: 403 for an audience it does not
// allow (JwtAudienceNotAllowed), 401 for everything else.
int httpStatus(JwtFailure failure);

struct JwtError {
  JwtFailure reason;
  std::string message;  // one line for a log; may quote the token's own claims
};

struct VerifiedToken {
  std::string issuer;
  std::string subject;                       // "" without "sub"
  std::string principal;                     // "<iss>/<sub>" (request.auth.principal); "" without "sub"
  std::vector<std::string> audiences;        // "aud" as a string or a list
  std::string presenter;                     // "azp"; ""
  std::optional<double> expires, notBefore;  // "exp", "nbf" (NumericDate)
  nlohmann::json claims;                     // the whole payload
};

// The token is held shared and immutable: a request's outcome and the
// verified-token cache point at one copy of its claims.
class [[nodiscard]] VerifyResult {
 public:
  VerifyResult(VerifiedToken token) : v_(std::make_shared<const VerifiedToken>(std::move(token))) {}
  VerifyResult(std::shared_ptr<const VerifiedToken> token) : v_(std::move(token)) {}
  VerifyResult(JwtError error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const VerifiedToken& value() const { return *std::get<0>(v_); }
  const std::shared_ptr<const VerifiedToken>& shared() const { return std::get<0>(v_); }
  const VerifiedToken* operator->() const { return &value(); }
  const JwtError& error() const { return std::get<1>(v_); }

 private:
  std::variant<std::shared_ptr<const VerifiedToken>, JwtError> v_;
};

// The checks run in this order, and the first failure is the answer:
//   1. three base64url parts, header and payload JSON objects     -> Malformed
//   2. alg: "none" (any case) -> AlgNone; HS256/384/512 -> KeyAlgorithmMismatch (a
//      JWKS holds public keys, and a public "secret" forges anything);
//      anything else we do not implement -> UnsupportedAlgorithm
//   3. iss/sub/azp strings, aud a string or a list of strings,
//      exp/nbf/iat numbers (RFC 7519 NumericDate)                 -> Malformed
//   4. iss == rule.issuer (an empty rule issuer matches nothing)  -> IssuerMismatch
//   5. keys: those whose kid equals the token's (a key without kid is a candidate
//      for any token, as in Envoy's jwt_verify_lib; a token without kid tries every
//      key), then of those the ones whose type, curve and own alg fit the token's
//      alg: none by kid -> UnknownKid, none by alg -> KeyAlgorithmMismatch
//   6. the signature verifies under one candidate                 -> BadSignature
//   7. now <= exp + skew, now >= nbf - skew, `now` floored to whole
//      seconds; no exp means no expiry (Envoy without require_expiration)
//                                                    -> Expired / NotYetValid
//   8. when rule.audiences is not empty, some aud is in it, compared as Envoy
//      does: one leading "http://" or "https://" and one trailing '/' are
//      ignored on both sides                                      -> AudienceMismatch
// Claims are only judged (7, 8) once the signature holds, so "expired" in a
// metric means an authentic token that expired, never a forgery claiming to.
VerifyResult verify(const JwtRule& rule, const KeySet& keys, std::string_view token,
                    std::chrono::system_clock::time_point now);

// verify() split at the signature, for the verified-token cache: steps 1-6
// (what depends on the token and the keys; the expensive part), then steps 4, 7
// and 8 over the verified token (what depends on the rule and the clock; cheap,
// so they run on every use of a cached token). verify() is exactly
// verifySignature() then judgeClaims().
VerifyResult verifySignature(const JwtRule& rule, const KeySet& keys, std::string_view token);
std::optional<JwtError> judgeClaims(const JwtRule& rule, const VerifiedToken& token,
                                    std::chrono::system_clock::time_point now);

}  // namespace warren::jwt
