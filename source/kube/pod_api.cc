#include "source/kube/pod_api.h"

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "source/enrollment.h"
#include "source/yaml_source.h"

namespace warren::source::kube {

std::string podTarget(const std::string& ns, const std::string& name) {
  return "/api/v1/namespaces/" + queryEscape(ns) + "/pods/" + queryEscape(name);
}

std::string namespaceTarget(const std::string& name) { return "/api/v1/namespaces/" + queryEscape(name); }

std::string redirectionPatch(bool enabled) {
  nlohmann::json value = enabled ? nlohmann::json(kRedirectionEnabled) : nlohmann::json(nullptr);
  nlohmann::json patch;
  patch["metadata"]["annotations"][kRedirectionAnnotation] = value;
  return patch.dump();
}

namespace {

using Clock = std::chrono::steady_clock;

// One object by its path: nullopt for 404, the answer's body for 200.
Result<std::optional<std::string>> getObject(ApiClient& client, const std::string& target, const FetchOptions& o,
                                             Clock::time_point deadline) {
  Error last = makeError("GET " + target + ": no time left to ask");
  auto pause = o.pause;
  for (int i = 0; i < o.attempts; ++i) {
    if (i > 0) {
      if (Clock::now() + pause >= deadline) break;
      std::this_thread::sleep_for(pause);  // a retry's spacing, not a wait for an event
      pause *= 2;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto answer = client.get(target, std::min(o.perAttempt, left));
    if (!answer) {
      last = answer.error();
      continue;
    }
    if (answer->status == 200) return std::optional<std::string>(std::move(answer->body));
    if (answer->status == 404) return std::optional<std::string>();
    last = makeError("GET " + target + " answered HTTP " + std::to_string(answer->status) + ": " + answer->message());
  }
  return last;
}

Status convertInto(const std::string& body, const std::string& where, Snapshot& into) {
  try {
    convertObject(YAML::Load(body), where, into);
  } catch (const YAML::Exception& e) {
    return makeError(where + ": malformed answer: " + e.msg);
  }
  if (!into.errors.empty()) return into.errors.front();
  return okStatus();
}

}  // namespace

Result<Snapshot> fetchPod(ApiClient& client, const std::string& ns, const std::string& name, bool withNamespace,
                          const FetchOptions& options) {
  Snapshot s;
  const auto deadline = Clock::now() + options.budget;
  auto pod = getObject(client, podTarget(ns, name), options, deadline);
  if (!pod) return pod.error();
  if (*pod)
    if (auto st = convertInto(**pod, "pod " + ns + "/" + name, s); !st) return st.error();
  if (withNamespace) {
    auto nsBody = getObject(client, namespaceTarget(ns), options, deadline);
    if (!nsBody) return nsBody.error();
    if (*nsBody)
      if (auto st = convertInto(**nsBody, "namespace " + ns, s); !st) return st.error();
  }
  return s;
}

Status setRedirection(ApiClient& client, const std::string& ns, const std::string& name, bool enabled,
                      std::chrono::milliseconds timeout) {
  const std::string target = podTarget(ns, name);
  auto answer = client.send("PATCH", target, "application/merge-patch+json", redirectionPatch(enabled), timeout);
  if (!answer) return answer.error();
  if (answer->status == 200 || (answer->status == 404 && !enabled)) return okStatus();
  return makeError("PATCH " + target + " answered HTTP " + std::to_string(answer->status) + ": " + answer->message());
}

}  // namespace warren::source::kube
