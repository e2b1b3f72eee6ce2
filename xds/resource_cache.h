#pragma once
// The client half of delta xDS without the transport: the resources held per
// type URL (converted, with their versions), and what one DeltaDiscoveryResponse
// does to them, per resource: those that convert are applied, those that do not
// are named in a NACK and keep their previous version (a policy that cannot be
// read is enforced as deny-all meanwhile). The state is rebuilt either way:
// the first time whole (buildState), then from the previous state with only the
// response's resources and what depends on them (the objects whose waypoint
// address changed owner), so one pod's change costs the same at any cluster size.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "state/cluster_state.h"
#include "xds/convert.h"

namespace warren::xds {

inline constexpr char kAddressType[] = "type.googleapis.com/istio.workload.Address";
inline constexpr char kAuthorizationType[] = "type.googleapis.com/istio.security.Authorization";

class ResourceCache {
 public:
  explicit ResourceCache(std::string defaultTrustDomain) : trustDomain_(std::move(defaultTrustDomain)) {}

  struct Outcome {
    // The ACK (type_url + response_nonce) or NACK (plus error_detail) to send.
    envoy::service::discovery::v3::DeltaDiscoveryRequest reply;
    std::optional<Error> rejected;  // why it is a NACK (every resource that failed)
    state::ClusterStatePtr state;   // the rebuilt state (also with a NACK; not for an unsupported type)
    std::vector<Error> warnings;    // cross-resource problems in that state
  };
  Outcome apply(const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);

  // name -> version of every resource held of `typeUrl`, for
  // initial_resource_versions after a reconnect.
  std::map<std::string, std::string> versions(const std::string& typeUrl) const;
  size_t addressCount() const { return addresses_.size(); }
  size_t policyCount() const { return policies_.size(); }

 private:
  // Each returns the errors of the resources it could not apply.
  std::vector<std::string> applyAddresses(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r,
                                          std::map<std::string, std::unique_ptr<const AddressItem>>& changed);
  std::vector<std::string> applyAuthorizations(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r,
                                               std::set<std::string>& changed);

  // Each fills `changed` with the names it touched, each with the item it
  // held before the response (nullptr: none; a pointer, so that the first
  // response's 100,000 new names do not each allocate room for an item).
  using AddressChanges = std::map<std::string, std::unique_ptr<const AddressItem>>;
  state::ClusterStatePtr rebuild(const AddressChanges& addresses, const std::set<std::string>& policies,
                                 std::vector<Error>* warnings);
  state::ClusterStatePtr buildWhole(std::vector<Error>* warnings);
  void indexWaypointUser(const std::string& name, const AddressItem& item, bool add);
  void countAlias(const std::string& name, const AddressItem& item, int delta);

  // What is held per Address resource. A service converted: resolving waypoints
  // reads services on every change. A workload as its serialized Address
  // (about a quarter of its converted form): the state holds it converted, and
  // the cache reads a workload back only when it changes, when a waypoint it
  // names moves, or for a whole build (converting is a pure function of the
  // bytes, so what is read back is what was converted).
  struct WorkloadBytes {
    std::string address;
  };
  struct HeldAddress {
    // AddressItem's alternatives, in its order. The service by pointer: a map
    // node sized for a Service would spend ~180 bytes on every workload's.
    std::variant<WorkloadBytes, std::shared_ptr<const state::Service>> item;
    // The resource's version, for initial_resource_versions after a reconnect:
    // here rather than in versions_, which would hold every name a second time.
    std::string version;
  };
  static const state::Service* heldService(const HeldAddress& held);
  AddressItem itemOf(const std::string& name, const HeldAddress& held) const;

  std::string trustDomain_;
  std::map<std::string, HeldAddress> addresses_;
  // The items the response being applied converted, by name: read back from here
  // rather than converted again (a first push is all of them). In one vector,
  // indexed by views of addresses_' keys: per-item map nodes freed after the
  // response would stay resident as holes among the held objects.
  std::vector<AddressItem> freshItems_;
  std::map<std::string_view, size_t> fresh_;
  std::map<std::string, state::AuthorizationPolicy> policies_;
  // For the incremental rebuild. The state last built, which the next builds on.
  state::ClusterStatePtr state_;
  // Resources whose name is not their object's key (istiod names a workload by
  // its uid, a service and a policy "namespace/name"): while any is held, two
  // names may hold one key, and only a whole build decides which wins.
  size_t aliased_ = 0;
  bool wholeNext_ = false;
  // Address name -> what resolving its waypoint warned, in the whole build's words.
  std::map<std::string, std::string> waypointWarnings_;
  // Who names a waypoint, by its VIP (the address form) or its key (the
  // hostname form): the names to re-resolve when that VIP or service changes.
  std::map<std::string, std::set<std::string>> waypointUsersByIp_;
  std::map<std::string, std::set<std::string>> waypointUsersByKey_;
  std::map<std::string, std::map<std::string, std::string>> versions_;  // type URL -> name -> version; not Address
};

}  // namespace warren::xds
