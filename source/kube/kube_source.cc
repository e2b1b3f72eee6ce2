#include "source/kube/kube_source.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>
#include <random>

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "source/kube/watch_stream.h"
#include "source/yaml_util.h"

namespace warren::source::kube {

Result<std::unique_ptr<KubeSource>> KubeSource::start(Options options, std::function<void()> onChange) {
  if (options.resources.empty()) return makeError("BUG: a KubeSource with no resources to watch");
  for (const auto& r : options.resources)
    if (r.nodeScoped && options.nodeName.empty())
      return makeError("watching " + r.name + " needs the node's name (--node)");
  UniqueFd cancel(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!cancel) return errnoError("eventfd");
  return std::unique_ptr<KubeSource>(new KubeSource(std::move(options), std::move(onChange), std::move(cancel)));
}

KubeSource::KubeSource(Options options, std::function<void()> onChange, UniqueFd cancel)
    : options_(std::move(options)), onChange_(std::move(onChange)), cancel_(std::move(cancel)) {
  resources_.resize(options_.resources.size());
  threads_.emplace_back([this] { runNotifier(); });
  for (size_t i = 0; i < options_.resources.size(); ++i) threads_.emplace_back([this, i] { runResource(i); });
}

KubeSource::~KubeSource() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  uint64_t one = 1;
  (void)!::write(cancel_.get(), &one, sizeof(one));  // wakes every poll on it, for good
  for (auto& t : threads_) t.join();
}

Snapshot KubeSource::snapshot() const {
  std::lock_guard lock(mu_);
  if (!cached_) {
    std::vector<ObjectMap> objects;
    for (const auto& r : resources_) objects.push_back(r.objects);
    Snapshot s = buildSnapshot(options_.resources, objects);
    // Said once per problem, not at every change.
    std::set<std::string> now;
    for (const auto& e : s.errors) {
      if (!reportedProblems_.count(e.message)) spdlog::warn("kube: not used: {}", e.message);
      now.insert(e.message);
    }
    reportedProblems_ = std::move(now);
    s.errors.clear();
    cached_ = std::move(s);
  }
  return *cached_;
}

bool KubeSource::synced() const {
  std::lock_guard lock(mu_);
  for (const auto& r : resources_)
    if (!r.listed) return false;
  return true;
}

bool KubeSource::waitSynced(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] {
    for (const auto& r : resources_)
      if (!r.listed) return false;
    return true;
  });
}

std::string KubeSource::status() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (size_t i = 0; i < resources_.size(); ++i) {
    const auto& r = resources_[i];
    out += (out.empty() ? "" : "; ") + options_.resources[i].name + ": ";
    if (r.notServed)
      out += "not served (no such resource on this cluster: none)";
    else if (r.listed)
      out += "listed" + (r.version.empty() ? std::string() : " as " + r.version) + " (" +
             std::to_string(r.objects.size()) + ")";
    else
      out += "not listed yet" + (r.lastProblem.empty() ? std::string() : ": " + r.lastProblem);
  }
  return out;
}

void KubeSource::markChanged() {
  {
    std::lock_guard lock(mu_);
    changed_ = true;
    cached_.reset();
  }
  cv_.notify_all();
}

bool KubeSource::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void KubeSource::runNotifier() {
  std::unique_lock lock(mu_);
  auto allListed = [this] {
    for (const auto& r : resources_)
      if (!r.listed) return false;
    return true;
  };
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || (changed_ && allListed()); });
    if (stopping_) return;
    // Let a burst (a re-list, a rollout) settle into one call.
    if (cv_.wait_for(lock, options_.debounce, [this] { return stopping_; })) return;
    changed_ = false;
    lock.unlock();
    onChange_();
    lock.lock();
  }
}

void KubeSource::runResource(size_t index) {
  const ResourceType& preferred = options_.resources[index];
  const std::vector<std::string> versions = versionsOf(preferred);
  ApiClient client(options_.config, cancel_.get(), options_.connectTimeout);
  std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  ReflectorState state;
  Action action = initialAction();
  // What a missing CRD makes us say is said once, not at every periodic re-ask.
  std::set<std::string> notServedSaid;
  for (;;) {
    if (action.delay.count() > 0 && !pause(action.delay)) return;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const ResourceType type = action.version == 0 ? preferred : atVersion(preferred, versions.at(action.version));
    const auto began = std::chrono::steady_clock::now();
    Outcome outcome = action.next == Action::Next::List ? list(index, type, client)
                                                        : watch(index, type, client, action.resourceVersion);
    outcome.lasted = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const Step step = decide(state, outcome, action.next, options_.backoff, jitter(rng), versions);
    if (outcome.kind == Outcome::Kind::Listed)
      spdlog::info("kube {}: listed {} at resourceVersion {}", type.name, type.apiVersion, outcome.resourceVersion);
    bool repeatNotServed = false;
    if (outcome.kind == Outcome::Kind::NotServed)
      repeatNotServed = !notServedSaid.insert(step.action.why).second;
    else if (outcome.kind == Outcome::Kind::Listed)
      notServedSaid.clear();
    if (!step.action.why.empty() && !repeatNotServed) {
      if (step.action.warn)
        spdlog::warn("kube {}: {}", type.name, step.action.why);
      else
        spdlog::info("kube {}: {}", type.name, step.action.why);
    }
    if (step.action.noneServed) markNotServed(index);
    {
      std::lock_guard lock(mu_);
      if (step.action.warn)
        resources_[index].lastProblem = step.action.why;
      else if (outcome.kind == Outcome::Kind::Listed || step.action.noneServed)
        resources_[index].lastProblem.clear();
    }
    state = step.state;
    action = step.action;
  }
}

