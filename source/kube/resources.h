#pragma once
// The API resources a KubeSource lists and watches, one table entry each, and the
// request targets of the list/watch protocol (pure).

#include <string>
#include <vector>

namespace warren::source::kube {

struct ResourceType {
  std::string name;        // plural, as in the path and RBAC: "pods"
  std::string kind;        // "Pod": list items carry no kind, so conversion takes it from here
  std::string apiVersion;  // "v1", "security.istio.io/v1"
  std::string path;        // the cluster-wide collection: "/api/v1/pods"
  // Only this node's objects (fieldSelector spec.nodeName=<node>): the agent
  // needs its own pods, and a node watching every pod would not scale.
  bool nodeScoped = false;
  // A custom resource (Istio's, the Gateway API's): a cluster without its CRD
  // answers 404, which reads as "none of them", not as an error that would keep
  // the source from ever being ready. Asked again now and then, so a CRD
  // installed later is picked up.
  bool optional = false;
  // Older versions of the same group, tried in order when the preferred one
  // answers 404: Istio before 1.22 serves its security kinds only as v1beta1,
  // and a Gateway API install may serve only v1beta1 Gateways. The objects
  // convert identically in each.
  std::vector<std::string> olderVersions = {};
};

// The preferred version ("v1", from apiVersion) and then olderVersions.
std::vector<std::string> versionsOf(const ResourceType& r);

// The same resource at another version of its group: apiVersion and path name it
// ("/apis/security.istio.io/v1beta1/authorizationpolicies").
ResourceType atVersion(const ResourceType& r, const std::string& version);

// What warren-agent watches: its node's Pods, and Namespaces (their labels decide capture).
const std::vector<ResourceType>& agentResources();

// What warren-tunnel watches in standalone mode (--kube / --kubeconfig): every
// node's Pods (a destination's IP and identity), Namespaces, Services,
// EndpointSlices, Istio's security policies and waypoint Gateways.
const std::vector<ResourceType>& standaloneResources();

// GET <path>?fieldSelector=...&limit=<limit>[&continue=<token>]
std::string listTarget(const ResourceType& r, const std::string& nodeName, int limit, const std::string& continueToken);

// GET <path>?fieldSelector=...&watch=1&allowWatchBookmarks=true&resourceVersion=<rv>&timeoutSeconds=<n>
std::string watchTarget(const ResourceType& r, const std::string& nodeName, const std::string& resourceVersion,
                        int timeoutSeconds);

// RFC 3986 percent-encoding of a query value (unreserved characters pass).
std::string queryEscape(const std::string& value);

}  // namespace warren::source::kube
