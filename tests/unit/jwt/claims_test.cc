// claimValues: what request.auth.claims[...] sees of a verified payload.

#include "jwt/claims.h"

#include <gtest/gtest.h>

namespace warren::jwt {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

const json kPayload = json::parse(R"({
  "iss": "https://issuer.example",
  "sub": "alice",
  "groups": ["eng", "oncall"],
  "scope": "read write",
  "realm_access": {"roles": ["admin", "viewer"], "level": {"n": 1}},
  "tenant_id": 42,
  "ratio": 1.5,
  "email_verified": true,
  "nothing": null,
  "mixed": ["a", 7, false, ["nested"], {"k": "v"}, null]
})");

struct Case {
  std::string name;
  Strings path;
  Strings want;
};

class ClaimsTable : public ::testing::TestWithParam<Case> {};

TEST_P(ClaimsTable, Values) {
  const Case& c = GetParam();
  EXPECT_EQ(claimValues(kPayload, c.path), c.want);
}

INSTANTIATE_TEST_SUITE_P(Jwt, ClaimsTable,
                         ::testing::ValuesIn(std::vector<Case>{
                             {"String", {"sub"}, {"alice"}},
                             {"ListOfStrings", {"groups"}, {"eng", "oncall"}},
                             {"NestedList", {"realm_access", "roles"}, {"admin", "viewer"}},
                             {"SpacedStringIsNotSplit", {"scope"}, {"read write"}},
                             {"Integer", {"tenant_id"}, {"42"}},
                             {"Float", {"ratio"}, {"1.5"}},
                             {"Boolean", {"email_verified"}, {"true"}},
                             {"ObjectHasNoValue", {"realm_access"}, {}},
                             {"DeeperObjectPath", {"realm_access", "level", "n"}, {"1"}},
                             {"NullHasNoValue", {"nothing"}, {}},
                             {"Missing", {"roles"}, {}},
                             {"PathThroughAString", {"sub", "x"}, {}},
                             {"PathThroughAList", {"groups", "0"}, {}},
                             {"MixedListKeepsScalars", {"mixed"}, {"a", "7", "false"}},
                             {"EmptyPathIsThePayloadObject", {}, {}},
                         }),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(FindClaim, WalksObjects) {
  const Strings path = {"realm_access", "roles"};
  const json* roles = findClaim(kPayload, path);
  ASSERT_NE(roles, nullptr);
  EXPECT_TRUE(roles->is_array());
  EXPECT_EQ(findClaim(kPayload, Strings{"realm_access", "missing"}), nullptr);
  EXPECT_EQ(findClaim(kPayload, Strings{}), &kPayload);
}

}  // namespace
}  // namespace warren::jwt
