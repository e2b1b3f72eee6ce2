#include "jwt/openid_discovery.h"

#include <nlohmann/json.hpp>

namespace warren::jwt {
namespace {

// http(s)://host...: the fetcher's parseUrl checks the rest when it fetches.
bool httpUrl(std::string_view s) {
  for (std::string_view scheme : {"https://", "http://"})
    if (s.starts_with(scheme) && s.size() > scheme.size() && s[scheme.size()] != '/') return true;
  return false;
}

}  // namespace

Result<std::string> discoveryUrl(std::string_view issuer) {
  std::string base(issuer);
  if (base.ends_with('/')) base.pop_back();
  if (!httpUrl(base))
    return makeError("issuer '" + std::string(issuer) + "' is not an http(s) URL to discover keys from");
  return base + std::string(kOpenIdConfigurationSuffix);
}

bool isDiscoveryUrl(std::string_view url) { return url.ends_with(kOpenIdConfigurationSuffix); }

Result<std::string> jwksUriOf(std::string_view document) {
  auto doc = nlohmann::json::parse(document, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return makeError("the OpenID configuration is not a JSON object");
  auto it = doc.find("jwks_uri");
  if (it == doc.end() || !it->is_string()) return makeError("the OpenID configuration has no \"jwks_uri\" string");
  std::string uri = it->get<std::string>();
  if (!httpUrl(uri)) return makeError("the OpenID configuration's jwks_uri is not an http(s) URL");
  if (isDiscoveryUrl(uri)) return makeError("the OpenID configuration's jwks_uri names a configuration document");
  return uri;
}

}  // namespace warren::jwt
