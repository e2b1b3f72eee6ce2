// What an xDS server (istiod, or anything that reaches the tunnel's xDS client)
// sends: DeltaDiscoveryResponses applied to the client's resource cache, which
// converts each istio.workload.Address / istio.security.Authorization and
// rebuilds the state (xds/resource_cache.h, xds/convert.h). Input: one mode byte,
// then protobuf bytes (ParseFromString):
//   0: a whole DeltaDiscoveryResponse;
//   1: one Address, 2: one Authorization, each wrapped in a response of its type
//      (so mutations reach the resource's fields, not the Any around them).
// The same cache then takes the response again with the resources removed.
// Invariant: nothing crashes; a response of a supported type yields a state.
#include <string>

#include <nlohmann/json.hpp>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "state/state_json.h"
#include "tests/fuzz/fuzz_entries.h"
#include "xds/resource_cache.h"

namespace warren::fuzz {

using envoy::service::discovery::v3::DeltaDiscoveryResponse;

int xdsEntry(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 3;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  DeltaDiscoveryResponse response;
  if (mode == 0) {
    if (!response.ParseFromString(bytes)) return 0;
  } else {
    const char* type = mode == 1 ? xds::kAddressType : xds::kAuthorizationType;
    response.set_type_url(type);
    response.set_nonce("fuzz");
    auto* r = response.add_resources();
    r->set_name("fuzz/resource");
    r->set_version("1");
    r->mutable_resource()->set_type_url(type);
    r->mutable_resource()->set_value(bytes);
  }
  xds::ResourceCache cache("cluster.local");
  auto outcome = cache.apply(response);
  const bool supported = response.type_url() == xds::kAddressType || response.type_url() == xds::kAuthorizationType;
  if (supported) {
    FUZZ_CHECK(outcome.state != nullptr);
    (void)state::toJson(*outcome.state).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  // Everything it holds removed again: the cache must end empty.
  DeltaDiscoveryResponse removal;
  removal.set_type_url(response.type_url());
  removal.set_nonce("fuzz-2");
  for (const auto& r : response.resources()) removal.add_removed_resources(r.name());
  (void)cache.apply(removal);
  if (supported) FUZZ_CHECK(cache.addressCount() == 0 && cache.policyCount() == 0);
  return 0;
}

}  // namespace warren::fuzz
