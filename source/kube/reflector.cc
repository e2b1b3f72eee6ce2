#include "source/kube/reflector.h"

#include <algorithm>

namespace warren::source::kube {

Action initialAction() { return Action{Action::Next::List, "", std::chrono::milliseconds(0), "", false}; }

std::chrono::milliseconds backoffDelay(int failures, const BackoffPolicy& policy, double jitter01) {
  using std::chrono::milliseconds;
  const int doublings = std::clamp(failures - 1, 0, 30);
  const double raw = static_cast<double>(policy.initial.count()) * static_cast<double>(1ull << doublings);
  const double capped = std::min(raw, static_cast<double>(policy.cap.count()));
  const double j = std::clamp(jitter01, 0.0, 1.0);
  return milliseconds(static_cast<long long>(capped * (0.5 + 0.5 * j)));
}

namespace {

Step decideStep(const ReflectorState& state, const Outcome& o, Action::Next last, const BackoffPolicy& policy,
                double jitter01, const std::vector<std::string>& versions) {
  using Kind = Outcome::Kind;
  Step s{state, {}};
  // Events a watch delivered before it ended, however it ended, are applied:
  // resume after them.
  if (last == Action::Next::Watch && !o.resourceVersion.empty()) s.state.resourceVersion = o.resourceVersion;
  const char* request = last == Action::Next::List ? "list" : "watch";
  auto retryAfterFailure = [&](std::string why) {
    s.state.failures++;
    s.action.delay = backoffDelay(s.state.failures, policy, jitter01);
    // Nothing listed yet: list again. Listed: the view is good, resume watching it.
    s.action.next = s.state.resourceVersion.empty() ? Action::Next::List : Action::Next::Watch;
    s.action.resourceVersion = s.state.resourceVersion;
    s.action.why = std::move(why) + "; retrying in " + std::to_string(s.action.delay.count()) + " ms";
    s.action.warn = true;
  };
  switch (o.kind) {
    case Kind::Listed:
      s.state.resourceVersion = o.resourceVersion;
      s.state.failures = 0;
      s.action = {Action::Next::Watch, o.resourceVersion, std::chrono::milliseconds(0), "", false};
      return s;
    case Kind::WatchEnded:
    case Kind::WatchDropped:
      // An ordinary end (the server's timeout) or a break after events: resume at
      // once from the last event seen, nothing is lost. A stream that breaks
      // before delivering anything is a failure, or a flapping server would be
      // hammered in a loop.
      if (o.kind == Kind::WatchEnded && !o.progressed && o.lasted < kShortestNormalWatch) {
        retryAfterFailure("very short watch: it ended after " + std::to_string(o.lasted.count()) +
                          " ms without an event");
        return s;
      }
      if (o.kind == Kind::WatchEnded || o.progressed) {
        s.state.failures = 0;
        if (s.state.version > 0) s.state.onOlderVersionFor += o.lasted;
        if (s.state.version > 0 && s.state.onOlderVersionFor >= policy.preferredRecheck) {
          const std::string older = s.state.version < versions.size() ? versions[s.state.version] : "an older version";
          const std::string preferred = versions.empty() ? "the preferred version" : versions.front();
          s.state = ReflectorState{};
          s.action = {Action::Next::List, "", std::chrono::milliseconds(0),
                      "watched as " + older + " for " + std::to_string(policy.preferredRecheck.count() / 1000) +
                          " s; asking for " + preferred + " again",
                      false};
          return s;
        }
        s.action = {Action::Next::Watch, s.state.resourceVersion, std::chrono::milliseconds(0),
                    o.kind == Kind::WatchDropped ? "watch stream broke (" + o.message +
                                                       "); resuming from resourceVersion " + s.state.resourceVersion
                                                 : "",
                    false};
        return s;
      }
      retryAfterFailure("watch stream broke before any event (" + o.message + ")");
      return s;
    case Kind::Gone:
      if (last == Action::Next::Watch && o.status == 404) {
        // The version watched is no longer served (a CRD changed): find out
        // afresh which one is, from the preferred one.
        s.state.resourceVersion.clear();
        s.state.failures = 0;
        s.state.version = 0;
        s.state.onOlderVersionFor = {};
        s.action = {Action::Next::List, "", std::chrono::milliseconds(0),
                    "the watch answered 404 (" + o.message + "); listing again", false};
        return s;
      }
      if (last == Action::Next::Watch) {
        // The history we would resume from is compacted away: start over with a
        // fresh list (the current view is kept until it completes).
        s.state.resourceVersion.clear();
        s.state.failures = 0;
        s.action = {Action::Next::List, "", std::chrono::milliseconds(0),
                    "410 Gone: resourceVersion too old (" + o.message + "); listing again", false};
        return s;
      }
      // A list's continue token expired: list from the start, but count it, so a
      // server that keeps answering 410 is not hammered.
      s.state.resourceVersion.clear();
      retryAfterFailure("list answered 410 Gone (" + o.message + ")");
      s.action.next = Action::Next::List;
      return s;
    case Kind::HttpError: {
      std::string why = std::string(request) + " answered HTTP " + std::to_string(o.status) +
                        (o.message.empty() ? "" : ": " + o.message);
      if (o.status == 401) why += " (the token file is read again at the next attempt)";
      retryAfterFailure(std::move(why));
      return s;
    }
    case Kind::TransportError: retryAfterFailure(std::string(request) + " failed: " + o.message); return s;
    case Kind::NotServed: {
      s.state.resourceVersion.clear();
      s.state.failures = 0;
      const size_t count = std::max<size_t>(versions.size(), 1);
      if (s.state.version + 1 < count) {
        // An older version may be served (Istio before 1.22): ask for it at once.
        s.state.version++;
        s.action = {Action::Next::List, "", std::chrono::milliseconds(0),
                    versions[s.state.version - 1] + " not served; trying " + versions[s.state.version], false};
        return s;
      }
      // Not an error: the cluster has no such resource (yet). Nothing to watch;
      // list again now and then, from the preferred version, without growing a backoff.
      std::string tried;
      for (const auto& v : versions) tried += (tried.empty() ? "" : ", ") + v;
      s.state.version = 0;
      s.state.onOlderVersionFor = {};
      s.action = {Action::Next::List, "", policy.notServedRetry,
                  "not served by this API server" + (versions.size() > 1 ? " as " + tried : std::string()) + " (" +
                      o.message + "): none of them, asking again in " + std::to_string(policy.notServedRetry.count()) +
                      " ms",
                  false};
      s.action.noneServed = true;
      return s;
    }
  }
  return s;
}

}  // namespace

Step decide(const ReflectorState& state, const Outcome& o, Action::Next last, const BackoffPolicy& policy,
            double jitter01, const std::vector<std::string>& versions) {
  Step s = decideStep(state, o, last, policy, jitter01, versions);
  s.action.version = s.state.version;
  return s;
}

}  // namespace warren::source::kube
