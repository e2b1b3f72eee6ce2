// verify(): one table of tokens minted at test time, each with the answer the
// RequestAuthentication rule must give at kT0 (+ the case's offset).

#include "jwt/verify.h"
#include "jwt/verified_cache.h"

#include <functional>
#include <optional>
#include <set>

#include <gtest/gtest.h>

#include "tests/unit/jwt/test_keys.h"

namespace warren::jwt {
namespace {

using nlohmann::json;
using namespace testkit;
using F = JwtFailure;

struct Case {
  std::string name;
  std::function<std::string()> token;
  std::optional<JwtFailure> want;  // nullopt: verifies
  std::function<void(JwtRule&)> editRule = nullptr;
  std::function<json()> jwks = allKeysJwks;
  int64_t now = kT0;
};

std::string tok(const mint::SigningKey& key, const std::string& alg, const std::string& kid,
                const json& patch = json::object()) {
  return mint::token(key, header(alg, kid), payload(patch));
}

// A token signed correctly, then changed by `edit`.
std::string edited(const mint::SigningKey& key, const std::string& alg, const std::string& kid,
                   const std::function<void(mint::Signed&)>& edit) {
  auto s = mint::sign(key, header(alg, kid), payload());
  edit(s);
  return s.compact();
}

// Header and payload as given (any JSON text), signed with nothing.
std::string raw(const std::string& header, const std::string& payload, const std::string& signature = "") {
  return mint::b64url(header) + "." + mint::b64url(payload) + "." + mint::b64url(signature);
}

// The algorithm-confusion attack: HS256 keyed with the bytes of the issuer's
// public key, which a verifier that lets the token pick HMAC would accept.
std::string hs256WithPublicKey(const std::string& secret) {
  std::string input = mint::b64url(header("HS256", "rsa").dump()) + "." + mint::b64url(payload().dump());
  return input + "." + mint::b64url(mint::hmacSha256(secret, input));
}

const TestKeys& K() { return keys(); }

std::vector<Case> cases() {
  return {
      // One valid token per algorithm.
      {"RS256", [] { return tok(K().rsa, "RS256", "rsa"); }, std::nullopt},
      {"RS384", [] { return tok(K().rsa, "RS384", "rsa"); }, std::nullopt},
      {"RS512", [] { return tok(K().rsa, "RS512", "rsa"); }, std::nullopt},
      {"PS256", [] { return tok(K().rsa, "PS256", "rsa"); }, std::nullopt},
      {"PS384", [] { return tok(K().rsa, "PS384", "rsa"); }, std::nullopt},
      {"PS512", [] { return tok(K().rsa, "PS512", "rsa"); }, std::nullopt},
      {"ES256", [] { return tok(K().ec256, "ES256", "ec256"); }, std::nullopt},
      {"ES384", [] { return tok(K().ec384, "ES384", "ec384"); }, std::nullopt},
      {"ES512", [] { return tok(K().ec521, "ES512", "ec521"); }, std::nullopt},
      {"EdDSA", [] { return tok(K().ed, "EdDSA", "ed"); }, std::nullopt},

      // Validity times, 60 s of skew each way; the edges are inclusive.
      {"Expired",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", kT0 - 3600}});
       },
       F::Expired},
      {"ExpiredJustPastSkew",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", kT0 - 61}});
       },
       F::Expired},
      {"ExpWithinSkew",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", kT0 - 30}});
       },
       std::nullopt},
      {"ExpAtSkewEdge",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", kT0 - 60}});
       },
       std::nullopt},
      {"ExpFractional",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", kT0 - 60.5}});
       },
       F::Expired},
      {"NoExpNeverExpires",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", nullptr}});
       },
       std::nullopt},
      {"NotYetValid",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"nbf", kT0 + 61}});
       },
       F::NotYetValid},
      {"NbfWithinSkew",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"nbf", kT0 + 30}});
       },
       std::nullopt},
      {"NbfAtSkewEdge",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"nbf", kT0 + 60}});
       },
       std::nullopt},
      // The clock is the parameter: the same token later is expired.
      {"ValidTokenLater", [] { return tok(K().rsa, "RS256", "rsa"); }, F::Expired, nullptr, allKeysJwks,
       kT0 + 3600 + 61},

      // Issuer.
      {"WrongIssuer",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"iss", "https://evil.example"}});
       },
       F::IssuerMismatch},
      {"IssuerDiffersByTrailingSlash",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"iss", kIssuer + "/"}});
       },
       F::IssuerMismatch},
      {"NoIssuer",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"iss", nullptr}});
       },
       F::IssuerMismatch},
      {"RuleWithoutIssuerMatchesNothing",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"iss", ""}});
       },
       F::IssuerMismatch, [](JwtRule& r) { r.issuer = ""; }},

      // Audience.
      {"WrongAudience",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", "other.example"}});
       },
       F::AudienceMismatch},
      {"AudienceListOneMatches",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", json::array({"other.example", kAudience})}});
       },
       std::nullopt},
      {"AudienceListNoneMatch",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", json::array({"a.example", "b.example"})}});
       },
       F::AudienceMismatch},
      {"EmptyAudienceList",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", json::array()}});
       },
       F::AudienceMismatch},
      {"NoAudienceWithRuleAudiences",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", nullptr}});
       },
       F::AudienceMismatch},
      {"NoAudienceWithoutRuleAudiences",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", nullptr}});
       },
       std::nullopt, [](JwtRule& r) { r.audiences.clear(); }},
      {"AnyAudienceWithoutRuleAudiences",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", "anything"}});
       },
       std::nullopt, [](JwtRule& r) { r.audiences.clear(); }},
      {"AudienceSchemeAndSlashIgnored",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", "https://" + kAudience + "/"}});
       },
       std::nullopt},
      {"AudienceIsCaseSensitive",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", "API.example"}});
       },
       F::AudienceMismatch},

      // Signatures that do not hold.
      {"SignatureByteFlipped",
       [] { return edited(K().rsa, "RS256", "rsa", [](mint::Signed& s) { s.signature[100] ^= 0x01; }); },
       F::BadSignature},
      {"PayloadEditedAfterSigning",
       [] {
         return edited(K().rsa, "RS256", "rsa", [](mint::Signed& s) {
           s.payload = mint::b64url(payload({{"sub", "admin"}}).dump());
         });
       },
       F::BadSignature},
      {"HeaderEditedAfterSigning",
       [] {
         return edited(K().ec256, "ES256", "ec256",
                       [](mint::Signed& s) { s.header = mint::b64url(header("ES256", "ec256").dump() + " "); });
       },
       F::BadSignature},
      {"SignedByAnotherKeyUnderThisKid", [] { return tok(K().rsa2, "RS256", "rsa"); }, F::BadSignature},
      {"EmptySignature", [] { return edited(K().rsa, "RS256", "rsa", [](mint::Signed& s) { s.signature.clear(); }); },
       F::BadSignature},
      {"PssSignatureUnderRs256Header",
       [] {
         return edited(K().rsa, "RS256", "rsa",
                       [](mint::Signed& s) { s.signature = K().rsa.sign("PS256", s.signingInput()); });
       },
       F::BadSignature},
      {"Es256SignatureOneByteShort",
       [] { return edited(K().ec256, "ES256", "ec256", [](mint::Signed& s) { s.signature.pop_back(); }); },
       F::BadSignature},
      {"Es256SignatureOneByteLong",
       [] { return edited(K().ec256, "ES256", "ec256", [](mint::Signed& s) { s.signature.push_back('\0'); }); },
       F::BadSignature},
      {"Es256SignatureInDer",
       [] {
         return edited(K().ec256, "ES256", "ec256",
                       [](mint::Signed& s) { s.signature = K().ec256.signDer("ES256", s.signingInput()); });
       },
       F::BadSignature},
      {"EdDSASignatureFlipped",
       [] { return edited(K().ed, "EdDSA", "ed", [](mint::Signed& s) { s.signature[0] ^= 0x80; }); }, F::BadSignature},

      // Unsigned and symmetric tokens.
      {"AlgNoneEmptySignature", [] { return raw(header("none").dump(), payload().dump()); }, F::AlgNone},
      {"AlgNoneUpperCase", [] { return raw(header("NONE").dump(), payload().dump()); }, F::AlgNone},
      {"AlgNoneWithASignature",
       [] {
         auto s = mint::sign(K().rsa, header("RS256", "rsa"), payload());
         s.header = mint::b64url(header("none", "rsa").dump());
         return s.compact();
       },
       F::AlgNone},
      {"Hs256KeyedWithRsaPublicPem", [] { return hs256WithPublicKey(K().rsa.publicPem()); }, F::KeyAlgorithmMismatch},
      {"Hs256KeyedWithRsaPublicDer", [] { return hs256WithPublicKey(K().rsa.publicDer()); }, F::KeyAlgorithmMismatch},
      {"Hs256KeyedWithJwkModulus", [] { return hs256WithPublicKey(K().rsa.publicJwk()["n"].get<std::string>()); },
       F::KeyAlgorithmMismatch},
      {"UnsupportedAlgorithm", [] { return raw(header("ES256K", "ec256").dump(), payload().dump(), "sig"); },
       F::UnsupportedAlgorithm},
      {"AlgIsCaseSensitive", [] { return raw(header("rs256", "rsa").dump(), payload().dump(), "sig"); },
       F::UnsupportedAlgorithm},

      // Choosing the key.
      {"UnknownKid", [] { return tok(K().rsa, "RS256", "no-such-key"); }, F::UnknownKid},
      {"EmptyKeySet", [] { return tok(K().rsa, "RS256", ""); }, F::UnknownKid, nullptr, [] { return mint::jwks({}); }},
      {"NoKidSecondOfTwoKeysVerifies", [] { return tok(K().rsa2, "RS256", ""); }, std::nullopt, nullptr,
       [] {
         return mint::jwks({K().rsa.publicJwk(), K().rsa2.publicJwk()});
       }},
      {"NoKidNoKeyVerifies", [] { return tok(K().rsa2, "RS256", ""); }, F::BadSignature, nullptr,
       [] {
         return mint::jwks({K().rsa.publicJwk("a"), K().ec256.publicJwk("b")});
       }},
      {"NoKidNoKeyOfThatType", [] { return tok(K().rsa, "RS256", ""); }, F::KeyAlgorithmMismatch, nullptr,
       [] {
         return mint::jwks({K().ec256.publicJwk("a"), K().ed.publicJwk("b")});
       }},
      {"KeyWithoutKidServesTokenWithKid", [] { return tok(K().rsa, "RS256", "rotated-7"); }, std::nullopt, nullptr,
       [] { return mint::jwks({K().rsa.publicJwk()}); }},
      {"JwkAlgDiffersFromHeader", [] { return tok(K().rsa2, "RS256", "rsa2-rs384"); }, F::KeyAlgorithmMismatch},
      {"JwkAlgSameAsHeader", [] { return tok(K().rsa2, "RS384", "rsa2-rs384"); }, std::nullopt},
      {"Rs256HeaderWithEcKey",
       [] {
         // Whatever signature: the RSA verifier must never be handed an EC key.
         return raw(header("RS256", "ec256").dump(), payload().dump(), K().ec256.signDer("ES256", "x"));
       },
       F::KeyAlgorithmMismatch},
      {"Es384HeaderWithP256Key", [] { return tok(K().ec256, "ES384", "ec256"); }, F::KeyAlgorithmMismatch},
      {"Es256HeaderWithP384Key", [] { return tok(K().ec384, "ES256", "ec384"); }, F::KeyAlgorithmMismatch},
      {"EdDSAHeaderWithRsaKey",
       [] { return raw(header("EdDSA", "rsa").dump(), payload().dump(), std::string(64, 'x')); },
       F::KeyAlgorithmMismatch},
      {"Es256HeaderWithEd25519Key",
       [] { return raw(header("ES256", "ed").dump(), payload().dump(), std::string(64, 'x')); },
       F::KeyAlgorithmMismatch},

      // Not a signed token, or not one we can read.
      {"JweFiveParts", [] { return std::string("eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn"); }, F::Malformed},
      {"TwoParts", [] { return mint::b64url(header("RS256").dump()) + "." + mint::b64url(payload().dump()); },
       F::Malformed},
      {"FourParts", [] { return tok(K().rsa, "RS256", "rsa") + ".x"; }, F::Malformed},
      {"EmptyToken", [] { return std::string(); }, F::Malformed},
      {"HeaderBadBase64", [] { return "eyJhbGciOiJSUzI1NiJ9*." + mint::b64url(payload().dump()) + ".c2ln"; },
       F::Malformed},
      {"SignatureBadBase64", [] { return tok(K().rsa, "RS256", "rsa") + "!"; }, F::Malformed},
      {"PaddedBase64",
       [] {
         auto s = mint::sign(K().rsa, header("RS256", "rsa"), payload());
         return s.signingInput() + "." + mint::b64url(s.signature) + "==";
       },
       F::Malformed},
      {"HeaderNotJson", [] { return raw("{alg: RS256}", payload().dump(), "sig"); }, F::Malformed},
      {"PayloadArray", [] { return raw(header("RS256", "rsa").dump(), R"(["iss","sub"])", "sig"); }, F::Malformed},
      {"PayloadNotJson", [] { return raw(header("RS256", "rsa").dump(), "iss=me", "sig"); }, F::Malformed},
      {"EmptyPayload", [] { return mint::b64url(header("RS256", "rsa").dump()) + "..c2ln"; }, F::Malformed},
      {"HeaderWithoutAlg", [] { return raw(R"({"typ":"JWT"})", payload().dump(), "sig"); }, F::Malformed},
      {"HeaderAlgNotString", [] { return raw(R"({"alg":256})", payload().dump(), "sig"); }, F::Malformed},
      {"HeaderKidNotString", [] { return raw(R"({"alg":"RS256","kid":7})", payload().dump(), "sig"); }, F::Malformed},
      {"HeaderCrit",
       [] {
         json h = header("RS256", "rsa");
         h["crit"] = {"exp"};
         return mint::token(K().rsa, h, payload());
       },
       F::Malformed},
      // Claims of the wrong type fail even in a correctly signed token.
      {"ExpAsString",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"exp", std::to_string(kT0 + 3600)}});
       },
       F::Malformed},
      {"NbfAsString",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"nbf", "0"}});
       },
       F::Malformed},
      {"IatAsBool",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"iat", true}});
       },
       F::Malformed},
      {"AudAsNumber",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", 7}});
       },
       F::Malformed},
      {"AudListWithNumber",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"aud", json::array({kAudience, 7})}});
       },
       F::Malformed},
      {"IssAsObject",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"iss", {{"url", kIssuer}}}});
       },
       F::Malformed},
      {"SubAsNumber",
       [] {
         return tok(K().rsa, "RS256", "rsa", {{"sub", 42}});
       },
       F::Malformed},
  };
}