void KubeSource::markNotServed(size_t index) {
  {
    std::lock_guard lock(mu_);
    PerResource& r = resources_[index];
    if (!r.listed || !r.objects.empty()) {
      changed_ = true;
      cached_.reset();
    }
    r.objects.clear();
    r.listed = r.notServed = true;
    r.version.clear();
  }
  cv_.notify_all();
}

Outcome KubeSource::list(size_t index, const ResourceType& type, ApiClient& client) {
  ObjectMap fresh;
  std::string continueToken, resourceVersion;
  do {
    auto answer =
        client.get(listTarget(type, options_.nodeName, options_.pageSize, continueToken), options_.listTimeout);
    if (!answer) return {Outcome::Kind::TransportError, "", false, 0, answer.error().message};
    if (answer->status == 410) return {Outcome::Kind::Gone, "", false, 410, answer->message()};
    // Not served at this version: the view stays as it is until decide() says
    // no version is (markNotServed), or another version's list replaces it.
    if (answer->status == 404 && type.optional) return {Outcome::Kind::NotServed, "", false, 404, answer->message()};
    if (answer->status != 200) return {Outcome::Kind::HttpError, "", false, answer->status, answer->message()};
    YAML::Node page;
    try {
      page = YAML::Load(answer->body);
    } catch (const YAML::Exception& e) {
      return {Outcome::Kind::TransportError, "", false, 0, "malformed list answer: " + e.msg};
    }
    const YAML::Node items = at(page, "items");
    if (items && items.IsSequence())
      for (YAML::Node item : items) {
        stampKind(item, type);
        if (const std::string key = objectKey(item); !key.empty()) fresh[key] = item;
      }
    const YAML::Node md = at(page, "metadata");
    resourceVersion = str(at(md, "resourceVersion"));
    continueToken = str(at(md, "continue"));
    std::lock_guard lock(mu_);
    if (stopping_) return {Outcome::Kind::TransportError, "", false, 0, "stopping"};
  } while (!continueToken.empty());
  if (resourceVersion.empty())
    return {Outcome::Kind::TransportError, "", false, 0, "list answer without metadata.resourceVersion"};
  {
    std::lock_guard lock(mu_);
    resources_[index].objects = std::move(fresh);
    resources_[index].listed = true;
    resources_[index].notServed = false;
    resources_[index].version = type.apiVersion == options_.resources[index].apiVersion ? "" : versionsOf(type).front();
    changed_ = true;
    cached_.reset();
  }
  cv_.notify_all();
  return {Outcome::Kind::Listed, resourceVersion, false, 0, ""};
}

Outcome KubeSource::watch(size_t index, const ResourceType& type, ApiClient& client,
                          const std::string& resourceVersion) {
  std::string lastRv;
  bool progressed = false;
  std::optional<Outcome> errorEvent;
  auto onLine = [&](std::string_view line) -> Status {
    auto ev = parseWatchEvent(line);
    if (!ev) return ev.error();
    if (ev->type == WatchEvent::Type::Error) {
      errorEvent = Outcome{ev->code == 410 ? Outcome::Kind::Gone : Outcome::Kind::HttpError, lastRv, progressed,
                           ev->code, ev->message};
      return makeError("the watch sent an ERROR event");
    }
    if (ev->type != WatchEvent::Type::Bookmark) {
      bool changed;
      {
        std::lock_guard lock(mu_);
        changed = applyEvent(resources_[index].objects, *ev, type);
      }
      if (changed) markChanged();
    }
    lastRv = ev->resourceVersion;
    progressed = true;
    return okStatus();
  };
  // A silent server is dropped a little after the timeout it was asked to keep.
  const auto idle = std::chrono::seconds(options_.watchTimeoutSeconds + 30);
  auto end =
      client.stream(watchTarget(type, options_.nodeName, resourceVersion, options_.watchTimeoutSeconds), idle, onLine);
  if (errorEvent) return *errorEvent;
  if (!end) return {Outcome::Kind::WatchDropped, lastRv, progressed, 0, end.error().message};
  if (end->status == 200) return {Outcome::Kind::WatchEnded, lastRv, progressed, 200, ""};
  if (end->status == 410) return {Outcome::Kind::Gone, lastRv, progressed, 410, end->answer.message()};
  // The CRD went away while watched: a list finds out (and empties the view).
  if (end->status == 404 && type.optional) return {Outcome::Kind::Gone, lastRv, progressed, 404, end->answer.message()};
  return {Outcome::Kind::HttpError, lastRv, progressed, end->status, end->answer.message()};
}

int waitFirstList(const KubeSource& source, ShutdownSignal& shutdown) {
  auto lastSaid = std::chrono::steady_clock::now();
  while (!source.waitSynced(std::chrono::milliseconds(500))) {
    if (int sig = shutdown.waitFor(std::chrono::milliseconds(0)); sig == SIGINT || sig == SIGTERM) return sig;
    if (std::chrono::steady_clock::now() - lastSaid >= std::chrono::seconds(10)) {
      spdlog::warn("not ready: still waiting for the Kubernetes API ({})", source.status());
      lastSaid = std::chrono::steady_clock::now();
    }
  }
  return 0;
}

}  // namespace warren::source::kube
