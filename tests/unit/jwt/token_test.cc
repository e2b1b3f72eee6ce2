// parseJws: the structural half of verification, with its error messages.

#include "jwt/token.h"

#include <gtest/gtest.h>

#include "tests/unit/jwt/test_keys.h"

namespace warren::jwt {
namespace {

using namespace testkit;

TEST(ParseJws, SplitsAndDecodesASignedToken) {
  auto s = mint::sign(keys().ec256, header("ES256", "ec256"), payload());
  auto jws = parseJws(s.compact());
  ASSERT_TRUE(jws) << jws.error().message;
  EXPECT_EQ(jws->alg, "ES256");
  EXPECT_EQ(jws->kid, "ec256");
  EXPECT_EQ(jws->payload["sub"], "alice");
  EXPECT_EQ(jws->signingInput, s.signingInput());
  EXPECT_EQ(jws->signature, s.signature);
  EXPECT_EQ(jws->signature.size(), 64u);
}

TEST(ParseJws, AbsentKidIsNotAnEmptyKid) {
  auto jws = parseJws(mint::token(keys().ed, header("EdDSA"), payload()));
  ASSERT_TRUE(jws) << jws.error().message;
  EXPECT_FALSE(jws->kid.has_value());
}

TEST(ParseJws, SaysWhatIsWrong) {
  const std::string p = mint::b64url(payload().dump());
  const std::string h = mint::b64url(header("RS256").dump());
  const std::pair<std::string, std::string> cases[] = {
      {"a.b.c.d.e", "JWE"},
      {h + "." + p, "3 parts"},
      {"." + p + ".c2ln", "header is empty"},
      {"e30*." + p + ".c2ln", "header: base64url"},
      {mint::b64url("[1]") + "." + p + ".", "header is not a JSON object"},
      {mint::b64url("{") + "." + p + ".", "header is not JSON"},
      {mint::b64url("{\"alg\":\"RS256\"}\xff") + "." + p + ".", "header is not JSON"},
      {h + "." + mint::b64url("\"claims\"") + ".", "payload is not a JSON object"},
      {h + "." + p + ".c2ln=", "signature: base64url"},
  };
  for (const auto& [token, want] : cases) {
    auto jws = parseJws(token);
    ASSERT_FALSE(jws) << token;
    EXPECT_NE(jws.error().message.find(want), std::string::npos) << jws.error().message << " / want " << want;
  }
}

}  // namespace
}  // namespace warren::jwt
