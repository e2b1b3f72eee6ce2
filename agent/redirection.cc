#include "agent/redirection.h"

#include "source/enrollment.h"

namespace warren::agent {

namespace {
bool annotated(const source::Pod& pod) {
  auto it = pod.annotations.find(source::kRedirectionAnnotation);
  return it != pod.annotations.end() && it->second == source::kRedirectionEnabled;
}
}  // namespace

std::vector<RedirectionChange> planRedirection(const source::Snapshot& view, const std::set<std::string>& captured,
                                               const std::string& nodeName, const RedirectionSent& sent) {
  std::vector<RedirectionChange> out;
  for (const auto& [key, pod] : view.pods) {
    // Another node's agent answers for its own pods.
    if (!nodeName.empty() && pod.nodeName != nodeName) continue;
    const bool want = captured.count(key) > 0;
    if (annotated(pod) == want) continue;
    if (auto it = sent.find(key); it != sent.end() && it->second == std::make_pair(pod.uid, want)) continue;
    out.push_back({key, pod.ns, pod.name, pod.uid, want});
  }
  return out;
}

void pruneRedirectionSent(const source::Snapshot& view, RedirectionSent& sent) {
  std::erase_if(sent, [&](const auto& kv) {
    auto it = view.pods.find(kv.first);
    return it == view.pods.end() || it->second.uid != kv.second.first || annotated(it->second) == kv.second.second;
  });
}

RedirectionAnnotator::RedirectionAnnotator(Patch patch, Done done)
    : patch_(std::move(patch)), done_(std::move(done)), thread_([this] { run(); }) {}

RedirectionAnnotator::~RedirectionAnnotator() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RedirectionAnnotator::want(std::vector<RedirectionChange> changes) {
  {
    std::lock_guard lock(mu_);
    if (inFlight_) std::erase(changes, *inFlight_);
    queue_ = std::move(changes);
  }
  cv_.notify_all();
}

void RedirectionAnnotator::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    RedirectionChange change = queue_.front();
    queue_.erase(queue_.begin());
    inFlight_ = change;
    lock.unlock();
    Status st = patch_(change.ns, change.name, change.enabled);
    done_(change, st);
    lock.lock();
    inFlight_.reset();
  }
}

}  // namespace warren::agent
