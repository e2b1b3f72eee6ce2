#include "jwt/jwks.h"

#include <openssl/x509.h>

#include <gtest/gtest.h>

#include "tests/unit/jwt/test_keys.h"

namespace warren::jwt {
namespace {

using nlohmann::json;
using namespace testkit;

TEST(Jwks, ParsesEveryKeyKind) {
  const auto& k = keys();
  auto set = parseJwks(mint::jwks({k.rsa.publicJwk("r", "RS256", "sig"), k.ec256.publicJwk("e1"),
                                   k.ec384.publicJwk("e2", "ES384"), k.ec521.publicJwk("e3"), k.ed.publicJwk()})
                           .dump());
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->keys.size(), 5u);
  EXPECT_TRUE(set->skipped.empty());

  const Jwk& rsa = set->keys[0];
  EXPECT_EQ(rsa.type, KeyType::Rsa);
  EXPECT_EQ(rsa.kid, "r");
  EXPECT_EQ(rsa.alg, "RS256");
  EXPECT_EQ(rsa.use, "sig");
  ASSERT_TRUE(rsa.key);
  EXPECT_EQ(EVP_PKEY_get_bits(rsa.key.get()), 2048);

  EXPECT_EQ(set->keys[1].type, KeyType::Ec);
  EXPECT_EQ(set->keys[1].curve, "P-256");
  EXPECT_FALSE(set->keys[1].alg.has_value());
  EXPECT_EQ(set->keys[2].curve, "P-384");
  EXPECT_EQ(set->keys[2].alg, "ES384");
  EXPECT_EQ(set->keys[3].curve, "P-521");
  EXPECT_EQ(EVP_PKEY_get_bits(set->keys[3].key.get()), 521);

  const Jwk& ed = set->keys[4];
  EXPECT_EQ(ed.type, KeyType::Ed25519);
  EXPECT_FALSE(ed.kid.has_value());
  EXPECT_TRUE(EVP_PKEY_is_a(ed.key.get(), "ED25519"));
}

TEST(Jwks, TheParsedKeyIsTheIssuersKey) {
  // Same modulus and exponent as the signing key: compare the SPKI encodings.
  auto jwk = parseJwk(keys().rsa.publicJwk().dump());
  ASSERT_TRUE(jwk) << jwk.error().message;
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(jwk->key.get(), &der);
  ASSERT_GT(len, 0);
  std::string got(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  EXPECT_EQ(got, keys().rsa.publicDer());
}

TEST(Jwks, SkipsAndCountsKeyTypesItDoesNotImplement) {
  const auto& k = keys();
  json ed448 = {{"kty", "OKP"}, {"crv", "Ed448"}, {"x", mint::b64url(std::string(57, 'x'))}, {"kid", "ed448"}};
  json secp256k1 = k.ec256.publicJwk("k1");
  secp256k1["crv"] = "secp256k1";
  auto set = parseJwks(mint::jwks({
                                      {{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}},
                                      k.rsa.publicJwk("good"),
                                      ed448,
                                      {{"kty", "OKP"}, {"crv", "X25519"}, {"x", k.ed.publicJwk()["x"]}},
                                      secp256k1,
                                      k.rsa.publicJwk("oaep", "RSA-OAEP"),
                                  })
                           .dump());
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].kid, "good");
  ASSERT_EQ(set->skipped.size(), 5u);
  EXPECT_EQ(set->unsupportedCount(), 5u);
  EXPECT_EQ(set->skipped[0].index, 0u);
  EXPECT_EQ(set->skipped[0].kid, "hmac");
  EXPECT_NE(set->skipped[0].reason.find("oct"), std::string::npos) << set->skipped[0].reason;
  EXPECT_EQ(set->skipped[1].index, 2u);
  EXPECT_EQ(set->skipped[1].kid, "ed448");
}

TEST(Jwks, SkipsUnusableKeysOfKnownTypesWithoutFailingTheSet) {
  const auto& k = keys();
  json offCurve = k.ec256.publicJwk("off-curve");
  std::string y = mint::b64url(std::string(32, '\x01'));
  offCurve["y"] = y;
  json shortX = k.ec384.publicJwk("short-x");
  shortX["x"] = mint::b64url(std::string(47, '\x01'));
  json badN = k.rsa.publicJwk("bad-n");
  badN["n"] = "not base64!";
  json noE = k.rsa.publicJwk("no-e");
  noE.erase("e");
  json encKey = k.rsa.publicJwk("enc", "", "enc");
  json wrongAlg = k.rsa.publicJwk("rsa-as-ec", "ES256");
  json noKty = k.ed.publicJwk("no-kty");
  noKty.erase("kty");
  json kidNumber = k.ed.publicJwk();
  kidNumber["kid"] = 7;
  json shortEd = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", mint::b64url(std::string(31, 'x'))}};

  auto set = parseJwks(
      mint::jwks({offCurve, shortX, badN, noE, encKey, wrongAlg, noKty, kidNumber, shortEd, k.ed.publicJwk("ok")})
          .dump());
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].kid, "ok");
  ASSERT_EQ(set->skipped.size(), 9u);
  EXPECT_EQ(set->unsupportedCount(), 0u);
  for (const auto& s : set->skipped) EXPECT_FALSE(s.reason.empty()) << s.index;
  EXPECT_EQ(set->skipped[0].kid, "off-curve");
  EXPECT_EQ(set->skipped[4].kid, "enc");
  EXPECT_NE(set->skipped[4].reason.find("enc"), std::string::npos);
}

TEST(Jwks, RejectsDocumentsThatAreNotAJwks) {
  for (const char* doc : {
           "",
           "not json",
           "{\"keys\": [",
           "[]",
           "\"keys\"",
           "{}",
           "{\"key\": []}",
           "{\"keys\": {}}",
           "{\"keys\": \"k\"}",
           "{\"keys\": [\"k\"]}",
           "{\"keys\": [{\"kty\":\"RSA\"}, 1]}",
       }) {
    auto set = parseJwks(doc);
    EXPECT_FALSE(set) << "accepted: " << doc;
  }
}

TEST(Jwks, AnEmptyKeyListIsAnEmptySet) {
  auto set = parseJwks(R"({"keys": []})");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->keys.empty());
  EXPECT_TRUE(set->skipped.empty());
}

TEST(Jwk, SingleKeyErrorsNameTheProblem) {
  auto ok = parseJwk(keys().ec384.publicJwk("one").dump());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->curve, "P-384");

  auto oct = parseJwk(std::string_view(R"({"kty":"oct","k":"c2VjcmV0"})"));
  ASSERT_FALSE(oct);
  EXPECT_NE(oct.error().message.find("oct"), std::string::npos);
  auto notJson = parseJwk(std::string_view("{"));
  ASSERT_FALSE(notJson);
  auto array = jwkFromJson(json::array());
  ASSERT_FALSE(array);
}

}  // namespace
}  // namespace warren::jwt
