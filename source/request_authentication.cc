#include "source/request_authentication.h"

#include <cctype>
#include <string_view>

#include "source/yaml_fields.h"

namespace warren::source {
namespace {

const std::vector<std::string> kJwtRuleFields = {"issuer",
                                                 "audiences",
                                                 "jwks",
                                                 "jwksUri",
                                                 "fromHeaders",
                                                 "fromParams",
                                                 "fromCookies",
                                                 "forwardOriginalToken",
                                                 "outputPayloadToHeader",
                                                 "outputClaimToHeaders",
                                                 "timeout"};

bool isHttpUrl(const std::string& uri) {
  for (const char* scheme : {"https://", "http://"})
    if (uri.rfind(scheme, 0) == 0 && uri.size() > std::string(scheme).size()) return true;
  return false;
}

// An HTTP header name: an RFC 9110 token (what Envoy accepts as a header to write).
bool isHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos))
      return false;
  return true;
}

JwtRuleSpec parseJwtRule(const YAML::Node& n, const std::string& where, std::vector<std::string>& invalid) {
  JwtRuleSpec r;
  r.where = where + lineOf(n);
  unknownKeys(n, kJwtRuleFields, where, invalid);
  r.issuer = str(at(n, "issuer"));
  if (r.issuer.empty()) invalid.push_back(where + ": issuer is required" + lineOf(n));
  r.audiences = stringList(at(n, "audiences"), where + ".audiences", invalid);
  r.jwks = str(at(n, "jwks"));
  r.jwksUri = str(at(n, "jwksUri"));
  if (!r.jwksUri.empty() && !isHttpUrl(r.jwksUri))
    invalid.push_back(where + ".jwksUri '" + r.jwksUri + "' is not an http(s) URL" + lineOf(at(n, "jwksUri")));
  if (const YAML::Node headers = at(n, "fromHeaders"); isListOfMaps(headers, where + ".fromHeaders", invalid))
    for (const auto& h : headers) {
      unknownKeys(h, {"name", "prefix"}, where + ".fromHeaders", invalid);
      JwtHeaderSpec spec{str(at(h, "name")), str(at(h, "prefix"))};
      if (spec.name.empty()) invalid.push_back(where + ".fromHeaders: an entry has no name" + lineOf(h));
      r.fromHeaders.push_back(std::move(spec));
    }
  r.fromParams = stringList(at(n, "fromParams"), where + ".fromParams", invalid);
  r.fromCookies = stringList(at(n, "fromCookies"), where + ".fromCookies", invalid);
  if (const YAML::Node fwd = at(n, "forwardOriginalToken"); fwd) {
    const std::string v = str(fwd);
    if (v != "true" && v != "false")
      invalid.push_back(where + ".forwardOriginalToken must be true or false" + lineOf(fwd));
    r.forwardOriginalToken = v == "true";
  }
  r.outputPayloadToHeader = str(at(n, "outputPayloadToHeader"));
  if (!r.outputPayloadToHeader.empty() && !isHeaderName(r.outputPayloadToHeader))
    invalid.push_back(where + ".outputPayloadToHeader '" + r.outputPayloadToHeader + "' is not a header name");
  if (const YAML::Node claims = at(n, "outputClaimToHeaders");
      isListOfMaps(claims, where + ".outputClaimToHeaders", invalid))
    for (const auto& c : claims) {
      unknownKeys(c, {"header", "claim"}, where + ".outputClaimToHeaders", invalid);
      ClaimToHeaderSpec spec{str(at(c, "header")), str(at(c, "claim"))};
      if (!isHeaderName(spec.header) || spec.claim.empty())
        invalid.push_back(where + ".outputClaimToHeaders: an entry needs a header name and a claim" + lineOf(c));
      r.outputClaimToHeaders.push_back(std::move(spec));
    }
  r.timeout = str(at(n, "timeout"));
  return r;
}

}  // namespace

void parseRequestAuthentication(const Doc& d, Snapshot& s) {
  RequestAuthentication ra;
  const std::string key = identify(d, ra);
  ra.where = d.where;
  const YAML::Node spec = at(d.node, "spec");
  unknownKeys(d.node, {"apiVersion", "kind", "metadata", "spec", "status"}, "document", ra.invalid);
  if (spec && !spec.IsMap() && !spec.IsNull()) ra.invalid.push_back("spec must be a mapping" + lineOf(spec));
  unknownKeys(spec, {"selector", "targetRef", "targetRefs", "jwtRules"}, "spec", ra.invalid);
  unknownKeys(at(spec, "selector"), {"matchLabels"}, "spec.selector", ra.invalid);
  ra.selector = selectorOf(spec);
  TargetRefsField refs = parseTargetRefs(spec, ra.ns, ra.selector.present, ra.invalid);
  ra.hasTargetRef = refs.present;
  ra.targetRefs = std::move(refs.refs);
  if (const YAML::Node rules = at(spec, "jwtRules"); isListOfMaps(rules, "jwtRules", ra.invalid))
    for (size_t i = 0; i < rules.size(); ++i)
      ra.jwtRules.push_back(parseJwtRule(rules[i], "jwtRules[" + std::to_string(i) + "]", ra.invalid));
  keepFirst(s.requestAuthentications, key, std::move(ra), "RequestAuthentication", d, s);
}

}  // namespace warren::source
