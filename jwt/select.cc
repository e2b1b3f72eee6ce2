#include "jwt/select.h"

#include "jwt/token.h"

namespace warren::jwt {

std::optional<std::string> peekIssuer(std::string_view token) {
  auto jws = parseJws(token);
  if (!jws) return std::nullopt;
  auto iss = jws->payload.find("iss");
  if (iss == jws->payload.end() || !iss->is_string()) return std::nullopt;
  return iss->get<std::string>();
}

const JwtRule* selectRule(std::span<const JwtRule> rules, std::string_view token) {
  auto iss = peekIssuer(token);
  if (!iss) return nullptr;
  for (const auto& rule : rules)
    if (!rule.issuer.empty() && rule.issuer == *iss) return &rule;
  return nullptr;
}

}  // namespace warren::jwt
