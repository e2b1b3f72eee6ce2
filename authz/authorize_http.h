#pragma once
// L7 authorization at the waypoint: may this HTTP request reach its destination?
// A pure function over the request's facts and the waypoint policies bound to the
// destination, with Istio's (Envoy RBAC's) evaluation order:
//  1. any matching DENY policy denies;
//  2. if no ALLOW policy applies, allow; if some apply, one of their rules must match;
//  AUDIT matches are reported and never change the verdict; dry-run policies report
//  what they would have decided.
// A denied request is answered 403 "RBAC: access denied" by the waypoint.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "identity/identity.h"
#include "state/l7_policy.h"

namespace warren::authz {

struct HttpRequestFacts {
  // Connection: the HBONE peer (the client pod's address) and its verified identity.
  std::string sourceIp;
  std::optional<identity::SpiffeId> sourceIdentity;
  // The original client (first x-forwarded-for entry, else sourceIp).
  std::string remoteIp;
  std::string destinationIp;  // the address the client dialed (service VIP or pod IP)
  uint32_t destinationPort = 0;
  std::string sni;  // connection.sni; "" inside HBONE
  // Request.
  std::string method;
  std::string path;                                          // without the query string, as Envoy matches url_path
  std::string authority;                                     // :authority / Host
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  // End-user authentication (RequestAuthentication): set when a JWT was verified.
  std::optional<std::string> requestPrincipal;  // "<iss>/<sub>"
  nlohmann::json claims;                        // the token's payload; null without one
};

struct HttpDecision {
  bool allowed = false;
  std::string policy;  // "ns/name" that decided; "" when none did
  int rule = -1;
  std::string reason;  // one line for the access log and `explain`
  std::vector<std::string> audits;
  std::vector<std::string> dryRun;
};

HttpDecision authorizeRequest(const std::vector<const state::L7Policy*>& policies, const HttpRequestFacts& request);

// Index of the first rule of `p` that matches, or -1.
int firstMatchingRule(const state::L7Policy& p, const HttpRequestFacts& request);

// The when keys the matcher understands; a policy with any other key is invalid
// (fail closed, as Istio rejects it).
bool isSupportedConditionKey(const std::string& key);

}  // namespace warren::authz
