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
    if (!b)
      invalid.push_back(field + ": '" + s + "' is not an IP address or CIDR block");
    else
      out.push_back(*b);
  }
  return out;
}

std::vector<uint32_t> PolicyValues::ports(const std::vector<std::string>& v, const std::string& field) {
  std::vector<uint32_t> out;
  for (const auto& s : v) {
    uint32_t p = 0;
    if (!parsePolicyPort(s, p))
      invalid.push_back(field + ": '" + s + "' is not a port number");
    else
      out.push_back(p);
  }
  return out;
}

std::vector<StringMatch> PolicyValues::serviceAccounts(const std::vector<std::string>& v, const std::string& field) {
  std::vector<StringMatch> out;
  for (const auto& s : v) {
    auto slash = s.find('/');
    const std::string ns = slash == std::string::npos ? policyNs : s.substr(0, slash);
    const std::string name = slash == std::string::npos ? s : s.substr(slash + 1);
    if (ns.empty() || name.empty() || name.find('/') != std::string::npos) {
      invalid.push_back(field + ": '" + s + "' is not namespace/name or name");
      continue;
    }
    if (s.find('*') != std::string::npos) {
      invalid.push_back(field + ": '" + s + "' has a wildcard, which serviceAccounts does not allow");
      continue;
    }
    out.push_back({StringMatch::Kind::Suffix, "/ns/" + ns + "/sa/" + name});
  }
  return out;
}

void PolicyValues::refuseServiceAccountsWithPrincipals(const std::map<std::string, std::vector<std::string>>& source,
                                                       const std::string& where) {
  auto has = [&](const char* field) { return source.count(field) != 0; };
  if ((has("serviceAccounts") || has("notServiceAccounts")) &&
      (has("principals") || has("notPrincipals") || has("namespaces") || has("notNamespaces")))
    invalid.push_back(where + ": cannot set serviceAccounts with namespaces or principals");
}

}  // namespace warren::state
