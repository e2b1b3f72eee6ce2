#include "state/feed/state_feed.h"

#include <spdlog/spdlog.h>

#include "source/kube/resources.h"

namespace warren::state {

StateFeed::StateFeed(StateFeedOptions options, Publish publish)
    : options_(std::move(options)), publish_(std::move(publish)) {}

StateFeed::~StateFeed() {
  // Both join their threads, after which no callback runs.
  watcher_.reset();
  kubeView_ = nullptr;
  kube_.reset();
}

Result<std::unique_ptr<StateFeed>> StateFeed::start(StateFeedOptions options, Publish publish) {
  if (options.kubeInCluster && !options.kubeconfig.empty())
    return makeError("give the Kubernetes API once: in-cluster or a kubeconfig, not both");
  std::unique_ptr<StateFeed> feed(new StateFeed(std::move(options), std::move(publish)));
  const StateFeedOptions& o = feed->options_;
  if (!feed->fromApi()) {
    feed->describe_ = "directory " + o.configDir;
    feed->dirReader_ = std::make_unique<source::DirectoryReader>(o.configDir);
    feed->converter_ = std::make_unique<IncrementalConverter>(o.snapshot);
    feed->reload();
    auto watcher = source::DirWatcher::start(o.configDir, [f = feed.get()] { f->reload(); });
    if (!watcher) return withContext(watcher.error(), "cannot watch " + o.configDir);
    feed->watcher_ = std::move(*watcher);
    return feed;
  }
  auto config =
      o.kubeInCluster ? source::kube::inClusterConfigFromEnvironment() : source::kube::kubeconfigFromFile(o.kubeconfig);
  if (!config) return withContext(config.error(), "Kubernetes API");
  feed->describe_ = "Kubernetes API " + config->describe;
  source::kube::KubeSource::Options kopts;
  kopts.config = std::move(*config);
  kopts.resources = source::kube::standaloneResources();
  feed->converter_ = std::make_unique<IncrementalConverter>(o.snapshot);
  // Its changes (debounced by the source) become a new state.
  auto kube = source::kube::KubeSource::start(std::move(kopts), [f = feed.get()] { f->reload(); });
  if (!kube) return withContext(kube.error(), "Kubernetes API");
  feed->kube_ = std::move(*kube);
  feed->kubeView_ = feed->kube_.get();
  // A view complete before kubeView_ was set was not converted: do it now.
  feed->reload();
  return feed;
}

void StateFeed::reload() {
  std::lock_guard lock(reloadMu_);
  ClusterStatePtr next;
  if (fromApi()) {
    // Only whole views: the source calls back once every resource is listed.
    auto* kube = kubeView_.load();
    if (!kube || !kube->synced()) return;
    // The view is whole each time: compared object by object with the last one,
    // its changes go through the same converter as a directory's.
    source::Snapshot view = kube->snapshot();
    const source::SnapshotDiff changes = lastView_ ? source::diffSnapshots(*lastView_, view) : source::SnapshotDiff{};
    std::vector<Error> notes;
    next = converter_->apply(view, changes, &notes);
    logProblems(view, notes, &repeats_);
    lastView_ = std::move(view);
  } else {
    auto changes = dirReader_->read();
    if (!changes)
      return spdlog::error("cluster state {}: {}; keeping the last good state", options_.configDir,
                           changes.error().message);
    std::vector<Error> notes;
    next = converter_->apply(dirReader_->snapshot(), *changes, &notes);
    logProblems(dirReader_->snapshot(), notes, &repeats_);
  }
  publish_(std::move(next));
  publishedWhole_ = true;
}

int StateFeed::waitFirstState(ShutdownSignal& shutdown) {
  auto* kube = kubeView_.load();
  if (!kube) return 0;
  spdlog::info("{}: waiting for the first list of every resource", describe_);
  if (int sig = source::kube::waitFirstList(*kube, shutdown)) return sig;
  reload();  // now, not a debounce later from the source's callback
  return 0;
}

bool StateFeed::synced() const { return !fromApi() || publishedWhole_; }

std::string StateFeed::status() const {
  auto* kube = kubeView_.load();
  if (!fromApi()) return "reading " + options_.configDir;
  return kube ? kube->status() : "starting";
}

}  // namespace warren::state
