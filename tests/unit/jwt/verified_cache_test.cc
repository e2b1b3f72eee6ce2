// The verified-token cache: a repeated token skips only the signature check; the
// rule's and the clock's checks still run, a new key set is a miss, failures are
// never remembered, and the least recently used token goes first.

#include "jwt/verified_cache.h"

#include <gtest/gtest.h>

#include "tests/unit/jwt/test_keys.h"

namespace warren::jwt {
namespace {

using nlohmann::json;
using namespace testkit;

std::shared_ptr<const KeySet> keySet(const json& jwks) {
  auto parsed = parseJwks(jwks.dump());
  if (!parsed) throw std::runtime_error(parsed.error().message);
  return std::make_shared<const KeySet>(std::move(*parsed));
}

std::string rsaToken(const json& patch = json::object()) {
  return mint::token(keys().rsa, header("RS256", "rsa"), payload(patch));
}

TEST(VerifiedTokenCache, ARepeatedTokenIsAHitWithTheSameClaims) {
  VerifiedTokenCache cache;
  auto set = keySet(allKeysJwks());
  const std::string t = rsaToken({{"realm_access", {{"roles", {"customer"}}}}});
  auto first = cache.verify(rule(), set, t, at(kT0));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = cache.verify(rule(), set, t, at(kT0 + 1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.shared(), first.shared()) << "a hit shares the one verified token";
  EXPECT_EQ(second->principal, kIssuer + "/alice");
  EXPECT_EQ(second->claims["realm_access"]["roles"][0], "customer");
  const auto s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(VerifiedTokenCache, ACachedTokenStillExpiresAndStillMeetsEachRulesChecks) {
  VerifiedTokenCache cache;
  auto set = keySet(allKeysJwks());
  const std::string t = rsaToken({{"exp", kT0 + 100}, {"nbf", kT0 - 10}});
  ASSERT_TRUE(cache.verify(rule(), set, t, at(kT0)).ok());

  // Past exp + the clock skew: expired, though the signature is remembered.
  auto late = cache.verify(rule(), set, t, at(kT0 + 100 + kClockSkew.count() + 1));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().reason, JwtFailure::Expired);
  auto early = cache.verify(rule(), set, t, at(kT0 - 10 - kClockSkew.count() - 1));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().reason, JwtFailure::NotYetValid);

  // Another rule with other audiences, or another issuer, judges the same token.
  JwtRule otherAudience = rule();
  otherAudience.audiences = {"payments.example"};
  auto aud = cache.verify(otherAudience, set, t, at(kT0));
  ASSERT_FALSE(aud.ok());
  EXPECT_EQ(aud.error().reason, JwtFailure::AudienceMismatch);
  JwtRule otherIssuer = rule();
  otherIssuer.issuer = "https://other.example";
  auto iss = cache.verify(otherIssuer, set, t, at(kT0));
  ASSERT_FALSE(iss.ok());
  EXPECT_EQ(iss.error().reason, JwtFailure::IssuerMismatch);

  EXPECT_EQ(cache.stats().misses, 1u) << "every check above ran on the remembered signature";
}

TEST(VerifiedTokenCache, ANewKeySetIsAMissSoARemovedKeyStopsVerifyingAtOnce) {
  VerifiedTokenCache cache;
  auto before = keySet(allKeysJwks());
  const std::string t = rsaToken();
  ASSERT_TRUE(cache.verify(rule(), before, t, at(kT0)).ok());

  // The issuer rotated the RSA key out: the new set has only the EC key.
  auto after = keySet(mint::jwks({keys().ec256.publicJwk("ec256")}));
  auto r = cache.verify(rule(), after, t, at(kT0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, JwtFailure::UnknownKid);

  // Equal content but a different set object (a refetch): verified again.
  auto refetched = keySet(allKeysJwks());
  ASSERT_TRUE(cache.verify(rule(), refetched, t, at(kT0)).ok());
  EXPECT_EQ(cache.stats().misses, 3u);
  EXPECT_EQ(cache.stats().hits, 0u);
  ASSERT_TRUE(cache.verify(rule(), refetched, t, at(kT0)).ok());
  EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(VerifiedTokenCache, AFreedKeySetNeverMatchesANewOneAtTheSameAddress) {
  VerifiedTokenCache cache;
  const std::string t = rsaToken();
  {
    auto gone = keySet(allKeysJwks());
    ASSERT_TRUE(cache.verify(rule(), gone, t, at(kT0)).ok());
  }
  // Whatever address the next set gets, it is another set: only the EC key.
  auto next = keySet(mint::jwks({keys().ec256.publicJwk("rsa")}));
  auto r = cache.verify(rule(), next, t, at(kT0));
  ASSERT_FALSE(r.ok()) << "a remembered signature outlived its key set";
  EXPECT_EQ(r.error().reason, JwtFailure::KeyAlgorithmMismatch);
}

TEST(VerifiedTokenCache, FailuresAreNotRemembered) {
  VerifiedTokenCache cache;
  auto set = keySet(allKeysJwks());
  auto s = mint::sign(keys().rsa, header("RS256", "rsa"), payload());
  s.signature[5] ^= 0x01;
  const std::string forged = s.compact();
  for (int i = 0; i < 3; ++i) {
    auto r = cache.verify(rule(), set, forged, at(kT0));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, JwtFailure::BadSignature);
  }
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().misses, 3u);
  EXPECT_FALSE(cache.verify(rule(), nullptr, rsaToken(), at(kT0)).ok()) << "no key set: nothing verifies";
}

TEST(VerifiedTokenCache, TheLeastRecentlyUsedTokenIsDroppedPastTheCapacity) {
  VerifiedTokenCache cache(2);
  auto set = keySet(allKeysJwks());
  const std::string a = rsaToken({{"sub", "a"}}), b = rsaToken({{"sub", "b"}}), c = rsaToken({{"sub", "c"}});
  ASSERT_TRUE(cache.verify(rule(), set, a, at(kT0)).ok());
  ASSERT_TRUE(cache.verify(rule(), set, b, at(kT0)).ok());
  ASSERT_TRUE(cache.verify(rule(), set, a, at(kT0)).ok());  // a is now the most recent
  ASSERT_TRUE(cache.verify(rule(), set, c, at(kT0)).ok());  // b goes
  EXPECT_EQ(cache.stats().entries, 2u);
  const uint64_t misses = cache.stats().misses;
  ASSERT_TRUE(cache.verify(rule(), set, a, at(kT0)).ok());
  EXPECT_EQ(cache.stats().misses, misses) << "a was kept";
  ASSERT_TRUE(cache.verify(rule(), set, b, at(kT0)).ok());
  EXPECT_EQ(cache.stats().misses, misses + 1) << "b was dropped";

  VerifiedTokenCache off(0);
  ASSERT_TRUE(off.verify(rule(), set, a, at(kT0)).ok());
  ASSERT_TRUE(off.verify(rule(), set, a, at(kT0)).ok());
  EXPECT_EQ(off.stats().hits, 0u);
  EXPECT_EQ(off.stats().entries, 0u);
}

}  // namespace
}  // namespace warren::jwt
