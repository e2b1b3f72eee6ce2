#pragma once
// The agent's requests about single pods, beside the list+watch: GET a pod (and
// its namespace) the watch has not delivered yet, and PATCH a pod's
// `ambient.istio.io/redirection` annotation. Each is a blocking request with a
// short deadline; the caller decides what a failure means.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "source/cluster_types.h"
#include "source/kube/api_client.h"
#include "source/kube/resources.h"

namespace warren::source::kube {

// /api/v1/namespaces/<ns>/pods/<name> and /api/v1/namespaces/<name> (pure).
std::string podTarget(const std::string& ns, const std::string& name);
std::string namespaceTarget(const std::string& name);
// A JSON merge patch (RFC 7386) setting source::kRedirectionAnnotation, or
// removing it (null).
std::string redirectionPatch(bool enabled);

// Sized for a CNI ADD: warren-cni waits 5 s for the agent by default, and the
// agent may still wait for the tunnel's ack after this.
struct FetchOptions {
  int attempts = 3;  // per object
  std::chrono::milliseconds perAttempt{800};
  std::chrono::milliseconds pause{100};    // doubled after each failed attempt
  std::chrono::milliseconds budget{2000};  // the pod and its namespace together
};

// The pod, and its namespace when withNamespace, as the API has them now,
// converted as the watch's objects are. A pod or namespace that does not exist
// (404) is simply absent from the result; transport errors and other statuses
// are retried, and the last one is the error.
Result<Snapshot> fetchPod(ApiClient& client, const std::string& ns, const std::string& name, bool withNamespace,
                          const FetchOptions& options = {});

// PATCH (application/merge-patch+json) the redirection annotation on or off.
// A pod that no longer exists (404) is not an error: there is nothing to undo.
Status setRedirection(ApiClient& client, const std::string& ns, const std::string& name, bool enabled,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

// One page of a pod list (the API's JSON), pure: the ns/name of each pod whose
// redirection annotation is "enabled", and the page's continue token.
struct RedirectedPage {
  std::vector<std::pair<std::string, std::string>> pods;  // namespace, name
  std::string continueToken;
};
Result<RedirectedPage> redirectedPods(const std::string& listBody);

// At uninstall: the annotation removed (a merge patch setting it to null, as
// istio-cni does when it is removed) from every pod of nodeName that carries
// it, so istiod stops sending them HBONE that nothing on the node answers any
// more. Lists this node's pods (paged), then PATCHes each within the budget.
// Returns how many were un-annotated; an error says how many could not be
// (each is tried; a pod gone meanwhile is not a failure).
Result<int> removeRedirections(ApiClient& client, const std::string& nodeName,
                               std::chrono::milliseconds budget = std::chrono::seconds(20));

}  // namespace warren::source::kube
