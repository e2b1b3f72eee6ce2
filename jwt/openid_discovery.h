#pragma once
// OpenID Connect discovery (OpenID Connect Discovery 1.0, section 4), as istiod
// runs it for a RequestAuthentication rule with neither `jwks` nor `jwksUri`: the
// issuer's configuration document is at <issuer without a trailing '/'> +
// "/.well-known/openid-configuration", and its "jwks_uri" names the key set.
// Pure: the JWKS cache does the fetching.

#include <string>
#include <string_view>

#include "common/result.h"

namespace warren::jwt {

inline constexpr std::string_view kOpenIdConfigurationSuffix = "/.well-known/openid-configuration";

// The configuration document's URL for `issuer`, which must be an http(s) URL
// (an error names why not: Keycloak's, Okta's and Entra's issuers all are).
Result<std::string> discoveryUrl(std::string_view issuer);
// A URL discoveryUrl() made: fetch it, then the key set it names.
bool isDiscoveryUrl(std::string_view url);
// "jwks_uri" of a configuration document: a string that is an http(s) URL.
Result<std::string> jwksUriOf(std::string_view document);

}  // namespace warren::jwt
