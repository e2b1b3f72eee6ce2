#pragma once
// The values of an AuthorizationPolicy as operators write them (principals,
// CIDRs, ports, service accounts), parsed once for both conversions: the tunnel's
// L4 form and the waypoint's L7 form. What fails to parse is collected in
// `invalid`: any entry makes the policy deny-all (fail closed).

#include <cstdint>
#include <string>
#include <vector>

#include "state/policy_types.h"

namespace warren::state {

bool parsePolicyPort(const std::string& text, uint32_t& out);

struct PolicyValues {
  std::vector<std::string> invalid;

  std::vector<StringMatch> strings(const std::vector<std::string>& v);
  std::vector<IpBlock> ips(const std::vector<std::string>& v, const std::string& field);
  std::vector<uint32_t> ports(const std::vector<std::string>& v, const std::string& field);
  // serviceAccounts (Istio 1.24+): "ns/name", shorthand for principals ending
  // "/ns/<ns>/sa/<name>" in any trust domain.
  std::vector<StringMatch> serviceAccounts(const std::vector<std::string>& v, const std::string& field);
};

}  // namespace warren::state
