// Several RequestAuthentication rules (one per issuer): the token's iss picks the
// rule and key set, and only that pair can accept it.

#include "jwt/select.h"

#include <gtest/gtest.h>

#include "jwt/verify.h"
#include "tests/unit/jwt/test_keys.h"

namespace warren::jwt {
namespace {

using nlohmann::json;
using namespace testkit;

struct TwoIssuers {
  std::vector<JwtRule> rules;
  KeySet corpKeys, partnerKeys;
  TwoIssuers() {
    JwtRule corp = rule();
    JwtRule partner;
    partner.issuer = "https://partner.example";
    partner.audiences = {"partner-api"};
    rules = {corp, partner};
    corpKeys = parseJwks(mint::jwks({keys().rsa.publicJwk("corp")}).dump()).value();
    partnerKeys = parseJwks(mint::jwks({keys().ec256.publicJwk("partner")}).dump()).value();
  }
  const KeySet& keysFor(const JwtRule* r) const { return r == &rules[0] ? corpKeys : partnerKeys; }
};

TEST(SelectRule, PicksTheRuleOfTheTokensIssuer) {
  TwoIssuers t;
  std::string corp = mint::token(keys().rsa, header("RS256", "corp"), payload());
  std::string partner = mint::token(keys().ec256, header("ES256", "partner"),
                                    payload({{"iss", "https://partner.example"}, {"aud", "partner-api"}}));
  EXPECT_EQ(peekIssuer(partner), "https://partner.example");

  const JwtRule* forCorp = selectRule(t.rules, corp);
  const JwtRule* forPartner = selectRule(t.rules, partner);
  ASSERT_EQ(forCorp, &t.rules[0]);
  ASSERT_EQ(forPartner, &t.rules[1]);

  EXPECT_TRUE(verify(*forCorp, t.keysFor(forCorp), corp, at(kT0)));
  auto p = verify(*forPartner, t.keysFor(forPartner), partner, at(kT0));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->principal, "https://partner.example/alice");
  // The other pairing never accepts it.
  auto crossed = verify(t.rules[0], t.corpKeys, partner, at(kT0));
  ASSERT_FALSE(crossed);
  EXPECT_EQ(crossed.error().reason, JwtFailure::IssuerMismatch);
}

TEST(SelectRule, AnIssuerClaimIsOnlyAChoiceNotATrust) {
  // A token signed by the corp key claiming the partner's iss selects the partner
  // rule, whose keys refuse it.
  TwoIssuers t;
  std::string liar = mint::token(keys().rsa, header("RS256", "corp"),
                                 payload({{"iss", "https://partner.example"}, {"aud", "partner-api"}}));
  const JwtRule* r = selectRule(t.rules, liar);
  ASSERT_EQ(r, &t.rules[1]);
  auto v = verify(*r, t.keysFor(r), liar, at(kT0));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().reason, JwtFailure::UnknownKid);
}

TEST(SelectRule, NoRuleForUnknownIssuersOrUnreadableTokens) {
  TwoIssuers t;
  EXPECT_EQ(selectRule(t.rules, mint::token(keys().rsa, header("RS256"), payload({{"iss", "https://other"}}))),
            nullptr);
  EXPECT_EQ(selectRule(t.rules, mint::token(keys().rsa, header("RS256"), payload({{"iss", nullptr}}))), nullptr);
  EXPECT_EQ(selectRule(t.rules, mint::token(keys().rsa, header("RS256"), payload({{"iss", 5}}))), nullptr);
  EXPECT_EQ(selectRule(t.rules, "not-a-token"), nullptr);
  EXPECT_EQ(selectRule(t.rules, ""), nullptr);
  // A rule without an issuer is never chosen, even for a token with iss "".
  std::vector<JwtRule> blank(1);
  EXPECT_EQ(selectRule(blank, mint::token(keys().rsa, header("RS256"), payload({{"iss", ""}}))), nullptr);
}

TEST(SelectRule, FirstOfTwoRulesWithOneIssuer) {
  std::vector<JwtRule> rules = {rule(), rule()};
  rules[1].audiences = {"second"};
  EXPECT_EQ(selectRule(rules, mint::token(keys().rsa, header("RS256"), payload())), &rules[0]);
}

}  // namespace
}  // namespace warren::jwt
