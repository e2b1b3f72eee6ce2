#pragma once
// The `ambient.istio.io/redirection: enabled` annotation (source::kRedirectionAnnotation),
// as istio-cni keeps it:
// istiod sends HBONE to a pod only when it carries it. The agent sets it on each
// pod it captures and removes it from pods it released (or never captured) that
// still carry it. The plan is a pure function of the view; a worker thread does
// the PATCHes, so the data path never waits on the API, and a failed PATCH is
// simply planned again at the next reconcile.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "source/cluster_types.h"

namespace warren::agent {

struct RedirectionChange {
  std::string key;  // ns/name
  std::string ns, name, uid;
  bool enabled = false;  // set the annotation, or remove it
  bool operator==(const RedirectionChange&) const = default;
};

// What was PATCHed and not yet seen back in the view (the watch lags): ns/name ->
// (uid, value). Keeps a change from being sent again while its echo is on the way.
using RedirectionSent = std::map<std::string, std::pair<std::string, bool>>;

// For each pod of this node in the view: annotated exactly when captured.
// `captured`: the ns/name of the pods enrolled now.
std::vector<RedirectionChange> planRedirection(const source::Snapshot& view, const std::set<std::string>& captured,
                                               const std::string& nodeName, const RedirectionSent& sent);
// Forgets what the view now shows, or what is no longer a pod in it.
void pruneRedirectionSent(const source::Snapshot& view, RedirectionSent& sent);

// Runs the PATCHes on its own thread, newest plan first: want() replaces what is
// still queued (a later reconcile knows better). `done` is called on that thread,
// without the annotator's lock, after each attempt.
// A change equal to the one in flight is dropped from a new plan: a reconcile
// (a resync, a watch event) that runs while a PATCH is on its way cannot know of
// it yet (`done` records it, after the answer), and would send it again; that
// second PATCH could then land after a later opposite one. `done` runs before the
// in-flight change is forgotten, so a plan made under the caller's lock either
// sees what `done` recorded or is filtered here.
class RedirectionAnnotator {
 public:
  using Patch = std::function<Status(const std::string& ns, const std::string& name, bool enabled)>;
  using Done = std::function<void(const RedirectionChange&, const Status&)>;
  RedirectionAnnotator(Patch patch, Done done);
  ~RedirectionAnnotator();  // waits for a PATCH in flight (bounded by its timeout)
  RedirectionAnnotator(const RedirectionAnnotator&) = delete;
  RedirectionAnnotator& operator=(const RedirectionAnnotator&) = delete;

  void want(std::vector<RedirectionChange> changes);

 private:
  void run();

  Patch patch_;
  Done done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<RedirectionChange> queue_;
  std::optional<RedirectionChange> inFlight_;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace warren::agent
