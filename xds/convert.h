#pragma once
// xDS's edge: Istio's workload API resources (istio.workload.Address,
// istio.security.Authorization) -> the tunnel's state types. Pure functions, no
// I/O: the client validates a whole response with them before applying any of
// it, and NACKs the response when one resource fails. Every error names the
// resource it is about.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"
#include "state/cluster_state.h"

namespace warren::xds {

// A raw address (4 or 16 bytes, network order) as an IP literal; `what` names
// the field for the error.
Result<std::string> ipFromBytes(const std::string& bytes, const std::string& what);

// A waypoint named by address, before buildState resolves it: "address IP" or
// "address NETWORK/IP". Never a service's key, so one left unresolved makes
// routing refuse instead of bypassing the waypoint.
std::string waypointAddressKey(const std::string& network, const std::string& ip);

// `defaultTrustDomain` stands in when the workload elides its trust domain
// (istiod does so for the mesh's own).
//
// Waypoints (Workload.waypoint, Service.waypoint) become the waypoint Service's
// key: "namespace/hostname" from the hostname form; the address form (a service
// VIP) becomes waypointAddressKey(network, ip) and buildState resolves it. A
// waypoint that names nothing is an error: it must not read as "no waypoint".
Result<state::Workload> convertWorkload(const istio::workload::Workload& w, const std::string& defaultTrustDomain);
Result<state::Service> convertService(const istio::workload::Service& s);
Result<state::AuthorizationPolicy> convertAuthorization(const istio::security::Authorization& a);

// One istio.workload.Address resource: a workload or a service.
using AddressItem = std::variant<state::Workload, state::Service>;
Result<AddressItem> convertAddress(const istio::workload::Address& a, const std::string& defaultTrustDomain);

// The IP of a waypoint named by address (waypointAddressKey's form), or nullopt
// for one named by its service's key.
std::optional<std::string> waypointAddressIp(const std::string& waypoint);

// One waypoint reference as buildState resolves it: the address form becomes the
// key of the service owning that VIP (`vipOwner`: nullptr for none); anything
// left unknown stays as it is (routing then refuses the traffic) and `warning`
// says so, naming `what` (the object).
struct ResolvedWaypoint {
  std::string key;
  std::string warning;  // "" when resolved to a known service
};
ResolvedWaypoint resolveWaypoint(const std::string& waypoint, const std::string& what,
                                 const std::function<std::optional<std::string>(const std::string& ip)>& vipOwner,
                                 const std::function<bool(const std::string& key)>& serviceExists);

// Builds the tunnel's state from every resource the client holds. Cross-resource
// problems (an IP claimed twice, a waypoint address that is no service's VIP, ...)
// do not fail the build: the state keeps what is consistent and *warnings gets one
// entry per problem. Waypoint addresses resolve by IP alone (Warren's state has one
// network).
state::ClusterStatePtr buildState(const std::map<std::string, AddressItem>& addresses,
                                  const std::map<std::string, state::AuthorizationPolicy>& policies,
                                  std::vector<Error>* warnings = nullptr);
// The same, moving the items into the state instead of copying them (a whole
// build of 100,000 workloads).
state::ClusterStatePtr buildState(std::map<std::string, AddressItem>&& addresses,
                                  const std::map<std::string, state::AuthorizationPolicy>& policies,
                                  std::vector<Error>* warnings = nullptr);

}  // namespace warren::xds
