#pragma once
// The waypoint's form of Istio AuthorizationPolicy: every field Istio defines,
// L7 included, for policies bound to a waypoint by targetRefs (a waypoint's
// Gateway, or a Service that uses the waypoint). The tunnel's L4 form
// (policy_types.h) keeps only what a tunnel can judge; this one keeps all of it.
//
// Semantics (Istio's): a policy matches when any rule matches; a rule matches when
// its from (any source), its to (any operation) and every when condition match; a
// field with values holds when any value matches, a not* field when none does.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/policy_types.h"

namespace warren::state {

// Istio's from.source.
struct L7Source {
  std::vector<StringMatch> principals, notPrincipals;                // "cluster.local/ns/a/sa/b" (no scheme)
  std::vector<StringMatch> requestPrincipals, notRequestPrincipals;  // "<iss>/<sub>"
  std::vector<StringMatch> namespaces, notNamespaces;
  std::vector<IpBlock> ipBlocks, notIpBlocks;              // the HBONE peer's address
  std::vector<IpBlock> remoteIpBlocks, notRemoteIpBlocks;  // the original client (x-forwarded-for)
};

// Istio's to.operation. Paths use Istio's glob: exact, "prefix*", "*suffix", "*".
// Methods and paths are case-sensitive; hosts are not (stored and compared
// lower-case, and a host pattern without a port also matches the authority with one).
struct L7Operation {
  std::vector<StringMatch> hosts, notHosts;
  std::vector<uint32_t> ports, notPorts;
  std::vector<StringMatch> methods, notMethods;
  std::vector<StringMatch> paths, notPaths;
};

// One when condition. `key` is one Istio supports (request.headers[x],
// request.auth.claims[a][b], request.auth.principal, request.auth.audiences,
// request.auth.presenter, source.ip, source.namespace, source.principal,
// remote.ip, destination.ip, destination.port, connection.sni); values use
// StringMatch globs, or CIDRs for the *.ip keys.
struct L7Condition {
  std::string key;
  std::vector<std::string> values, notValues;
};

// A when key taken apart: the attribute, and the bracketed arguments it carries
// (the header name of request.headers[x], the claim path of
// request.auth.claims[a][b]). Shared by the conversion, which rejects keys this
// does not parse, and the matcher, so both agree on what a key means.
struct ConditionKey {
  enum class Attr {
    RequestHeader,     // args: {name}, lower-case
    RequestClaim,      // args: the path, outermost first
    RequestPrincipal,  // request.auth.principal
    RequestAudiences,  // request.auth.audiences (claim "aud")
    RequestPresenter,  // request.auth.presenter (claim "azp")
    SourceIp,
    RemoteIp,
    SourceNamespace,
    SourcePrincipal,
    DestinationIp,
    DestinationPort,
    ConnectionSni,
  } attr = Attr::RequestHeader;
  std::vector<std::string> args;

  bool isIp() const { return attr == Attr::SourceIp || attr == Attr::RemoteIp || attr == Attr::DestinationIp; }
};
std::optional<ConditionKey> parseConditionKey(std::string_view key);

struct L7Rule {
  std::vector<L7Source> from;
  std::vector<L7Operation> to;
  std::vector<L7Condition> when;
};

// What a waypoint policy is bound to (its targetRefs).
struct L7Target {
  enum class Kind { Gateway, Service } kind = Kind::Gateway;
  std::string ns, name;
};

struct L7Policy {
  std::string name, ns;
  PolicyAction action = PolicyAction::Allow;
  std::vector<L7Rule> rules;  // none: an ALLOW matches nothing, a DENY matches nothing
  bool dryRun = false;
  std::vector<L7Target> targets;
  // As in the L4 form: what the conversion changed, e.g. an invalid policy
  // enforced as deny-all. Shown in the config dump and `warrenctl waypoint show`.
  std::vector<std::string> conversionNotes;
  std::string where;  // file and line of the source object, "" from xDS

  std::string key() const { return ns + "/" + name; }
};

}  // namespace warren::state