class VerifyTable : public ::testing::TestWithParam<Case> {};

TEST_P(VerifyTable, Verdict) {
  const Case& c = GetParam();
  JwtRule r = rule();
  if (c.editRule) c.editRule(r);
  auto keySet = parseJwks(c.jwks().dump());
  ASSERT_TRUE(keySet) << keySet.error().message;
  ASSERT_TRUE(keySet->skipped.empty());

  const std::string token = c.token();
  auto expect = [&](const VerifyResult& result) {
    if (!c.want) {
      ASSERT_TRUE(result.ok()) << toString(result.error().reason) << ": " << result.error().message;
      EXPECT_EQ(result->principal, kIssuer + "/alice");
    } else {
      ASSERT_FALSE(result.ok()) << "verified, want " << toString(*c.want);
      EXPECT_EQ(toString(result.error().reason), toString(*c.want)) << result.error().message;
      EXPECT_FALSE(result.error().message.empty());
    }
  };
  expect(verify(r, *keySet, token, at(c.now)));
  // Through the verified-token cache: the same verdict when the token is new to
  // it and when it is remembered (a valid one is a hit the second time).
  VerifiedTokenCache cache;
  auto shared = std::make_shared<const KeySet>(std::move(*keySet));
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "cache miss" : "cache, second time");
    expect(cache.verify(r, shared, token, at(c.now)));
  }
  // Remembered: every token whose signature holds, even when the clock or the
  // audience then refuses it (those checks run again on each use).
  const bool authentic =
      !c.want || *c.want == F::Expired || *c.want == F::NotYetValid || *c.want == F::AudienceMismatch;
  EXPECT_EQ(cache.stats().hits, authentic ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(Jwt, VerifyTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Verify, VerifiedTokenCarriesPrincipalAudiencesPresenterAndClaims) {
  auto keySet = parseJwks(allKeysJwks().dump());
  ASSERT_TRUE(keySet);
  json extra = {{"aud", json::array({kAudience, "other.example"})},
                {"azp", "web-frontend"},
                {"realm_access", {{"roles", json::array({"admin", "viewer"})}}}};
  auto result = verify(rule(), *keySet, tok(K().ec256, "ES256", "ec256", extra), at(kT0));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->issuer, kIssuer);
  EXPECT_EQ(result->subject, "alice");
  EXPECT_EQ(result->principal, "https://issuer.example/alice");
  EXPECT_EQ(result->audiences, (std::vector<std::string>{kAudience, "other.example"}));
  EXPECT_EQ(result->presenter, "web-frontend");
  EXPECT_EQ(result->claims["realm_access"]["roles"][1], "viewer");
  EXPECT_EQ(result->claims["iat"], kT0 - 10);
}

