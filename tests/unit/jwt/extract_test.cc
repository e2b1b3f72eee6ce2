// extractTokens: a table of requests and rule locations, and what each yields.

#include "jwt/extract.h"

#include <gtest/gtest.h>

namespace warren::jwt {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using S = TokenSource;

struct Found {
  std::string token;
  TokenSource source;
  std::string name;
};

struct Case {
  std::string name;
  JwtRule rule;  // only its locations matter
  Headers headers;
  std::string path;
  std::vector<Found> want;  // in order; empty: no token
};

JwtRule headers(std::vector<JwtHeaderLocation> h) {
  JwtRule r;
  r.fromHeaders = std::move(h);
  return r;
}
JwtRule params(std::vector<std::string> p) {
  JwtRule r;
  r.fromParams = std::move(p);
  return r;
}
JwtRule cookies(std::vector<std::string> c) {
  JwtRule r;
  r.fromCookies = std::move(c);
  return r;
}

const std::string T = "eyJh.eyJz.c2ln";  // the text is all that matters here, not its validity

std::vector<Case> cases() {
  return {
      // Defaults: Authorization "Bearer ", then ?access_token=.
      {"DefaultBearerHeader", {}, {{"authorization", "Bearer " + T}}, "/", {{T, S::Header, "authorization"}}},
      {"DefaultPrefixMismatch", {}, {{"authorization", "Basic dXNlcjpwYXNz"}}, "/", {}},
      {"DefaultPrefixIsCaseSensitive", {}, {{"authorization", "bearer " + T}}, "/", {}},
      {"DefaultPrefixOnlyAtTheStart", {}, {{"authorization", "Token Bearer " + T}}, "/", {}},
      {"DefaultBearerTrimsSpaces",
       {},
       {{"authorization", "Bearer   " + T + " "}},
       "/",
       {{T, S::Header, "authorization"}}},
      {"DefaultBearerWithNothingAfter", {}, {{"authorization", "Bearer "}}, "/", {{"", S::Header, "authorization"}}},
      {"DefaultQueryParam", {}, {}, "/orders?page=2&access_token=" + T + "&x=1", {{T, S::QueryParam, "access_token"}}},
      {"DefaultQueryParamPercentDecoded",
       {},
       {},
       "/?access_token=eyJh%2EeyJz%2ec2ln",
       {{T, S::QueryParam, "access_token"}}},
      {"DefaultQueryParamFirstWins",
       {},
       {},
       "/?access_token=" + T + "&access_token=second",
       {{T, S::QueryParam, "access_token"}}},
      {"DefaultQueryParamNotInFragment", {}, {}, "/p#access_token=" + T, {}},
      {"DefaultQueryParamEmptyValue", {}, {}, "/p?access_token=", {{"", S::QueryParam, "access_token"}}},
      {"DefaultOtherParamIgnored", {}, {}, "/p?token=" + T + "&xaccess_token=" + T, {}},
      {"DefaultHeaderThenParam",
       {},
       {{"authorization", "Bearer a.b.c"}},
       "/?access_token=d.e.f",
       {{"a.b.c", S::Header, "authorization"}, {"d.e.f", S::QueryParam, "access_token"}}},
      {"DefaultsIgnoreCookies", {}, {{"cookie", "access_token=" + T}}, "/", {}},
      {"NoTokenAnywhere", {}, {{"host", "api.example"}}, "/p?q=1", {}},

      // Rule locations replace the defaults.
      {"CustomHeaderWithoutPrefix",
       headers({{"X-Jwt-Assertion", ""}}),
       {{"x-jwt-assertion", T}},
       "/",
       {{T, S::Header, "x-jwt-assertion"}}},
      {"CustomHeaderWithPrefix",
       headers({{"x-token", "Token "}}),
       {{"x-token", "Token " + T}},
       "/",
       {{T, S::Header, "x-token"}}},
      {"CustomHeaderPrefixMismatch", headers({{"x-token", "Token "}}), {{"x-token", T}}, "/", {}},
      {"AuthorizationWithCustomPrefix",
       headers({{"Authorization", "JWT "}}),
       {{"authorization", "JWT " + T}},
       "/",
       {{T, S::Header, "authorization"}}},
      {"CustomHeaderDisablesDefaults",
       headers({{"x-jwt", ""}}),
       {{"authorization", "Bearer " + T}},
       "/?access_token=" + T,
       {}},
      {"RepeatedHeaderYieldsEach",
       headers({{"x-jwt", ""}}),
       {{"x-jwt", "a.b.c"}, {"x-jwt", "d.e.f"}},
       "/",
       {{"a.b.c", S::Header, "x-jwt"}, {"d.e.f", S::Header, "x-jwt"}}},
      {"CustomParam",
       params({"jwt"}),
       {{"authorization", "Bearer x.y.z"}},
       "/?access_token=x&jwt=" + T,
       {{T, S::QueryParam, "jwt"}}},
      {"CookieAmongSeveral",
       cookies({"session-jwt"}),
       {{"cookie", "theme=dark; session-jwt=" + T + "; lang=en"}},
       "/",
       {{T, S::Cookie, "session-jwt"}}},
      {"CookieQuoted",
       cookies({"session-jwt"}),
       {{"cookie", "session-jwt=\"" + T + "\""}},
       "/",
       {{T, S::Cookie, "session-jwt"}}},
      {"CookieInSecondCookieHeader",
       cookies({"session-jwt"}),
       {{"cookie", "theme=dark"}, {"cookie", "session-jwt=" + T}},
       "/",
       {{T, S::Cookie, "session-jwt"}}},
      {"CookieNameMustMatchWhole", cookies({"jwt"}), {{"cookie", "xjwt=a.b.c; jwt2=d.e.f"}}, "/", {}},
      {"CookieNameIsCaseSensitive", cookies({"jwt"}), {{"cookie", "JWT=" + T}}, "/", {}},
      {"CookieFirstWins", cookies({"jwt"}), {{"cookie", "jwt=" + T + "; jwt=later"}}, "/", {{T, S::Cookie, "jwt"}}},
      {"CookieRuleIgnoresAuthorization", cookies({"jwt"}), {{"authorization", "Bearer " + T}}, "/", {}},
  };
}

class ExtractTable : public ::testing::TestWithParam<Case> {};

TEST_P(ExtractTable, Finds) {
  const Case& c = GetParam();
  auto found = extractTokens(c.rule, RequestView{c.headers, c.path});
  ASSERT_EQ(found.size(), c.want.size());
  for (size_t i = 0; i < found.size(); ++i) {
    EXPECT_EQ(found[i].token, c.want[i].token) << i;
    EXPECT_EQ(found[i].source, c.want[i].source) << i;
    EXPECT_EQ(found[i].name, c.want[i].name) << i;
  }
  auto first = extractToken(c.rule, RequestView{c.headers, c.path});
  ASSERT_EQ(first.has_value(), !c.want.empty());
  if (first) {
    EXPECT_EQ(first->token, c.want[0].token);
  }
}

INSTANTIATE_TEST_SUITE_P(Jwt, ExtractTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace warren::jwt
