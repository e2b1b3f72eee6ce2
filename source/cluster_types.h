#pragma once
// The cluster as the node agent sees it, whatever the source (the YAML directory,
// or the Kubernetes API: source/kube/): plain values, converted at the edge. Each
// compares by value, so a re-read tells a changed object from a rewritten file.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace warren::source {

struct Namespace {
  std::string name;
  std::map<std::string, std::string> labels;
  bool operator==(const Namespace&) const = default;
};

struct Pod {
  std::string uid, name, ns, serviceAccount, nodeName;
  std::map<std::string, std::string> labels;
  // status.podIPs; empty until the kubelet has written them (after CNI ADD).
  std::vector<std::string> ips;
  // status.phase Running (or absent) and no Ready condition that is "False".
  bool ready = true;
  std::map<std::string, uint32_t> namedPorts;  // containers[].ports[] name -> containerPort
  // spec.hostNetwork: the pod shares its node's network namespace and IP, so it
  // can neither be captured nor be told apart from the node by address.
  bool hostNetwork = false;
  // Last and defaulted, so that brace-initialised Pods need not name it.
  std::map<std::string, std::string> annotations = {};
  // status.phase Succeeded or Failed: every container has ended and the sandbox
  // is gone, though status.podIP may stay. Nothing of it runs on the node.
  bool finished = false;
  bool operator==(const Pod&) const = default;
};

// core/v1 Service, TCP ports only (the tunnel carries TCP).
struct ServicePortSpec {
  std::string name;
  std::string appProtocol;  // spec.ports[].appProtocol, as written
  uint32_t port = 0;
  uint32_t targetPort = 0;     // 0 with targetPortName empty: same as port
  std::string targetPortName;  // a named container port
  bool operator==(const ServicePortSpec&) const = default;
};
struct Service {
  std::string name, ns;
  std::map<std::string, std::string> labels;  // istio.io/use-waypoint lives here
  std::vector<std::string> clusterIPs;        // empty for headless
  std::map<std::string, std::string> selector;
  std::vector<ServicePortSpec> ports;
  bool operator==(const Service&) const = default;
};

// discovery.k8s.io/v1 EndpointSlice: the endpoints of a Service, as the API has
// them. Read for Services without a selector (their endpoints are written by
// hand or by another controller); a selector's endpoints come from the Pods.
struct EndpointSlicePort {
  std::string name;   // the Service port's name ("" for a single unnamed port)
  uint32_t port = 0;  // the endpoint's (target) port
  bool operator==(const EndpointSlicePort&) const = default;
};
struct EndpointSliceEndpoint {
  std::vector<std::string> addresses;
  bool ready = true;  // conditions.ready; absent counts as ready, as the API says
  bool operator==(const EndpointSliceEndpoint&) const = default;
};
struct EndpointSlice {
  std::string name, ns;
  std::string serviceName;  // label kubernetes.io/service-name
  std::vector<EndpointSlicePort> ports;
  std::vector<EndpointSliceEndpoint> endpoints;
  bool operator==(const EndpointSlice&) const = default;
};

// Optional label selector (selector.matchLabels): absent selects the whole scope.
struct Selector {
  bool present = false;
  std::map<std::string, std::string> matchLabels;
  bool selects(const std::map<std::string, std::string>& labels) const;
  bool operator==(const Selector&) const = default;
};

