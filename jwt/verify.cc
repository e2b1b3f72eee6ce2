#include "jwt/verify.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <strings.h>
#include <cmath>
#include <memory>
#include <optional>
#include <set>

#include "jwt/algorithm.h"
#include "jwt/token.h"

namespace warren::jwt {
namespace {

using nlohmann::json;

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, ossl::Deleter<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, ossl::Deleter<ECDSA_SIG_free>>;
using BnPtr = std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>>;

JwtError failure(JwtFailure reason, std::string message) { return JwtError{reason, std::move(message)}; }

// Token text quoted into a message: at most 64 printable ASCII characters, so a
// log line cannot be forged or flooded by whoever wrote the token.
std::string printable(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < 64; ++i) out.push_back(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
  if (s.size() > 64) out += "...";
  return out + "\"";
}

// The registered claims (RFC 7519 §4.1) the rule needs, each of its one type.
struct Claims {
  std::optional<std::string> iss, sub, azp;
  std::vector<std::string> aud;
  std::optional<double> exp, nbf;
};

Status stringClaim(const json& p, const char* name, std::optional<std::string>& out) {
  auto it = p.find(name);
  if (it == p.end()) return okStatus();
  if (!it->is_string()) return makeError(std::string("claim \"") + name + "\" is not a string");
  out = it->get<std::string>();
  return okStatus();
}

Status numberClaim(const json& p, const char* name, std::optional<double>& out) {
  auto it = p.find(name);
  if (it == p.end()) return okStatus();
  if (!it->is_number()) return makeError(std::string("claim \"") + name + "\" is not a number");
  out = it->get<double>();
  return okStatus();
}

Result<Claims> readClaims(const json& p) {
  Claims c;
  std::optional<double> iat;
  for (Status s : {stringClaim(p, "iss", c.iss), stringClaim(p, "sub", c.sub), stringClaim(p, "azp", c.azp),
                   numberClaim(p, "exp", c.exp), numberClaim(p, "nbf", c.nbf), numberClaim(p, "iat", iat)})
    if (!s) return s.error();
  if (auto aud = p.find("aud"); aud != p.end()) {
    if (aud->is_string()) {
      c.aud.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) return makeError("claim \"aud\" has an element that is not a string");
        c.aud.push_back(a.get<std::string>());
      }
    } else {
      return makeError("claim \"aud\" is neither a string nor a list of strings");
    }
  }
  return c;
}

// JWS carries an ECDSA signature as r||s, each exactly the curve's size (RFC 7518
// §3.4); OpenSSL verifies DER. nullopt when the length is not exactly that.
std::optional<std::string> ecdsaToDer(std::string_view raw, size_t half) {
  if (raw.size() != 2 * half) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BnPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

bool signatureVerifies(const Algorithm& alg, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, alg.digest ? alg.digest() : nullptr, nullptr, key) == 1;
  if (ok && alg.scheme == SignatureScheme::RsaPkcs1) ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
  if (ok && alg.scheme == SignatureScheme::RsaPss)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg.digest()) == 1;
  ok = ok && EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                              reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ERR_clear_error();  // a failed verification queues errors nobody will read
  return ok;
}

// Envoy's CheckAudience: users write "https://api.example.com/" for "api.example.com".
std::string sanitizeAudience(std::string_view aud) {
  for (std::string_view scheme : {"http://", "https://"})
    if (aud.starts_with(scheme)) {
      aud.remove_prefix(scheme.size());
      break;
    }
  if (aud.ends_with('/')) aud.remove_suffix(1);
  return std::string(aud);
}

bool audienceAllowed(const std::vector<std::string>& allowed, const std::vector<std::string>& tokenAud) {
  if (allowed.empty()) return true;
  std::set<std::string> want;
  for (const auto& a : allowed) want.insert(sanitizeAudience(a));
  for (const auto& a : tokenAud)
    if (want.contains(sanitizeAudience(a))) return true;
  return false;
}

}  // namespace

std::string_view toString(JwtFailure failure) {
  switch (failure) {
    case JwtFailure::Malformed: return "malformed";
    case JwtFailure::UnsupportedAlgorithm: return "unsupported_algorithm";
    case JwtFailure::AlgNone: return "alg_none";
    case JwtFailure::UnknownKid: return "unknown_kid";
    case JwtFailure::KeyAlgorithmMismatch: return "key_algorithm_mismatch";
    case JwtFailure::BadSignature: return "bad_signature";
    case JwtFailure::Expired: return "expired";
    case JwtFailure::NotYetValid: return "not_yet_valid";
    case JwtFailure::IssuerMismatch: return "issuer_mismatch";
    case JwtFailure::AudienceMismatch: return "audience_mismatch";
  }
  return "unknown";
}

