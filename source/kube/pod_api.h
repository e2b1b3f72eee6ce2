#pragma once
// The agent's requests about single pods, beside the list+watch: GET a pod (and
// its namespace) the watch has not delivered yet, and PATCH a pod's
// `ambient.istio.io/redirection` annotation. Each is a blocking request with a
// short deadline; the caller decides what a failure means.

#include <chrono>
#include <optional>
#include <string>

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
  std::chrono::milliseconds pause{100};  // doubled after each failed attempt
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

}  // namespace warren::source::kube
