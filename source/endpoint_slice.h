#pragma once
// discovery.k8s.io/v1 EndpointSlice objects (from the API source, or a YAML file).

#include "source/cluster_types.h"
#include "source/yaml_util.h"

namespace warren::source {

// The label that ties a slice to its Service.
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

// A slice without that label belongs to no Service and is skipped; an address
// that is not an IP, or a port that is not a number, is an error for the slice.
void parseEndpointSlice(const Doc& d, Snapshot& s);

}  // namespace warren::source
