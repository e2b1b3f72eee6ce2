#include "jwt/token.h"

#include <vector>

#include "jwt/base64url.h"

namespace warren::jwt {
namespace {

using nlohmann::json;

// A base64url part holding a JSON object. nlohmann keeps the last of duplicate
// member names, which RFC 7519 §4 allows; invalid UTF-8 or nesting is a failure.
Result<json> objectPart(std::string_view part, const char* what) {
  if (part.empty()) return makeError(std::string(what) + " is empty");
  auto bytes = base64urlDecode(part);
  if (!bytes) return withContext(bytes.error(), what);
  json j = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return makeError(std::string(what) + " is not JSON");
  if (!j.is_object()) return makeError(std::string(what) + " is not a JSON object");
  return j;
}

}  // namespace

Result<Jws> parseJws(std::string_view token) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dot = token.find('.', start);
    parts.push_back(token.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() == 5) return makeError("a JWE (5 parts, encrypted) is not a signed token");
  if (parts.size() != 3) return makeError("a compact JWS has 3 parts, this has " + std::to_string(parts.size()));

  Jws jws;
  auto header = objectPart(parts[0], "header");
  if (!header) return header.error();
  jws.header = std::move(*header);
  auto alg = jws.header.find("alg");
  if (alg == jws.header.end() || !alg->is_string()) return makeError("header \"alg\" missing or not a string");
  jws.alg = alg->get<std::string>();
  if (auto kid = jws.header.find("kid"); kid != jws.header.end()) {
    if (!kid->is_string()) return makeError("header \"kid\" is not a string");
    jws.kid = kid->get<std::string>();
  }
  if (jws.header.contains("crit"))
    return makeError("header \"crit\" names extensions this verifier does not implement");

  auto payload = objectPart(parts[1], "payload");
  if (!payload) return payload.error();
  jws.payload = std::move(*payload);

  auto signature = base64urlDecode(parts[2]);
  if (!signature) return withContext(signature.error(), "signature");
  jws.signature = std::move(*signature);
  jws.signingInput = std::string(token.substr(0, parts[0].size() + 1 + parts[1].size()));
  return jws;
}

}  // namespace warren::jwt
