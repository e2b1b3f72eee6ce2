#pragma once
// Parsers for the Service, AuthorizationPolicy and PeerAuthentication objects of
// the standalone YAML source. They keep the objects as written (validated), and
// leave the conversion into policy semantics to the tunnel's state builder.

#include "source/cluster_types.h"
#include "source/yaml_util.h"

namespace warren::source {

void parseService(const Doc& d, Snapshot& s);
void parseAuthorizationPolicy(const Doc& d, Snapshot& s);
void parsePeerAuthentication(const Doc& d, Snapshot& s);
// gateway.networking.k8s.io Gateway, class istio-waypoint only.
void parseGateway(const Doc& d, Snapshot& s);

}  // namespace warren::source
