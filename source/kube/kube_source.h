#pragma once
// The cluster as the Kubernetes API shows it: one thread per resource lists and
// watches it (reflector.h decides each step), the objects seen are kept, and the
// Snapshot made from them is what the agent reads instead of a YAML directory.
//
// The last good view is always kept: while the API is unreachable, refuses the
// token or answers 5xx, nothing is forgotten (an API outage must not look like
// an empty cluster and release every pod); a re-list replaces the view only once
// all its pages arrived.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/daemon.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "source/cluster_types.h"
#include "source/kube/api_client.h"
#include "source/kube/kube_config.h"
#include "source/kube/object_store.h"
#include "source/kube/reflector.h"
#include "source/kube/resources.h"

namespace warren::source::kube {

class KubeSource {
 public:
  struct Options {
    KubeConfig config;
    std::string nodeName;  // node-scoped resources (pods) are listed for this node only
    std::vector<ResourceType> resources = agentResources();
    int pageSize = 500;
    // The server ends each watch after this; the reflector resumes it at once.
    int watchTimeoutSeconds = 300;
    std::chrono::milliseconds listTimeout{60000};
    std::chrono::milliseconds connectTimeout{10000};
    // Changes closer together than this reach onChange as one call.
    std::chrono::milliseconds debounce{50};
    BackoffPolicy backoff;
  };

  // Starts the threads at once; onChange is called (from the source's own thread,
  // never with its lock held) once every resource has been listed, and after each
  // later change.
  static Result<std::unique_ptr<KubeSource>> start(Options options, std::function<void()> onChange);
  ~KubeSource();  // stops every request in flight and joins
  KubeSource(const KubeSource&) = delete;
  KubeSource& operator=(const KubeSource&) = delete;

  // The last good view (thread-safe). Objects that cannot be used (an address
  // that is not an IP) are logged once each by the source and left out; errors
  // stays empty. A pod without an IP yet is in it, with its identity.
  Snapshot snapshot() const;
  // Every resource has been listed at least once (an optional one the server
  // does not serve counts as listed, empty).
  bool synced() const;
  bool waitSynced(std::chrono::milliseconds timeout) const;
  // One line per resource: listed, or what it waits for ("pods: not listed yet:
  // list answered HTTP 403: pods is forbidden: ...").
  std::string status() const;
  // A client for single requests beside the watches (pod_api.h), on the same
  // configuration; stopping the source interrupts its requests too.
  ApiClient client() const { return ApiClient(options_.config, cancel_.get(), options_.connectTimeout); }

 private:
  struct PerResource {
    ObjectMap objects;
    bool listed = false;
    bool notServed = false;  // an optional resource the server answered 404 for, at every version
    std::string version;     // the version listed ("v1beta1"), when not the preferred one
    std::string lastProblem;
  };

  KubeSource(Options options, std::function<void()> onChange, UniqueFd cancel);
  void runResource(size_t index);
  void runNotifier();
  // type: the resource at the version asked for (atVersion).
  Outcome list(size_t index, const ResourceType& type, ApiClient& client);
  Outcome watch(size_t index, const ResourceType& type, ApiClient& client, const std::string& resourceVersion);
  // No version of an optional resource is served: its view is empty, and listed.
  void markNotServed(size_t index);
  // Waits, unless stopping; false when stopping.
  bool pause(std::chrono::milliseconds delay);
  void markChanged();

  const Options options_;
  const std::function<void()> onChange_;
  UniqueFd cancel_;  // an eventfd: written once at stop, interrupts every blocked request

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // stop, change, sync
  bool stopping_ = false;
  bool changed_ = false;
  std::vector<PerResource> resources_;
  mutable std::optional<Snapshot> cached_;          // built on demand after a change
  mutable std::set<std::string> reportedProblems_;  // conversion problems already logged

  std::vector<std::thread> threads_;
};

// What a binary does before it acts on the view: waits for the first list of
// every resource, warning every 10 s with status(). Returns 0 once synced, or
// SIGINT/SIGTERM if one came first (the caller then stops without serving).
int waitFirstList(const KubeSource& source, ShutdownSignal& shutdown);

}  // namespace warren::source::kube
