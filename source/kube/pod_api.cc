#include "source/kube/pod_api.h"

#include <algorithm>
#include <thread>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

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

Result<RedirectedPage> redirectedPods(const std::string& listBody) {
  auto list = nlohmann::json::parse(listBody, nullptr, /*allow_exceptions=*/false);
  if (!list.is_object()) return makeError("malformed pod list: not a JSON object");
  RedirectedPage page;
  if (auto md = list.find("metadata"); md != list.end() && md->is_object())
    if (auto c = md->find("continue"); c != md->end() && c->is_string()) page.continueToken = c->get<std::string>();
  auto items = list.find("items");
  if (items == list.end() || !items->is_array()) return page;
  for (const auto& pod : *items) {
    const auto md = pod.value("metadata", nlohmann::json::object());
    if (!md.is_object()) continue;
    const auto annotations = md.value("annotations", nlohmann::json::object());
    if (!annotations.is_object() || annotations.value(kRedirectionAnnotation, nlohmann::json()) != kRedirectionEnabled)
      continue;
    const auto ns = md.value("namespace", nlohmann::json()), name = md.value("name", nlohmann::json());
    if (ns.is_string() && name.is_string()) page.pods.emplace_back(ns.get<std::string>(), name.get<std::string>());
  }
  return page;
}

Result<int> removeRedirections(ApiClient& client, const std::string& nodeName, std::chrono::milliseconds budget) {
  const auto deadline = Clock::now() + budget;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  static const ResourceType pods = [] {
    for (const auto& r : agentResources())
      if (r.name == "pods") return r;
    return ResourceType{};
  }();
  std::vector<std::pair<std::string, std::string>> annotated;
  std::string continueToken;
  do {
    auto answer = client.get(listTarget(pods, nodeName, 500, continueToken), left());
    if (!answer) return withContext(answer.error(), "list the node's pods");
    if (answer->status != 200)
      return makeError("list the node's pods: HTTP " + std::to_string(answer->status) + ": " + answer->message());
    auto page = redirectedPods(answer->body);
    if (!page) return page.error();
    annotated.insert(annotated.end(), page->pods.begin(), page->pods.end());
    continueToken = page->continueToken;
  } while (!continueToken.empty());
  int removed = 0;
  std::vector<std::string> failed;
  std::string firstError;
  for (const auto& [ns, name] : annotated) {
    if (Clock::now() >= deadline) {
      failed.push_back(ns + "/" + name);
      if (firstError.empty()) firstError = "no time left";
      continue;
    }
    if (auto st = setRedirection(client, ns, name, /*enabled=*/false, left()); !st) {
      failed.push_back(ns + "/" + name);
      if (firstError.empty()) firstError = st.error().message;
      continue;
    }
    removed++;
  }
  if (!failed.empty())
    return makeError(std::to_string(failed.size()) + " of " + std::to_string(annotated.size()) + " pods keep " +
                     kRedirectionAnnotation + " (" + failed.front() + (failed.size() > 1 ? ", ..." : "") +
                     "): " + firstError);
  return removed;
}

}  // namespace warren::source::kube