// security.istio.io AuthorizationPolicy, as written (v1 and v1beta1 share the shape).
// Field lists keep Istio's names; the tunnel converts them as istiod does.
struct PolicySource {
  std::map<std::string, std::vector<std::string>> fields;  // "principals", "notNamespaces", ...
  bool operator==(const PolicySource&) const = default;
};
struct PolicyOperation {
  std::map<std::string, std::vector<std::string>> fields;  // "ports", "methods", ...
  bool operator==(const PolicyOperation&) const = default;
};
struct PolicyCondition {
  std::string key;
  std::vector<std::string> values, notValues;
  bool operator==(const PolicyCondition&) const = default;
};
struct PolicyRule {
  std::vector<PolicySource> from;
  std::vector<PolicyOperation> to;
  std::vector<PolicyCondition> when;
  bool operator==(const PolicyRule&) const = default;
};
// Istio's targetRef / targetRefs entry (a Gateway API PolicyTargetReference).
struct TargetRef {
  std::string group, kind, name, ns;  // ns: the policy's own unless given
  bool operator==(const TargetRef&) const = default;
};
struct AuthorizationPolicy {
  std::string name, ns, where;  // where: file and line, for messages
  Selector selector;
  bool hasTargetRef = false;  // targetRef(s): a waypoint's policy, not the tunnel's
  std::vector<TargetRef> targetRefs;
  std::string action = "ALLOW";
  bool dryRun = false;  // annotation istio.io/dry-run: "true"
  std::vector<PolicyRule> rules;
  std::vector<std::string> invalid;  // what failed validation; non-empty = fail closed
  bool operator==(const AuthorizationPolicy&) const = default;
};

// security.istio.io RequestAuthentication, as written: one JWTRule per issuer.
struct JwtHeaderSpec {
  std::string name, prefix;
  bool operator==(const JwtHeaderSpec&) const = default;
};
struct ClaimToHeaderSpec {
  std::string header, claim;
  bool operator==(const ClaimToHeaderSpec&) const = default;
};
struct JwtRuleSpec {
  std::string issuer;
  std::vector<std::string> audiences;
  std::string jwks;     // an inline JWKS document
  std::string jwksUri;  // where to fetch one
  std::vector<JwtHeaderSpec> fromHeaders;
  std::vector<std::string> fromParams, fromCookies;
  bool forwardOriginalToken = false;
  std::string outputPayloadToHeader;
  std::vector<ClaimToHeaderSpec> outputClaimToHeaders;
  std::string timeout;  // a protobuf Duration ("5s", "1.5s"); "" for the default
  std::string where;    // "jwtRules[i] (line N)"
  bool operator==(const JwtRuleSpec&) const = default;
};
struct RequestAuthentication {
  std::string name, ns, where;
  Selector selector;
  bool hasTargetRef = false;  // targetRef(s): a waypoint's, as for AuthorizationPolicy
  std::vector<TargetRef> targetRefs;
  std::vector<JwtRuleSpec> jwtRules;
  std::vector<std::string> invalid;  // what failed validation; non-empty = fail closed
  bool operator==(const RequestAuthentication&) const = default;
};

// security.istio.io PeerAuthentication.
struct PeerAuthentication {
  std::string name, ns, where;
  Selector selector;
  std::string mode = "UNSET";  // UNSET | PERMISSIVE | STRICT | DISABLE
  std::map<uint32_t, std::string> portLevel;
  bool operator==(const PeerAuthentication&) const = default;
};

// gateway.networking.k8s.io Gateway. Only class istio-waypoint is read: a waypoint,
// whose pods carry the label gateway.networking.k8s.io/gateway-name=<name>.
struct Gateway {
  std::string name, ns, where;
  std::string gatewayClassName;
  // Label istio.io/waypoint-for: which traffic the waypoint takes (Istio's
  // default: traffic addressed to services).
  std::string waypointFor = "service";  // service | workload | all | none
  bool operator==(const Gateway&) const = default;
};

struct Snapshot {
  std::map<std::string, Namespace> namespaces;                          // by name
  std::map<std::string, Pod> pods;                                      // by "ns/name"
  std::map<std::string, Service> services;                              // by "ns/name"
  std::map<std::string, EndpointSlice> endpointSlices;                  // by "ns/name"
  std::map<std::string, AuthorizationPolicy> authorizationPolicies;     // by "ns/name"
  std::map<std::string, PeerAuthentication> peerAuthentications;        // by "ns/name"
  std::map<std::string, RequestAuthentication> requestAuthentications;  // by "ns/name"
  std::map<std::string, Gateway> gateways;                              // by "ns/name", waypoints only
  // Problems with single files or objects; the rest of the snapshot is good.
  std::vector<Error> errors;
};

}  // namespace warren::source
