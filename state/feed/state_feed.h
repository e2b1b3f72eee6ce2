#pragma once
// Where a proxy's cluster state comes from when no control plane sends it:
// warren-tunnel without --xds-address, and warren-waypoint (whose L7 policies and
// RequestAuthentications istiod never sends over the workload API, so the API or a
// directory is its only source). Either a YAML directory, read at start and again
// at each change (inotify) or reload(), or the Kubernetes API (--kube in a pod,
// --kubeconfig outside), listed and watched by KubeSource, one state per whole
// view. Each new state goes to `publish`. A change costs what it touches: a
// directory's unchanged files are not parsed again, and with either source the
// objects a change does not reach are not converted again. What cannot be read keeps the last good
// state: an unreadable directory, an API that is down (KubeSource keeps its view).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/daemon.h"
#include "common/result.h"
#include "source/dir_reader.h"
#include "source/dir_watcher.h"
#include "source/kube/kube_source.h"
#include "state/cluster_state.h"
#include "state/from_snapshot.h"
#include "state/incremental_converter.h"

namespace warren::state {

struct StateFeedOptions {
  std::string configDir;       // the YAML directory, unless one of the two below is set
  bool kubeInCluster = false;  // the API, as a pod (its service account)
  std::string kubeconfig;      // the API, with this kubeconfig's current context
  SnapshotOptions snapshot;
};

class StateFeed {
 public:
  using Publish = std::function<void(ClusterStatePtr)>;

  // A directory: read now (a first state published before this returns, or an
  // error logged and none), then watched. The API: a configuration that cannot be
  // loaded is an error now; the first state comes once every resource is listed.
  static Result<std::unique_ptr<StateFeed>> start(StateFeedOptions options, Publish publish);
  ~StateFeed();  // stops the watcher or the API source; publish is not called after
  StateFeed(const StateFeed&) = delete;
  StateFeed& operator=(const StateFeed&) = delete;

  bool fromApi() const { return options_.kubeInCluster || !options_.kubeconfig.empty(); }
  // SIGHUP: the directory read again; with the API, the current view converted again.
  void reload();
  // A directory is always current; with the API, once a state made from a view
  // with every resource listed has been published (the source's own callback
  // comes a debounce later than its synced(): a proxy that said ready in that gap
  // would judge by an empty state).
  bool synced() const;
  // With the API: waits for every resource's first list (SIGINT/SIGTERM end the
  // wait: returns the signal), then publishes that view's state at once. 0 with
  // a directory, which start() has already read.
  int waitFirstState(ShutdownSignal& shutdown);
  // For readiness: what the API source waits for (KubeSource::status()).
  std::string status() const;
  // "directory /etc/warren/cluster", "Kubernetes API in-cluster (https://...)": for logs.
  const std::string& describe() const { return describe_; }
  // The API source, for single requests beside its watches (null with a directory).
  source::kube::KubeSource* kube() const { return kubeView_.load(); }

 private:
  StateFeed(StateFeedOptions options, Publish publish);

  const StateFeedOptions options_;
  const Publish publish_;
  std::string describe_;
  std::mutex reloadMu_;   // the watcher's or the API's thread, and reload(): one state at a time, in order
  RepeatFilter repeats_;  // guarded by reloadMu_: a standing problem is logged once, not at every rebuild
  // Change by change (guarded by reloadMu_): a directory's reload parses only the
  // files that changed, and with either source only what the changed objects
  // reach is converted (issue 17). The API's view is whole each time: the last
  // one is kept to tell what changed.
  std::unique_ptr<source::DirectoryReader> dirReader_;
  std::unique_ptr<IncrementalConverter> converter_;
  std::optional<source::Snapshot> lastView_;
  // The API source calls back from its own thread, possibly before start() has
  // stored it: the callback reads this, set once it is whole.
  std::atomic<source::kube::KubeSource*> kubeView_{nullptr};
  std::atomic<bool> publishedWhole_{false};  // a state of a fully listed view went to publish_
  std::unique_ptr<source::kube::KubeSource> kube_;
  std::unique_ptr<source::DirWatcher> watcher_;
};

}  // namespace warren::state
