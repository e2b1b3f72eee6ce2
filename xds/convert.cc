#include "xds/convert.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <optional>
#include <set>
#include <type_traits>

namespace warren::xds {

namespace {

namespace iw = istio::workload;
namespace is = istio::security;

constexpr uint32_t kMaxPort = 65535;
constexpr std::string_view kSpiffeScheme = "spiffe://";

// A port list entry: a service port must be a real port; a target port of 0 is
// how istiod says "not resolved at this level" (named target ports), so it stays 0.
Result<state::ServicePort> convertPort(const iw::Port& p, const std::string& where) {
  if (p.service_port() == 0 || p.service_port() > kMaxPort)
    return makeError(where + ": service port " + std::to_string(p.service_port()) + " is not in 1-65535");
  if (p.target_port() > kMaxPort)
    return makeError(where + ": target port " + std::to_string(p.target_port()) + " is above 65535");
  // Values this build does not know (a newer istiod) read as unknown: the
  // waypoint then speaks the client's HTTP version, which is always safe.
  const auto proto = p.app_protocol() >= 0 && p.app_protocol() <= static_cast<int>(state::AppProtocol::Tls)
                         ? static_cast<state::AppProtocol>(p.app_protocol())
                         : state::AppProtocol::Unknown;
  return state::ServicePort{p.service_port(), p.target_port(), proto};
}

// `where()` names the list; called only on an error, as the context costs string
// concatenations per object and a control plane's first push has 100,000 of them.
template <typename Ports, typename Where>
Result<std::vector<state::ServicePort>> convertPorts(const Ports& ports, const Where& where) {
  std::vector<state::ServicePort> out;
  out.reserve(static_cast<size_t>(ports.size()));
  for (const auto& p : ports) {
    auto port = convertPort(p, {});
    if (!port) return convertPort(p, where()).error();
    out.push_back(*port);
  }
  return out;
}

// Istio's principals carry the scheme ("spiffe://td/ns/a/sa/b"); the tunnel's
// form does not, as operators write them in policies.
std::string stripScheme(const std::string& v) {
  return v.starts_with(kSpiffeScheme) ? v.substr(kSpiffeScheme.size()) : v;
}

Result<state::StringMatch> convertStringMatch(const is::StringMatch& m, bool principal, const std::string& where) {
  using Kind = state::StringMatch::Kind;
  switch (m.match_type_case()) {
    case is::StringMatch::kExact:
      return state::StringMatch{Kind::Exact, principal ? stripScheme(m.exact()) : m.exact()};
    case is::StringMatch::kPrefix:
      return state::StringMatch{Kind::Prefix, principal ? stripScheme(m.prefix()) : m.prefix()};
    case is::StringMatch::kSuffix: return state::StringMatch{Kind::Suffix, m.suffix()};
    case is::StringMatch::kPresence: return state::StringMatch{Kind::Presence, ""};
    case is::StringMatch::MATCH_TYPE_NOT_SET: break;
  }
  return makeError(where + ": string match with no exact, prefix, suffix or presence");
}

template <typename Matches>
Status convertStringMatches(const Matches& in, bool principal, const std::string& where,
                            std::vector<state::StringMatch>& out) {
  for (const auto& m : in) {
    auto sm = convertStringMatch(m, principal, where);
    if (!sm) return sm.error();
    out.push_back(std::move(*sm));
  }
  return okStatus();
}

template <typename Addresses>
Status convertBlocks(const Addresses& in, const std::string& where, std::vector<state::IpBlock>& out) {
  for (const auto& a : in) {
    auto ip = ipFromBytes(a.address(), where);
    if (!ip) return ip.error();
    const uint32_t maxLen = a.address().size() == 4 ? 32 : 128;
    if (a.length() > maxLen)
      return makeError(where + ": prefix length " + std::to_string(a.length()) + " of " + *ip + " is above " +
                       std::to_string(maxLen));
    auto block = state::IpBlock::parse(*ip + "/" + std::to_string(a.length()));
    if (!block) return makeError(where + ": cannot use " + *ip + "/" + std::to_string(a.length()) + " as a CIDR");
    out.push_back(*block);
  }
  return okStatus();
}

// As the YAML source converts serviceAccounts: a principal suffix
// "/ns/NS/sa/NAME", any trust domain.
template <typename Accounts>
Status convertServiceAccounts(const Accounts& in, const std::string& where, std::vector<state::StringMatch>& out) {
  for (const auto& sa : in) {
    const std::string text = sa.namespace_() + "/" + sa.serviceaccount();
    // Neither part may be empty, hold a '/' or a wildcard (Istio's API allows none).
    if (sa.namespace_().empty() || sa.serviceaccount().empty() || text.find('*') != std::string::npos ||
        std::count(text.begin(), text.end(), '/') != 1)
      return makeError(where + ": service account \"" + text + "\" is not namespace/name");
    out.push_back({state::StringMatch::Kind::Suffix, "/ns/" + sa.namespace_() + "/sa/" + sa.serviceaccount()});
  }
  return okStatus();
}

template <typename Ports>
Status convertMatchPorts(const Ports& in, const std::string& where, std::vector<uint32_t>& out) {
  for (uint32_t p : in) {
    if (p == 0 || p > kMaxPort) return makeError(where + ": port " + std::to_string(p) + " is not in 1-65535");
    out.push_back(p);
  }
  return okStatus();
}

constexpr std::string_view kWaypointAddressPrefix = "address ";

// Istio's GatewayAddress as the tunnel's waypoint reference: the hostname form is
// the waypoint Service's key; the address form is kept as waypointAddressKey()
// until buildState finds the service whose VIP it is.
Result<std::string> convertWaypoint(const iw::GatewayAddress& gw, const std::string& where) {
  switch (gw.destination_case()) {
    case iw::GatewayAddress::kHostname: {
      const auto& h = gw.hostname();
      if (h.namespace_().empty() || h.hostname().empty())
        return makeError(where + ": waypoint hostname \"" + h.namespace_() + "/" + h.hostname() +
                         "\" is not namespace/hostname");
      return h.namespace_() + "/" + h.hostname();
    }
    case iw::GatewayAddress::kAddress: {
      auto ip = ipFromBytes(gw.address().address(), where + " waypoint address");
      if (!ip) return ip.error();
      return waypointAddressKey(gw.address().network(), *ip);
    }
    case iw::GatewayAddress::DESTINATION_NOT_SET: break;
  }
  // A waypoint that names nothing must not be read as "no waypoint".
  return makeError(where + ": waypoint with neither a hostname nor an address");
}

Result<state::Match> convertMatch(const is::Match& m, const std::string& where) {
  state::Match out;
  Status st;
  // Istio's API refuses service accounts beside principals or namespaces, so istiod
  // never sends both; a match that has them has no agreed meaning (the YAML source
  // refuses it too), and read as an OR of the two it would admit more than either.
  if ((m.service_accounts_size() || m.not_service_accounts_size()) &&
      (m.principals_size() || m.not_principals_size() || m.namespaces_size() || m.not_namespaces_size()))
    return makeError(where + ": service_accounts set with principals or namespaces, which Istio's API refuses");
  if (!(st = convertStringMatches(m.namespaces(), false, where + " namespaces", out.namespaces))) return st.error();
  if (!(st = convertStringMatches(m.not_namespaces(), false, where + " not_namespaces", out.notNamespaces)))
    return st.error();
  if (!(st = convertStringMatches(m.principals(), true, where + " principals", out.principals))) return st.error();
  if (!(st = convertStringMatches(m.not_principals(), true, where + " not_principals", out.notPrincipals)))
    return st.error();
  if (!(st = convertServiceAccounts(m.service_accounts(), where + " service_accounts", out.principals)))
    return st.error();
  if (!(st = convertServiceAccounts(m.not_service_accounts(), where + " not_service_accounts", out.notPrincipals)))
    return st.error();
  if (!(st = convertBlocks(m.source_ips(), where + " source_ips", out.sourceIps))) return st.error();
  if (!(st = convertBlocks(m.not_source_ips(), where + " not_source_ips", out.notSourceIps))) return st.error();
  if (!(st = convertBlocks(m.destination_ips(), where + " destination_ips", out.destinationIps))) return st.error();
  if (!(st = convertBlocks(m.not_destination_ips(), where + " not_destination_ips", out.notDestinationIps)))
    return st.error();
  if (!(st = convertMatchPorts(m.destination_ports(), where + " destination_ports", out.destinationPorts)))
    return st.error();
  if (!(st = convertMatchPorts(m.not_destination_ports(), where + " not_destination_ports", out.notDestinationPorts)))
    return st.error();
  return out;
}

// The field numbers `m` carries that these protos do not define: a newer
// istiod's, or upstream's opaque `extensions` (Authorization 7, Match 13). What
// they would restrict cannot be known. "" when there are none.
std::string unknownFields(const google::protobuf::Message& m) {
  const auto& unknown = m.GetReflection()->GetUnknownFields(m);
  std::set<int> numbers;
  for (int i = 0; i < unknown.field_count(); ++i) numbers.insert(unknown.field(i).number());
  std::string out;
  for (int n : numbers) out += (out.empty() ? "" : ", ") + std::to_string(n);
  return out;
}

// Unknown fields anywhere inside a rule (the rule, its clauses, their matches).
std::string unknownFieldsIn(const is::Group& rule) {
  std::string out;
  auto add = [&out](const std::string& where, const std::string& numbers) {
    if (!numbers.empty()) out += (out.empty() ? "" : "; ") + where + " field " + numbers;
  };
  add("rule", unknownFields(rule));
  for (int r = 0; r < rule.rules_size(); ++r) {
    add("clauses[" + std::to_string(r) + "]", unknownFields(rule.rules(r)));
    for (int m = 0; m < rule.rules(r).matches_size(); ++m)
      add("clauses[" + std::to_string(r) + "].matches[" + std::to_string(m) + "]",
          unknownFields(rule.rules(r).matches(m)));
  }
  return out;
}

}  // namespace

std::string waypointAddressKey(const std::string& network, const std::string& ip) {
  return std::string(kWaypointAddressPrefix) + (network.empty() ? "" : network + "/") + ip;
}

Result<std::string> ipFromBytes(const std::string& bytes, const std::string& what) {
  char buf[INET6_ADDRSTRLEN] = {};
  int family = bytes.size() == 4 ? AF_INET : bytes.size() == 16 ? AF_INET6 : 0;
  if (family == 0)
    return makeError(what + ": address of " + std::to_string(bytes.size()) + " bytes, want 4 (IPv4) or 16 (IPv6)");
  if (!inet_ntop(family, bytes.data(), buf, sizeof buf)) return makeError(what + ": unprintable address");
  return std::string(buf);
}

namespace {

// ipFromBytes with the context built only on an error (see convertPorts).
template <typename Where>
Result<std::string> ipAt(const std::string& bytes, const Where& where) {
  auto ip = ipFromBytes(bytes, {});
  if (ip) return ip;
  return ipFromBytes(bytes, where());
}

}  // namespace

Result<state::Workload> convertWorkload(const iw::Workload& in, const std::string& defaultTrustDomain) {
  if (in.uid().empty())
    return makeError("workload " + in.namespace_() + "/" + in.name() + ": no uid (the xDS name of a workload)");
  const std::string where = "workload " + in.uid();
  // The namespace is part of the identity; without it the workload could only be
  // given someone else's.
  if (in.namespace_().empty()) return makeError(where + ": no namespace");

  state::Workload w;
  w.uid = in.uid();
  w.name = in.name();
  w.ns = in.namespace_();
  w.serviceAccount = in.service_account().empty() ? "default" : in.service_account();
  w.node = in.node();
  w.ips.reserve(static_cast<size_t>(in.addresses_size()));
  for (int i = 0; i < in.addresses_size(); ++i) {
    auto ip = ipAt(in.addresses(i), [&] { return where + " addresses[" + std::to_string(i) + "]"; });
    if (!ip) return ip.error();
    w.ips.push_back(std::move(*ip));
  }

  switch (in.tunnel_protocol()) {
    case iw::HBONE:
      w.captured = true;
      w.captureReason = "control plane: tunnel_protocol HBONE";
      break;
    case iw::NONE:
      w.captured = false;
      w.captureReason = "control plane: tunnel_protocol NONE (not in the mesh)";
      break;
    case iw::LEGACY_ISTIO_MTLS:
      // A sidecar's pod (a mesh part-way through moving to ambient). Like
      // ztunnel, Warren cannot speak sidecar mTLS: it reaches the pod as it is,
      // whose sidecar takes plaintext unless its PeerAuthentication is STRICT.
      // Refusing the whole response for it would freeze every update instead.
      w.captured = false;
      w.captureReason = "control plane: tunnel_protocol LEGACY_ISTIO_MTLS (a sidecar; reached without HBONE)";
      break;
    default: return makeError(where + ": unknown tunnel_protocol " + std::to_string(in.tunnel_protocol()));
  }
  switch (in.network_mode()) {
    case iw::STANDARD: break;
    case iw::HOST_NETWORK: w.hostNetwork = true; break;
    default: return makeError(where + ": unknown network_mode " + std::to_string(in.network_mode()));
  }
  switch (in.status()) {
    case iw::HEALTHY: w.ready = true; break;
    case iw::UNHEALTHY: w.ready = false; break;
    default: return makeError(where + ": unknown status " + std::to_string(in.status()));
  }

  w.identity = identity::workloadIdentity(in.trust_domain().empty() ? defaultTrustDomain : in.trust_domain(), w.ns,
                                          w.serviceAccount);

  for (const auto& entry : in.services()) {
    // Named, not a structured binding: clang 14 (the fuzz build's) cannot capture
    // a binding in a lambda.
    const std::string& key = entry.first;
    const auto& list = entry.second;
    // "namespace/hostname", the Service's own key; anything else could never match one.
    auto slash = key.find('/');
    if (slash == 0 || slash == std::string::npos || slash + 1 == key.size())
      return makeError(where + ": service key \"" + key + "\" is not namespace/hostname");
    auto ports = convertPorts(list.ports(), [&] { return where + " services[" + key + "]"; });
    if (!ports) return ports.error();
    w.services[key] = std::move(*ports);
  }
  for (const auto& p : in.authorization_policies()) {
    if (p.empty()) return makeError(where + ": empty authorization policy name");
    w.policies.push_back(p);
  }
  if (in.has_waypoint()) {
    auto wp = convertWaypoint(in.waypoint(), where);
    if (!wp) return wp.error();
    w.waypoint = std::move(*wp);
  }
  return w;
}

Result<state::Service> convertService(const iw::Service& in) {
  const std::string where = "service " + in.namespace_() + "/" + in.hostname();
  if (in.hostname().empty()) return makeError(where + ": no hostname");
  if (in.namespace_().empty()) return makeError(where + ": no namespace");
  if (in.name().empty()) return makeError(where + ": no name");

  state::Service s;
  s.name = in.name();
  s.ns = in.namespace_();
  s.hostname = in.hostname();
  for (int i = 0; i < in.addresses_size(); ++i) {
    auto ip = ipAt(in.addresses(i).address(), [&] { return where + " addresses[" + std::to_string(i) + "]"; });
    if (!ip) return ip.error();
    s.vips.push_back(std::move(*ip));
  }
  auto ports = convertPorts(in.ports(), [&] { return where + " ports"; });
  if (!ports) return ports.error();
  s.ports = std::move(*ports);
  // Istio says which services a waypoint serves by pointing at it, never on the
  // waypoint's own Service: waypointFor stays empty, and routing does not need it.
  if (in.has_waypoint()) {
    auto wp = convertWaypoint(in.waypoint(), where);
    if (!wp) return wp.error();
    s.waypoint = std::move(*wp);
  }
  return s;
}

Result<state::AuthorizationPolicy> convertAuthorization(const is::Authorization& in) {
  const std::string where = "authorization " + in.namespace_() + "/" + in.name();
  if (in.name().empty()) return makeError(where + ": no name");

  state::AuthorizationPolicy p;
  p.name = in.name();
  p.ns = in.namespace_();
  p.dryRun = in.dry_run();
  switch (in.scope()) {
    case is::GLOBAL: p.scope = state::PolicyScope::Global; break;
    case is::NAMESPACE: p.scope = state::PolicyScope::Namespace; break;
    case is::WORKLOAD_SELECTOR: p.scope = state::PolicyScope::WorkloadSelector; break;
    default: return makeError(where + ": unknown scope " + std::to_string(in.scope()));
  }
  // A namespace-scoped policy without a namespace would silently apply nowhere.
  if (p.scope == state::PolicyScope::Namespace && p.ns.empty())
    return makeError(where + ": NAMESPACE scope without a namespace");
  switch (in.action()) {
    case is::ALLOW: p.action = state::PolicyAction::Allow; break;
    case is::DENY: p.action = state::PolicyAction::Deny; break;
    case is::AUDIT: p.action = state::PolicyAction::Audit; break;
    default: return makeError(where + ": unknown action " + std::to_string(in.action()));
  }

  // Fields Warren cannot read fail closed, as istiod treats what ztunnel cannot
  // enforce: an ALLOW rule that carries them never matches (dropped); a DENY or
  // AUDIT rule applies on what it can read (so a DENY denies more, never less).
  // Unknown at the policy's own level: whatever it selects is denied.
  if (const std::string top = unknownFields(in); !top.empty()) {
    p.enforceAsDenyAll("carries field " + top +
                       " Warren does not know: enforced as deny-all until "
                       "Warren understands it (fail closed)");
    return p;
  }
  for (int g = 0; g < in.groups_size(); ++g) {
    state::Rule rule;
    const auto& group = in.groups(g);
    if (const std::string unknown = unknownFieldsIn(group); !unknown.empty()) {
      const std::string what = "rules[" + std::to_string(g) + "] carries fields Warren does not know (" + unknown + ")";
      if (p.action == state::PolicyAction::Allow) {
        p.conversionNotes.push_back(what + ": an ALLOW rule Warren cannot read never matches; dropped");
        continue;
      }
      p.conversionNotes.push_back(what + ": enforced on the fields it knows");
    }
    for (int r = 0; r < group.rules_size(); ++r) {
      state::Clause clause;
      const auto& rules = group.rules(r);
      for (int m = 0; m < rules.matches_size(); ++m) {
        auto match = convertMatch(rules.matches(m), where + " groups[" + std::to_string(g) + "].rules[" +
                                                        std::to_string(r) + "].matches[" + std::to_string(m) + "]");
        if (!match) return match.error();
        clause.matches.push_back(std::move(*match));
      }
      rule.clauses.push_back(std::move(clause));
    }
    p.rules.push_back(std::move(rule));
  }
  return p;
}

Result<AddressItem> convertAddress(const iw::Address& a, const std::string& defaultTrustDomain) {
  switch (a.type_case()) {
    case iw::Address::kWorkload: {
      auto w = convertWorkload(a.workload(), defaultTrustDomain);
      if (!w) return w.error();
      return AddressItem(std::move(*w));
    }
    case iw::Address::kService: {
      auto s = convertService(a.service());
      if (!s) return s.error();
      return AddressItem(std::move(*s));
    }
    case iw::Address::TYPE_NOT_SET: break;
  }
  return makeError("address with neither a workload nor a service");
}

std::optional<std::string> waypointAddressIp(const std::string& waypoint) {
  if (!waypoint.starts_with(kWaypointAddressPrefix)) return std::nullopt;
  std::string ip = waypoint.substr(kWaypointAddressPrefix.size());
  if (auto slash = ip.rfind('/'); slash != std::string::npos) ip = ip.substr(slash + 1);  // network/ip
  return ip;
}

ResolvedWaypoint resolveWaypoint(const std::string& waypoint, const std::string& what,
                                 const std::function<std::optional<std::string>(const std::string& ip)>& vipOwner,
                                 const std::function<bool(const std::string& key)>& serviceExists) {
  ResolvedWaypoint out{waypoint, ""};
  if (waypoint.empty()) return out;
  if (auto ip = waypointAddressIp(waypoint)) {
    auto owner = vipOwner(*ip);
    if (!owner) {
      out.warning = what + ": waypoint " + waypoint + " is no service's VIP; its traffic is refused until one has it";
      return out;
    }
    out.key = *owner;
  }
  if (!serviceExists(out.key))
    out.warning = what + ": waypoint " + out.key + " is no known service; its traffic is refused until it is";
  return out;
}

namespace {

// `Map` const: the items are copied into the state; not const: moved.
template <typename Map>
state::ClusterStatePtr buildStateFrom(Map& addresses, const std::map<std::string, state::AuthorizationPolicy>& policies,
                                      std::vector<Error>* warnings) {
  // Waypoints named by address: the service whose VIP it is, as the state will
  // index VIPs (the first service by key keeps a VIP claimed twice).
  std::map<std::string, std::string> serviceByVip;
  std::set<std::string> serviceKeys;
  for (const auto& [name, item] : addresses)
    if (const auto* s = std::get_if<state::Service>(&item)) {
      serviceKeys.insert(s->key());
      for (const auto& vip : s->vips) serviceByVip.emplace(vip, s->key());
    }
  auto warn = [&](std::string msg) {
    if (warnings) warnings->push_back(makeError(std::move(msg)));
  };
  // An unknown waypoint is kept as it is: no service has that key, so routing
  // refuses the traffic rather than going around the waypoint.
  // `waypoint`: a service's std::string or a workload's state::Atom.
  auto resolve = [&](auto& waypoint, const std::string& what) {
    auto r = resolveWaypoint(
        waypoint, what,
        [&](const std::string& ip) {
          auto it = serviceByVip.find(ip);
          return it == serviceByVip.end() ? std::nullopt : std::optional<std::string>(it->second);
        },
        [&](const std::string& key) { return serviceKeys.count(key) != 0; });
    waypoint = std::move(r.key);
    if (!r.warning.empty()) warn(std::move(r.warning));
  };
  state::ClusterState::Builder b;
  for (auto& [name, item] : addresses) {
    std::visit(
        [&](auto& held) {
          auto v = std::move(held);  // a copy when held is const
          // No waypoint: nothing to resolve, and no name to build for a warning.
          if (!v.waypoint.empty()) {
            if constexpr (std::is_same_v<decltype(v), state::Workload>)
              resolve(v.waypoint, "workload " + v.uid);
            else
              resolve(v.waypoint, "service " + v.key());
          }
          b.add(std::move(v));
        },
        item);
  }
  for (const auto& [name, p] : policies) {
    for (const auto& n : p.conversionNotes) warn("AuthorizationPolicy " + p.key() + ": " + n);
    b.add(p);
  }
  return b.finish(warnings);
}

}  // namespace

state::ClusterStatePtr buildState(const std::map<std::string, AddressItem>& addresses,
                                  const std::map<std::string, state::AuthorizationPolicy>& policies,
                                  std::vector<Error>* warnings) {
  return buildStateFrom(addresses, policies, warnings);
}

state::ClusterStatePtr buildState(std::map<std::string, AddressItem>&& addresses,
                                  const std::map<std::string, state::AuthorizationPolicy>& policies,
                                  std::vector<Error>* warnings) {
  return buildStateFrom(addresses, policies, warnings);
}

}  // namespace warren::xds