std::string_view envoyMessage(JwtFailure failure) {
  using F = JwtFailure;
  switch (failure) {
    case F::Malformed: return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case F::UnsupportedAlgorithm:
    case F::AlgNone: return "Jwt header [alg] is not supported";
    case F::UnknownKid:
    case F::KeyAlgorithmMismatch: return "Jwks doesn't have key to match kid or alg from Jwt";
    case F::BadSignature: return "Jwt verification fails";
    case F::Expired: return "Jwt is expired";
    case F::NotYetValid: return "Jwt not yet valid";
    case F::IssuerMismatch: return "Jwt issuer is not configured";
    case F::AudienceMismatch: return "Audiences in Jwt are not allowed";
  }
  return "Jwt verification fails";
}

int httpStatus(JwtFailure failure) { return failure == JwtFailure::AudienceMismatch ? 403 : 401; }

VerifyResult verifySignature(const JwtRule& rule, const KeySet& keys, std::string_view token) {
  auto jws = parseJws(token);
  if (!jws) return failure(JwtFailure::Malformed, jws.error().message);

  if (strcasecmp(jws->alg.c_str(), "none") == 0) return failure(JwtFailure::AlgNone, "unsigned token (alg none)");
  if (jws->alg == "HS256" || jws->alg == "HS384" || jws->alg == "HS512")
    return failure(JwtFailure::KeyAlgorithmMismatch, jws->alg + " needs a shared secret; a JWKS holds public keys");
  const Algorithm* alg = findAlgorithm(jws->alg);
  if (!alg) return failure(JwtFailure::UnsupportedAlgorithm, "alg " + printable(jws->alg) + " is not implemented");

  auto claims = readClaims(jws->payload);
  if (!claims) return failure(JwtFailure::Malformed, claims.error().message);

  if (!claims->iss) return failure(JwtFailure::IssuerMismatch, "token has no \"iss\"");
  if (rule.issuer.empty() || *claims->iss != rule.issuer)
    return failure(JwtFailure::IssuerMismatch, "iss " + printable(*claims->iss) + " is not the rule's issuer");

  std::vector<const Jwk*> candidates;
  bool kidMatched = false;
  for (const auto& key : keys.keys) {
    if (jws->kid && key.kid && *key.kid != *jws->kid) continue;
    kidMatched = true;
    if (keyFits(*alg, key)) candidates.push_back(&key);
  }
  if (!kidMatched)
    return failure(JwtFailure::UnknownKid, keys.keys.empty() ? "the issuer's key set is empty"
                                                             : "no key has kid " + printable(jws->kid.value_or("")));
  if (candidates.empty())
    return failure(JwtFailure::KeyAlgorithmMismatch,
                   "no key " + (jws->kid ? "with kid " + printable(*jws->kid) + " " : "") + "may verify " + jws->alg);

  std::string_view signature = jws->signature;
  std::optional<std::string> der;
  if (alg->scheme == SignatureScheme::Ecdsa) {
    der = ecdsaToDer(signature, alg->coordinateBytes);
    if (!der)
      return failure(JwtFailure::BadSignature, jws->alg + " signature is " + std::to_string(signature.size()) +
                                                   " bytes, not " + std::to_string(2 * alg->coordinateBytes));
    signature = *der;
  }
  bool verified = false;
  for (const Jwk* key : candidates)
    if ((verified = signatureVerifies(*alg, key->key.get(), jws->signingInput, signature))) break;
  if (!verified) return failure(JwtFailure::BadSignature, "signature does not verify");

  VerifiedToken out;
  out.issuer = std::move(*claims->iss);
  out.subject = claims->sub.value_or("");
  if (!out.subject.empty()) out.principal = out.issuer + "/" + out.subject;
  out.audiences = std::move(claims->aud);
  out.presenter = claims->azp.value_or("");
  out.expires = claims->exp;
  out.notBefore = claims->nbf;
  out.claims = std::move(jws->payload);
  return out;
}

std::optional<JwtError> judgeClaims(const JwtRule& rule, const VerifiedToken& token,
                                    std::chrono::system_clock::time_point now) {
  if (rule.issuer.empty() || token.issuer != rule.issuer)
    return failure(JwtFailure::IssuerMismatch, "iss " + printable(token.issuer) + " is not the rule's issuer");
  const double nowSeconds =
      static_cast<double>(std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count());
  const auto skew = static_cast<double>(kClockSkew.count());
  if (token.expires && nowSeconds > *token.expires + skew) return failure(JwtFailure::Expired, "token expired");
  if (token.notBefore && nowSeconds + skew < *token.notBefore)
    return failure(JwtFailure::NotYetValid, "token not yet valid");
  if (!audienceAllowed(rule.audiences, token.audiences))
    return failure(JwtFailure::AudienceMismatch,
                   token.audiences.empty() ? "token has no \"aud\"" : "no \"aud\" is one of the rule's audiences");
  return std::nullopt;
}

VerifyResult verify(const JwtRule& rule, const KeySet& keys, std::string_view token,
                    std::chrono::system_clock::time_point now) {
  VerifyResult signedBy = verifySignature(rule, keys, token);
  if (!signedBy) return signedBy;
  if (auto why = judgeClaims(rule, signedBy.value(), now)) return std::move(*why);
  return signedBy;
}

}  // namespace warren::jwt
