#include "source/kube/resources.h"

#include "source/kube/permissions.h"

namespace warren::source::kube {

const std::vector<ResourceType>& agentResources() {
  static const std::vector<ResourceType> table = {
      {"namespaces", "Namespace", "v1", "/api/v1/namespaces", false},
      {"pods", "Pod", "v1", "/api/v1/pods", true},
  };
  return table;
}

const std::vector<ResourceType>& standaloneResources() {
  static const std::vector<ResourceType> table = {
      {"namespaces", "Namespace", "v1", "/api/v1/namespaces", false, false},
      {"pods", "Pod", "v1", "/api/v1/pods", false, false},
      {"services", "Service", "v1", "/api/v1/services", false, false},
      {"endpointslices", "EndpointSlice", "discovery.k8s.io/v1", "/apis/discovery.k8s.io/v1/endpointslices", false,
       false},
      // Served as v1 from Istio 1.22, as v1beta1 only before.
      {"authorizationpolicies",
       "AuthorizationPolicy",
       "security.istio.io/v1",
       "/apis/security.istio.io/v1/authorizationpolicies",
       false,
       true,
       {"v1beta1"}},
      {"peerauthentications",
       "PeerAuthentication",
       "security.istio.io/v1",
       "/apis/security.istio.io/v1/peerauthentications",
       false,
       true,
       {"v1beta1"}},
      {"requestauthentications",
       "RequestAuthentication",
       "security.istio.io/v1",
       "/apis/security.istio.io/v1/requestauthentications",
       false,
       true,
       {"v1beta1"}},
      // Gateway API v1.0 made Gateway v1; older installs serve v1beta1 only.
      {"gateways",
       "Gateway",
       "gateway.networking.k8s.io/v1",
       "/apis/gateway.networking.k8s.io/v1/gateways",
       false,
       true,
       {"v1beta1"}},
  };
  return table;
}

std::vector<std::string> versionsOf(const ResourceType& r) {
  const auto slash = r.apiVersion.find('/');
  std::vector<std::string> out = {slash == std::string::npos ? r.apiVersion : r.apiVersion.substr(slash + 1)};
  out.insert(out.end(), r.olderVersions.begin(), r.olderVersions.end());
  return out;
}

ResourceType atVersion(const ResourceType& r, const std::string& version) {
  ResourceType out = r;
  const std::string group = apiGroupOf(r.apiVersion);
  out.apiVersion = group.empty() ? version : group + "/" + version;
  out.path = (group.empty() ? "/api/" : "/apis/" + group + "/") + version + "/" + r.name;
  return out;
}

std::string queryEscape(const std::string& value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

namespace {
std::string selectorQuery(const ResourceType& r, const std::string& nodeName) {
  return r.nodeScoped ? "fieldSelector=" + queryEscape("spec.nodeName=" + nodeName) + "&" : "";
}
}  // namespace

std::string listTarget(const ResourceType& r, const std::string& nodeName, int limit,
                       const std::string& continueToken) {
  std::string t = r.path + "?" + selectorQuery(r, nodeName) + "limit=" + std::to_string(limit);
  if (!continueToken.empty()) t += "&continue=" + queryEscape(continueToken);
  return t;
}

std::string watchTarget(const ResourceType& r, const std::string& nodeName, const std::string& resourceVersion,
                        int timeoutSeconds) {
  return r.path + "?" + selectorQuery(r, nodeName) +
         "watch=1&allowWatchBookmarks=true&resourceVersion=" + queryEscape(resourceVersion) +
         "&timeoutSeconds=" + std::to_string(timeoutSeconds);
}

}  // namespace warren::source::kube
