#pragma once
// The values of an AuthorizationPolicy as operators write them (principals,
// CIDRs, ports, service accounts), parsed once for both conversions: the tunnel's
// L4 form and the waypoint's L7 form. What fails to parse is collected in
// `invalid`: any entry makes the policy deny-all (fail closed).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "state/policy_types.h"

namespace warren::state {

bool parsePolicyPort(const std::string& text, uint32_t& out);

struct PolicyValues {
  std::string policyNs;  // the policy's namespace: a bare service account name is in it
  std::vector<std::string> invalid;

  std::vector<StringMatch> strings(const std::vector<std::string>& v);
  std::vector<IpBlock> ips(const std::vector<std::string>& v, const std::string& field);
  std::vector<uint32_t> ports(const std::vector<std::string>& v, const std::string& field);
  // serviceAccounts (Istio 1.24+): "ns/name", or "name" in the policy's own
  // namespace (policyNs); shorthand for principals ending "/ns/<ns>/sa/<name>" in
  // any trust domain. No wildcards, as Istio's API says.
  std::vector<StringMatch> serviceAccounts(const std::vector<std::string>& v, const std::string& field);
  // Istio's CRD refuses a source that sets (not)serviceAccounts together with
  // (not)principals or (not)namespaces ("Cannot set serviceAccounts with namespaces
  // or principals"); a YAML file has no API server to refuse it, so it is invalid
  // here. Read as principals OR'd with the accounts, it would admit more than
  // either field alone.
  void refuseServiceAccountsWithPrincipals(const std::map<std::string, std::vector<std::string>>& source,
                                           const std::string& where);
};

}  // namespace warren::state
