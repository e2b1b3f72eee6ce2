#pragma once
// The client half of delta xDS without the transport: the resources held per
// type URL (converted, with their versions), and what one DeltaDiscoveryResponse
// does to them, per resource: those that convert are applied, those that do not
// are named in a NACK and keep their previous version (a policy that cannot be
// read is enforced as deny-all meanwhile). The state is rebuilt either way.

#include <map>
#include <optional>
#include <string>
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
  std::vector<std::string> applyAddresses(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r);
  std::vector<std::string> applyAuthorizations(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r);

  std::string trustDomain_;
  std::map<std::string, AddressItem> addresses_;
  std::map<std::string, state::AuthorizationPolicy> policies_;
  std::map<std::string, std::map<std::string, std::string>> versions_;  // type URL -> name -> version
};

}  // namespace warren::xds