TEST(Verify, NoSubjectMeansNoPrincipal) {
  auto keySet = parseJwks(allKeysJwks().dump());
  ASSERT_TRUE(keySet);
  auto result = verify(rule(), *keySet, tok(K().ed, "EdDSA", "ed", {{"sub", nullptr}}), at(kT0));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->subject, "");
  EXPECT_EQ(result->principal, "");
}

TEST(Verify, ForgedClaimsAreJudgedAsForgeriesFirst) {
  // An expired token for the wrong audience with a broken signature is reported as
  // what makes it untrustworthy, not as what it claims.
  auto keySet = parseJwks(allKeysJwks().dump());
  ASSERT_TRUE(keySet);
  auto s = mint::sign(K().rsa, header("RS256", "rsa"), payload({{"exp", kT0 - 7200}, {"aud", "x"}}));
  s.signature[0] ^= 0x01;
  auto result = verify(rule(), *keySet, s.compact(), at(kT0));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, JwtFailure::BadSignature);
}

TEST(Verify, FailureNamesAreDistinctMetricLabels) {
  std::set<std::string> names;
  for (auto f : {F::Malformed, F::UnsupportedAlgorithm, F::AlgNone, F::UnknownKid, F::KeyAlgorithmMismatch,
                 F::BadSignature, F::Expired, F::NotYetValid, F::IssuerMismatch, F::AudienceMismatch}) {
    std::string n(toString(f));
    EXPECT_FALSE(n.empty());
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(toString(F::AlgNone), "alg_none");
  EXPECT_EQ(toString(F::KeyAlgorithmMismatch), "key_algorithm_mismatch");
}

TEST(Verify, MessagesQuoteTokenTextSafely) {
  auto keySet = parseJwks(allKeysJwks().dump());
  ASSERT_TRUE(keySet);
  auto result =
      verify(rule(), *keySet,
             tok(K().rsa, "RS256", "rsa", {{"iss", "evil\nlevel=info forged" + std::string(200, 'x')}}), at(kT0));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message.find('\n'), std::string::npos);
  EXPECT_LT(result.error().message.size(), 150u);
}

}  // namespace
}  // namespace warren::jwt
