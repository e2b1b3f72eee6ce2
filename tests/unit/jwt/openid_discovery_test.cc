// OpenID discovery's two pure steps: the configuration document's URL from an
// issuer, and the jwks_uri read out of the document.

#include "jwt/openid_discovery.h"

#include <gtest/gtest.h>

namespace warren::jwt {
namespace {

TEST(OpenIdDiscovery, TheDocumentIsAtTheIssuerWithTheWellKnownSuffix) {
  EXPECT_EQ(*discoveryUrl("https://sso.bank.example/realms/bank"),
            "https://sso.bank.example/realms/bank/.well-known/openid-configuration");
  // One trailing '/' is dropped first (Okta's and Entra's issuers end with one).
  EXPECT_EQ(*discoveryUrl("https://login.example/tenant/v2.0/"),
            "https://login.example/tenant/v2.0/.well-known/openid-configuration");
  EXPECT_EQ(*discoveryUrl("http://idp.local:8080"), "http://idp.local:8080/.well-known/openid-configuration");
  for (const char* notUrl : {"bank", "", "https://", "https:///x", "ftp://idp/x", "spiffe://cluster.local"}) {
    auto r = discoveryUrl(notUrl);
    ASSERT_FALSE(r.ok()) << notUrl;
    EXPECT_NE(r.error().message.find("is not an http(s) URL"), std::string::npos);
  }
  EXPECT_TRUE(isDiscoveryUrl(*discoveryUrl("https://a.example")));
  EXPECT_FALSE(isDiscoveryUrl("https://a.example/protocol/openid-connect/certs"));
}

TEST(OpenIdDiscovery, TheJwksUriIsReadFromTheDocument) {
  EXPECT_EQ(*jwksUriOf(R"({"issuer":"https://a","jwks_uri":"https://a/certs","token_endpoint":"https://a/t"})"),
            "https://a/certs");
  struct Bad {
    const char* document;
    const char* why;
  } bad[] = {
      {"not json", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {R"({"issuer":"https://a"})", "no \"jwks_uri\""},
      {R"({"jwks_uri":7})", "no \"jwks_uri\""},
      {R"({"jwks_uri":"file:///etc/keys"})", "not an http(s) URL"},
      {R"({"jwks_uri":"https://a/.well-known/openid-configuration"})", "names a configuration document"},
  };
  for (const auto& b : bad) {
    auto r = jwksUriOf(b.document);
    ASSERT_FALSE(r.ok()) << b.document;
    EXPECT_NE(r.error().message.find(b.why), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace warren::jwt
