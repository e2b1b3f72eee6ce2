#pragma once
// The client half of delta xDS without the transport: the resources held per
// type URL (converted, with their versions), and what one DeltaDiscoveryResponse
// does to them. A response is all or nothing: every added resource must convert,
// or none is applied and the reply is a NACK naming the first that failed.

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
    std::optional<Error> rejected;  // why it is a NACK
    state::ClusterStatePtr state;   // the rebuilt state, when applied
    std::vector<Error> warnings;    // cross-resource problems in that state
  };
  Outcome apply(const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);

  // name -> version of every resource held of `typeUrl`, for
  // initial_resource_versions after a reconnect.
  std::map<std::string, std::string> versions(const std::string& typeUrl) const;
  size_t addressCount() const { return addresses_.size(); }
  size_t policyCount() const { return policies_.size(); }

 private:
  Status applyAddresses(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r);
  Status applyAuthorizations(const envoy::service::discovery::v3::DeltaDiscoveryResponse& r);

  std::string trustDomain_;
  std::map<std::string, AddressItem> addresses_;
  std::map<std::string, state::AuthorizationPolicy> policies_;
  std::map<std::string, std::map<std::string, std::string>> versions_;  // type URL -> name -> version
};

}  // namespace warren::xds
