#include "state/policy_values.h"

#include <charconv>

namespace warren::state {

bool parsePolicyPort(const std::string& s, uint32_t& out) {
  uint32_t p = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
  if (ec != std::errc() || end != s.data() + s.size() || p == 0 || p > 65535) return false;
  out = p;
  return true;
}

std::vector<StringMatch> PolicyValues::strings(const std::vector<std::string>& v) {
  std::vector<StringMatch> out;
  out.reserve(v.size());
  for (const auto& s : v) out.push_back(StringMatch::parse(s));
  return out;
}

std::vector<IpBlock> PolicyValues::ips(const std::vector<std::string>& v, const std::string& field) {
  std::vector<IpBlock> out;
  for (const auto& s : v) {
    auto b = IpBlock::parse(s);
    if (!b) invalid.push_back(field + ": '" + s + "' is not an IP address or CIDR block");
    else out.push_back(*b);
  }
  return out;
}

std::vector<uint32_t> PolicyValues::ports(const std::vector<std::string>& v, const std::string& field) {
  std::vector<uint32_t> out;
  for (const auto& s : v) {
    uint32_t p = 0;
    if (!parsePolicyPort(s, p)) invalid.push_back(field + ": '" + s + "' is not a port number");
    else out.push_back(p);
  }
  return out;
}

std::vector<StringMatch> PolicyValues::serviceAccounts(const std::vector<std::string>& v, const std::string& field) {
  std::vector<StringMatch> out;
  for (const auto& s : v) {
    auto slash = s.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) {
      invalid.push_back(field + ": '" + s + "' is not namespace/name");
      continue;
    }
    out.push_back({StringMatch::Kind::Suffix, "/ns/" + s.substr(0, slash) + "/sa/" + s.substr(slash + 1)});
  }
  return out;
}

}  // namespace warren::state
