#include "jwt/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <variant>

#include "jwt/algorithm.h"
#include "jwt/base64url.h"

namespace warren::jwt {
namespace {

using nlohmann::json;

using BnPtr = std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ossl::Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, ossl::Deleter<OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, ossl::Deleter<EVP_PKEY_CTX_free>>;

// Why a key is not in the set; see SkippedKey::unsupported.
struct KeyProblem {
  std::string reason;
  bool unsupported = false;
};
using Parsed = std::variant<Jwk, KeyProblem>;

KeyProblem invalid(std::string reason) { return {std::move(reason), false}; }
KeyProblem unsupported(std::string reason) { return {std::move(reason), true}; }

// The first queued OpenSSL reason, and an empty queue for whoever comes next.
std::string opensslReason() {
  unsigned long e = ERR_get_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return r ? r : "no detail";
}

// An optional string member: absent is fine, any other type is not.
bool optionalString(const json& jwk, const char* name, std::optional<std::string>& out, std::string& why) {
  auto it = jwk.find(name);
  if (it == jwk.end()) return true;
  if (!it->is_string()) {
    why = std::string("\"") + name + "\" is not a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

// A required base64url member (RFC 7518 §6: key numbers are base64url, big-endian).
Result<std::string> bytesMember(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return makeError(std::string("\"") + name + "\" missing or not a string");
  auto bytes = base64urlDecode(it->get_ref<const std::string&>());
  if (!bytes) return withContext(bytes.error(), std::string("\"") + name + "\"");
  if (bytes->empty()) return makeError(std::string("\"") + name + "\" is empty");
  return bytes;
}

// EVP_PKEY_fromdata, then OpenSSL's own public-key check (a point on the curve, a
// plausible RSA modulus), so a bad key fails here and not at every verification.
Result<PkeyPtr> keyFromParams(const char* keyType, OSSL_PARAM_BLD* bld) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, keyType, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return makeError(std::string("OpenSSL rejects the key: ") + opensslReason());
  PkeyPtr key(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return makeError(std::string("public key check failed: ") + opensslReason());
  return key;
}

Parsed rsaKey(const json& j, Jwk jwk) {
  auto n = bytesMember(j, "n");
  if (!n) return invalid(n.error().message);
  auto e = bytesMember(j, "e");
  if (!e) return invalid(e.error().message);
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  BnPtr be(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn || !be || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get()) != 1)
    return invalid("building RSA parameters: " + opensslReason());
  auto key = keyFromParams("RSA", bld.get());
  if (!key) return invalid(key.error().message);
  jwk.type = KeyType::Rsa;
  jwk.key = std::move(*key);
  return jwk;
}

struct Curve {
  std::string_view jose;     // "crv"
  const char* opensslGroup;  // OSSL_PKEY_PARAM_GROUP_NAME
  size_t coordinateBytes;
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

Parsed ecKey(const json& j, Jwk jwk) {
  auto crv = j.find("crv");
  if (crv == j.end() || !crv->is_string()) return invalid("\"crv\" missing or not a string");
  const Curve* curve = nullptr;
  for (const auto& c : kCurves)
    if (c.jose == crv->get_ref<const std::string&>()) curve = &c;
  if (!curve) return unsupported("EC curve \"" + crv->get<std::string>() + "\" is not implemented");
  auto x = bytesMember(j, "x");
  if (!x) return invalid(x.error().message);
  auto y = bytesMember(j, "y");
  if (!y) return invalid(y.error().message);
  // RFC 7518 §6.2.1.2: each coordinate is the full field size, leading zeros kept.
  if (x->size() != curve->coordinateBytes || y->size() != curve->coordinateBytes)
    return invalid("coordinates of " + std::string(curve->jose) + " must be " + std::to_string(curve->coordinateBytes) +
                   " bytes");
  const std::string point = '\x04' + *x + *y;  // SEC 1 uncompressed
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->opensslGroup, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return invalid("building EC parameters: " + opensslReason());
  auto key = keyFromParams("EC", bld.get());
  if (!key) return invalid(key.error().message);
  jwk.type = KeyType::Ec;
  jwk.curve = curve->jose;
  jwk.key = std::move(*key);
  return jwk;
}

Parsed okpKey(const json& j, Jwk jwk) {
  auto crv = j.find("crv");
  if (crv == j.end() || !crv->is_string()) return invalid("\"crv\" missing or not a string");
  // Ed448 and the X25519/X448 key-agreement curves are OKP too; only Ed25519 signs JWTs here.
  if (*crv != "Ed25519") return unsupported("OKP curve \"" + crv->get<std::string>() + "\" is not implemented");
  auto x = bytesMember(j, "x");
  if (!x) return invalid(x.error().message);
  if (x->size() != 32) return invalid("an Ed25519 \"x\" must be 32 bytes");
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(), x->size()) != 1)
    return invalid("building Ed25519 parameters: " + opensslReason());
  auto key = keyFromParams("ED25519", bld.get());
  if (!key) return invalid(key.error().message);
  jwk.type = KeyType::Ed25519;
  jwk.curve = "Ed25519";
  jwk.key = std::move(*key);
  return jwk;
}

Parsed parseKey(const json& j) {
  if (!j.is_object()) return invalid("a JWK must be a JSON object");
  Jwk jwk;
  std::string why;
  std::optional<std::string> kty, use;
  if (!optionalString(j, "kty", kty, why) || !optionalString(j, "kid", jwk.kid, why) ||
      !optionalString(j, "alg", jwk.alg, why) || !optionalString(j, "use", use, why))
    return invalid(why);
  if (!kty) return invalid("\"kty\" is missing");
  // RFC 7517 §4.2: "enc" keys encrypt; a verifier must not take them for signing keys.
  if (use && *use != "sig") return invalid("\"use\" is \"" + *use + "\", not \"sig\"");
  jwk.use = use.value_or("");
  const Algorithm* alg = nullptr;
  if (jwk.alg && !(alg = findAlgorithm(*jwk.alg)))
    return unsupported("\"alg\" \"" + *jwk.alg + "\" is not implemented");

  Parsed parsed = *kty == "RSA"   ? rsaKey(j, std::move(jwk))
                  : *kty == "EC"  ? ecKey(j, std::move(jwk))
                  : *kty == "OKP" ? okpKey(j, std::move(jwk))
                                  : Parsed(unsupported("\"kty\" \"" + *kty + "\" is not implemented"));
  // A key whose own alg it cannot serve (an RSA key marked ES256) is a broken key.
  if (auto* key = std::get_if<Jwk>(&parsed); key && alg && !keyFits(*alg, *key))
    return invalid("\"alg\" \"" + *key->alg + "\" does not fit a " + *kty + " " + key->curve + " key");
  return parsed;
}

Result<json> parseJson(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return makeError(std::string(what) + " is not JSON");
  return j;
}

}  // namespace

size_t KeySet::unsupportedCount() const {
  return static_cast<size_t>(
      std::count_if(skipped.begin(), skipped.end(), [](const auto& s) { return s.unsupported; }));
}

Result<Jwk> jwkFromJson(const json& jwk) {
  Parsed parsed = parseKey(jwk);
  if (auto* problem = std::get_if<KeyProblem>(&parsed)) return makeError("JWK: " + problem->reason);
  return std::move(std::get<Jwk>(parsed));
}

Result<Jwk> parseJwk(std::string_view text) {
  auto j = parseJson(text, "JWK");
  if (!j) return j.error();
  return jwkFromJson(*j);
}

Result<KeySet> parseJwks(std::string_view text) {
  auto j = parseJson(text, "JWKS");
  if (!j) return j.error();
  if (!j->is_object()) return makeError("JWKS is not a JSON object");
  auto keys = j->find("keys");
  if (keys == j->end()) return makeError("JWKS has no \"keys\"");
  if (!keys->is_array()) return makeError("JWKS \"keys\" is not an array");
  KeySet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const json& k = (*keys)[i];
    if (!k.is_object()) return makeError("JWKS keys[" + std::to_string(i) + "] is not an object");
    Parsed parsed = parseKey(k);
    if (auto* key = std::get_if<Jwk>(&parsed)) {
      set.keys.push_back(std::move(*key));
      continue;
    }
    auto& problem = std::get<KeyProblem>(parsed);
    auto kid = k.find("kid");
    set.skipped.push_back({i, kid != k.end() && kid->is_string() ? kid->get<std::string>() : "",
                           std::move(problem.reason), problem.unsupported});
  }
  return set;
}

}  // namespace warren::jwt
