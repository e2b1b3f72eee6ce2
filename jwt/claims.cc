#include "jwt/claims.h"

namespace warren::jwt {
namespace {

void scalarText(const nlohmann::json& v, std::vector<std::string>& out) {
  if (v.is_string())
    out.push_back(v.get<std::string>());
  else if (v.is_number() || v.is_boolean())
    out.push_back(v.dump());
}

}  // namespace

const nlohmann::json* findClaim(const nlohmann::json& payload, std::span<const std::string> path) {
  const nlohmann::json* at = &payload;
  for (const auto& key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::vector<std::string> claimValues(const nlohmann::json& payload, std::span<const std::string> path) {
  std::vector<std::string> out;
  const nlohmann::json* claim = findClaim(payload, path);
  if (!claim) return out;
  if (claim->is_array())
    for (const auto& e : *claim) scalarText(e, out);
  else
    scalarText(*claim, out);
  return out;
}

}  // namespace warren::jwt
