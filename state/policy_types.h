#pragma once
// The tunnel's internal form of L4 authorization, shaped after Istio's
// istio.security.Authorization (what istiod sends ztunnel), so that both sources
// convert into it at the edge: the YAML directory's AuthorizationPolicy and
// PeerAuthentication objects (converted here as istiod would) and xDS resources.
//
// Semantics (Istio's): a policy matches when any rule matches; a rule matches
// when all its clauses match; a clause matches when any of its matches does; a
// match holds when every field it sets holds (values within a field are OR'd,
// a `not` field holds when none of its values match).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/atom.h"
#include "state/flat_map.h"

namespace warren::state {

// Istio's principal / namespace matching: "x" exact, "x*" prefix, "*x" suffix,
// "*" presence (any non-empty value).
struct StringMatch {
  enum class Kind { Exact, Prefix, Suffix, Presence } kind = Kind::Exact;
  std::string value;

  static StringMatch parse(std::string_view istioPattern);
  bool matches(std::string_view s) const;
  std::string text() const;  // back in Istio's pattern syntax, for logs and dumps
  bool operator==(const StringMatch&) const = default;
};

// A CIDR block ("10.0.0.0/8", or a bare IP = /32 or /128).
struct IpBlock {
  int family = 0;  // AF_INET | AF_INET6
  std::array<uint8_t, 16> addr{};
  uint8_t prefixLen = 0;

  static std::optional<IpBlock> parse(std::string_view cidr);
  bool contains(std::string_view ip) const;  // an IP literal; false when unparsable
  std::string text() const;
  bool operator==(const IpBlock&) const = default;
};

struct Match {
  std::vector<StringMatch> namespaces, notNamespaces;
  // Without the "spiffe://" scheme, as operators write them: "cluster.local/ns/a/sa/b".
  std::vector<StringMatch> principals, notPrincipals;
  std::vector<IpBlock> sourceIps, notSourceIps;
  std::vector<IpBlock> destinationIps, notDestinationIps;
  std::vector<uint32_t> destinationPorts, notDestinationPorts;
  bool operator==(const Match&) const = default;
};

struct Clause {
  std::vector<Match> matches;  // OR'd; an empty clause matches nothing
  bool operator==(const Clause&) const = default;
};

struct Rule {
  std::vector<Clause> clauses;  // AND'd; a rule without clauses matches everything
  bool operator==(const Rule&) const = default;
};

enum class PolicyAction { Allow, Deny, Audit };
enum class PolicyScope {
  Global,           // every workload in the mesh (root-namespace policy, no selector)
  Namespace,        // every workload in `ns` (no selector)
  WorkloadSelector  // the workloads that list it in Workload::policies
};

struct AuthorizationPolicy {
  std::string name, ns;
  PolicyScope scope = PolicyScope::Namespace;
  PolicyAction action = PolicyAction::Allow;
  std::vector<Rule> rules;  // OR'd; none: an ALLOW matches nothing, so it denies all
  bool dryRun = false;      // istio.io/dry-run: evaluated and logged, never enforced
  // What the conversion had to change, e.g. an ALLOW rule dropped because it needs
  // L7 attributes. Logged at load and shown in the config dump.
  std::vector<std::string> conversionNotes;

  std::string key() const { return ns + "/" + name; }
  bool operator==(const AuthorizationPolicy&) const = default;

  // Fail closed: whatever the policy's scope selects is denied (one rule with no
  // clauses matches every connection), never dry-run, with `note` saying why.
  // For a policy that cannot be read or enforced as written, whatever its source.
  void enforceAsDenyAll(std::string note) {
    action = PolicyAction::Deny;
    dryRun = false;
    rules = {Rule{}};
    conversionNotes.push_back(std::move(note));
  }
};

// PeerAuthentication, resolved per workload: the effective mode of inbound
// plaintext, and which PeerAuthentication decided it.
enum class MtlsMode { Permissive, Strict };
struct MtlsPolicy {
  MtlsMode mode = MtlsMode::Permissive;
  // Per workload, and the same few PeerAuthentications decide for many: atoms
  // and flat maps (state/atom.h, state/flat_map.h).
  Atom decidedBy;                         // "ns/name", "" for the default (PERMISSIVE)
  FlatMap<uint32_t, MtlsMode> portModes;  // portLevelMtls overrides
  FlatMap<uint32_t, Atom> portDecidedBy;
  bool operator==(const MtlsPolicy&) const = default;

  MtlsMode modeFor(uint32_t port) const {
    auto it = portModes.find(port);
    return it == portModes.end() ? mode : it->second;
  }
};

const char* actionName(PolicyAction a);
const char* scopeName(PolicyScope s);
const char* mtlsModeName(MtlsMode m);

}  // namespace warren::state
