#include "agent/agent.h"

#include <malloc.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "agent/cni/capture_scope.h"
#include "common/file_io.h"
#include "common/netns.h"
#include "source/enrollment.h"

namespace warren::agent {

Agent::Agent(AgentOptions options, CaptureLoader& capture, zds::ZdsServer& zds, RuntimeStore& store)
    : options_(std::move(options)), capture_(capture), zds_(zds), store_(store) {
  if (options_.setRedirection)
    annotator_ = std::make_unique<RedirectionAnnotator>(
        options_.setRedirection,
        [this](const RedirectionChange& change, const Status& status) { redirectionDone(change, status); });
}

void Agent::start() {
  std::lock_guard lock(mu_);
  runtime_ = store_.loadAll();
  auto snap = options_.clusterView();
  if (snap) {
    snapshot_ = std::move(*snap);
    logConfigProblemsLocked();
    ::malloc_trim(0);  // as reloadSourceLocked: what reading the view freed goes back
  } else {
    spdlog::error("config: {}; starting with an empty cluster view", snap.error().message);
  }
  // Cookies already in the pinned maps (from before a restart) are "current"
  // with an unknown fingerprint: re-enrolled if still desired, released if not.
  if (auto cookies = capture_.enrolledCookies(); cookies)
    for (uint64_t c : *cookies) enrolled_.emplace(c, "");
  // The audit's coverage: what follows states every pod in scope afresh.
  if (options_.recordCapture) options_.recordCapture(CaptureEvent{});
  reconcileLocked();
  capture_.pruneOrphans();
}

void Agent::reloadSource() {
  std::lock_guard lock(mu_);
  reloadSourceLocked();
  reconcileLocked();
}

void Agent::reloadSourceLocked() {
  auto snap = options_.clusterView();
  if (!snap) {
    // Keep serving the last good view: a directory that vanished for a moment
    // must not release every pod.
    spdlog::error("config: {}; keeping the previous cluster view", snap.error().message);
    return;
  }
  snapshot_ = std::move(*snap);
  logConfigProblemsLocked();
  // Reading a view (a whole YAML directory, most of it dropped) frees far more
  // than it keeps; glibc would hold those pages, so the agent's RSS would grow
  // with the cluster after all. Give them back.
  ::malloc_trim(0);
  writeCaptureScopeLocked();
}

void Agent::logConfigProblemsLocked() {
  // Every reload (each watch event, each save) reads the view again with its
  // standing problems: each is said once while it stands.
  std::vector<std::string> problems;
  for (const auto& e : snapshot_.errors) problems.push_back(e.message);
  for (const auto& p : configProblems_.fresh(problems)) spdlog::error("config: {}", p);
}

void Agent::writeCaptureScopeLocked() {
  if (options_.captureScopeFile.empty()) return;
  auto scope = source::capturingNamespaces(snapshot_);
  if (writtenScope_ == scope) return;
  if (auto st = writeFileAtomic(options_.captureScopeFile, cni::formatCaptureScope(scope), 0644); !st) {
    // warren-cni then decides on an older list, or on none (refusing every pod
    // but kube-system's while the agent is away): said, not fatal.
    spdlog::error("capture scope for warren-cni: {}", st.error().message);
    return;
  }
  writtenScope_ = std::move(scope);
}

void Agent::resync() {
  std::lock_guard lock(mu_);
  reconcileLocked();
}

const source::Snapshot& Agent::viewLocked(source::Snapshot& scratch) {
  // What the watch has delivered since makes the fetched copy redundant; what
  // the runtime no longer runs is not needed.
  std::set<std::string> running, runningNamespaces;
  for (const auto& [id, rt] : runtime_) {
    running.insert(rt.key());
    runningNamespaces.insert(rt.podNamespace);
  }
  // A fetched pod stays while the view holds another object of its name (the
  // pod before it was made again): the fetched one is the newer.
  std::erase_if(fetchedPods_, [&](const auto& kv) {
    auto it = snapshot_.pods.find(kv.first);
    return (it != snapshot_.pods.end() && it->second.uid == kv.second.uid) || !running.count(kv.first);
  });
  std::erase_if(fetchedNamespaces_, [&](const auto& kv) {
    return snapshot_.namespaces.count(kv.first) || !runningNamespaces.count(kv.first);
  });
  if (fetchedPods_.empty() && fetchedNamespaces_.empty()) return snapshot_;
  scratch = snapshot_;
  for (const auto& [key, pod] : fetchedPods_) scratch.pods[key] = pod;
  scratch.namespaces.insert(fetchedNamespaces_.begin(), fetchedNamespaces_.end());
  return scratch;
}

void Agent::reconcileLocked() {
  source::Snapshot scratch;
  const source::Snapshot& view = viewLocked(scratch);
  auto verdicts = desiredPods(view, runtime_, options_.nodeName, options_.unknownNamespace);
  std::map<uint64_t, std::string> desired;
  std::map<uint64_t, const DesiredPod*> desiredPod;
  std::set<std::string> gone;  // dropped below: their netns went without a CNI DEL
  verdict_.clear();
  verdictReason_.clear();
  for (const auto& v : verdicts) {
    verdict_[v.key] = v.action;
    verdictReason_[v.key] = v.reason;
    if (!v.enroll()) continue;
    auto ns = openNetns(v.desired.netnsPath);
    auto cookie = ns ? netnsCookie(ns->get()) : Result<uint64_t>(ns.error());
    if (!cookie) {
      // The pod's netns is gone (killed without a CNI DEL): forget it.
      spdlog::warn("pod {}: netns {} unusable ({}); dropping it", v.key, v.desired.netnsPath, cookie.error().message);
      store_.remove(v.desired.containerId);
      runtime_.erase(v.desired.containerId);
      verdict_[v.key] = PodVerdict::Action::Leave;
      gone.insert(v.key);
      continue;
    }
    desired[*cookie] = v.desired.fingerprint();
    desiredPod[*cookie] = &v.desired;
  }

  ReconcilePlan plan = planReconcile(desired, enrolled_);
  for (uint64_t cookie : plan.release) {
    auto uid = enrolledUid_.count(cookie) ? enrolledUid_[cookie] : std::string();
    spdlog::info("releasing pod {} (netns cookie {})", uid.empty() ? "?" : uid, cookie);
    (void)capture_.release(cookie);
    if (!uid.empty()) zds_.removePod(uid);
    enrolled_.erase(cookie);
    enrolledUid_.erase(cookie);
    enrolledKey_.erase(cookie);
  }
  for (uint64_t cookie : plan.enroll) {
    const DesiredPod& pod = *desiredPod[cookie];
    std::string key = pod.pod.ns + "/" + pod.pod.name;
    if (auto st = enrollLocked(cookie, pod); !st) {
      spdlog::error("pod {}: enrollment failed: {}", key, st.error().message);
      enrollError_[key] = st.error().message;
      continue;
    }
    enrollError_.erase(key);
    enrolled_[cookie] = desired[cookie];
    enrolledUid_[cookie] = pod.pod.uid;
    enrolledKey_[cookie] = key;
  }
  planRedirectionLocked(view);
  if (options_.recordCapture) {
    std::erase_if(verdicts, [&](const PodVerdict& v) { return gone.count(v.key) > 0; });
    recordCoverageLocked(view, verdicts);
  }
}

void Agent::recordCoverageLocked(const source::Snapshot& view, const std::vector<PodVerdict>& verdicts) {
  std::erase_if(notFoundWhy_, [&](const auto& kv) { return !view.pods.count(kv.first); });
  std::set<std::string> captured;
  for (const auto& [cookie, key] : enrolledKey_) captured.insert(key);
  CoverageState now = coverageNow({.view = view,
                                   .verdicts = verdicts,
                                   .capturedKeys = captured,
                                   .enrollErrors = enrollError_,
                                   // The API's pods run here; the directory's are names until the runtime says.
                                   .viewPodsRun = options_.scanNetns != nullptr,
                                   .notFoundWhy = notFoundWhy_,
                                   .nodeName = options_.nodeName});
  for (const auto& e : captureChanges(coverage_, now, view)) options_.recordCapture(e);
  coverage_ = std::move(now);
}

void Agent::planRedirectionLocked(const source::Snapshot& view) {
  if (!annotator_) return;
  std::set<std::string> captured;
  for (const auto& [cookie, key] : enrolledKey_) captured.insert(key);
  pruneRedirectionSent(view, redirectionSent_);
  annotator_->want(planRedirection(view, captured, options_.nodeName, redirectionSent_));
}

void Agent::redirectionDone(const RedirectionChange& change, const Status& status) {
  const char* what = change.enabled ? "set" : "removed";
  if (!status) {
    // Never fatal, never in the data path's way: the next reconcile plans it again.
    spdlog::warn("pod {}: annotation {} not {}: {}; trying again at the next resync", change.key,
                 source::kRedirectionAnnotation, what, status.error().message);
    return;
  }
  spdlog::info("pod {}: annotation {} {}", change.key, source::kRedirectionAnnotation, what);
  std::lock_guard lock(mu_);
  redirectionSent_[change.key] = {change.uid, change.enabled};
}

Status Agent::enrollLocked(uint64_t cookie, const DesiredPod& pod) {
  auto ns = openNetns(pod.netnsPath);
  if (!ns) return ns.error();
  PodEnrollment e{cookie, pod.pod.ips, pod.pod.uid, pod.pod.name, pod.pod.ns, pod.pod.serviceAccount};
  if (auto st = capture_.enroll(e, ns->get()); !st) return st;
  zds::PodHandoff h;
  h.uid = pod.pod.uid;
  h.name = pod.pod.name;
  h.ns = pod.pod.ns;
  h.serviceAccount = pod.pod.serviceAccount;
  h.ips = pod.pod.ips;
  h.netns = std::make_shared<UniqueFd>(std::move(*ns));
  zds_.upsertPod(std::move(h));
  spdlog::info("enrolled pod {}/{} (netns cookie {}, ips {})", pod.pod.ns, pod.pod.name, cookie,
               fmt::join(pod.pod.ips, ","));
  return okStatus();
}

void Agent::discoverRunningPods() {
  if (!options_.scanNetns) return;
  std::vector<source::Pod> wanted;
  {
    std::lock_guard lock(mu_);
    source::Snapshot scratch;
    wanted = podsToDiscover(viewLocked(scratch), runtime_, options_.nodeName);
  }
  if (wanted.empty()) return;
  auto candidates = options_.scanNetns();
  std::lock_guard lock(mu_);
  if (!candidates) {
    spdlog::error("cannot look for the pods that ran before the agent: {}", candidates.error().message);
    return;
  }
  bool added = false;
  for (const auto& pod : wanted) {
    const std::string key = pod.ns + "/" + pod.name;
    if (std::any_of(runtime_.begin(), runtime_.end(), [&](const auto& kv) { return kv.second.key() == key; }))
      continue;  // its CNI ADD came while we looked
    const NetnsMatch match = matchNetns(pod, *candidates);
    if (!match.found) {
      if (discoveryReported_.insert(match.why).second) spdlog::warn("{}; it stays uncaptured", match.why);
      notFoundWhy_[key] = match.why;
      continue;
    }
    notFoundWhy_.erase(key);
    RuntimePod rt = discoveredRuntimePod(pod, *match.found);
    if (auto st = store_.put(rt); !st) {
      spdlog::error("pod {}: {}", key, st.error().message);
      continue;
    }
    spdlog::info("pod {} was running before the agent: its network namespace is {}; enrolling it", key, rt.netnsPath);
    runtime_[rt.containerId] = std::move(rt);
    added = true;
  }
  if (added) reconcileLocked();
}

std::string Agent::podUidFor(const std::string& key) const {
  // A fetched copy is newer than the view's (viewLocked keeps it only then).
  if (auto it = fetchedPods_.find(key); it != fetchedPods_.end()) return it->second.uid;
  auto it = snapshot_.pods.find(key);
  return it == snapshot_.pods.end() ? std::string() : it->second.uid;
}

void Agent::resolveForAdd(const RuntimePod& rt) {
  const std::string key = rt.key();
  bool needNamespace = false;
  {
    std::lock_guard lock(mu_);
    // The pod is known when an object of its name is, and is this pod: one of
    // an earlier pod of that name (deleted and made again) is no answer.
    auto isThisPod = [&](const std::map<std::string, source::Pod>& pods) {
      auto it = pods.find(key);
      return it != pods.end() && (rt.podUid.empty() || it->second.uid.empty() || it->second.uid == rt.podUid);
    };
    auto known = [&] {
      return (isThisPod(snapshot_.pods) || isThisPod(fetchedPods_)) &&
             (snapshot_.namespaces.count(rt.podNamespace) || fetchedNamespaces_.count(rt.podNamespace));
    };
    // The runtime can be quicker than the source's change notice (the directory
    // watcher's debounce, the API's watch): the view may have it already.
    if (known()) return;
    reloadSourceLocked();
    if (known() || !options_.fetchPod) return;
    // A namespace that does not capture starts its pods whatever their Pod
    // says: no reason to make them wait for the API.
    if (auto ns = snapshot_.namespaces.find(rt.podNamespace);
        ns != snapshot_.namespaces.end() && !source::namespaceCaptures(ns->second))
      return;
    needNamespace = !snapshot_.namespaces.count(rt.podNamespace) && !fetchedNamespaces_.count(rt.podNamespace);
  }
  // The kubelet got this pod from the API before it asked the runtime for its
  // sandbox, so the API has it even while our watch has not delivered it.
  auto fetched = options_.fetchPod(rt.podNamespace, rt.podName, needNamespace);
  std::lock_guard lock(mu_);
  if (!fetched) {
    spdlog::warn("pod {}: not in the cluster view, and the API could not be asked: {}", key, fetched.error().message);
    fetchError_[key] = fetched.error().message;
    return;
  }
  fetchError_.erase(key);
  for (auto& [k, pod] : fetched->pods) fetchedPods_[k] = std::move(pod);
  for (auto& [k, ns] : fetched->namespaces) fetchedNamespaces_[k] = std::move(ns);
  spdlog::info("pod {}: not in the cluster view yet; the API {}", key,
               fetched->pods.count(key) ? "has it" : "does not know it");
}

Status Agent::handleCni(const cni::CniPodRequest& req) {
  const std::string key = req.podNamespace + "/" + req.podName;
  if (req.command == "DEL") {
    std::lock_guard lock(mu_);
    store_.remove(req.containerId);
    runtime_.erase(req.containerId);
    // A pod found running at start has no container id of ours: its sandbox's DEL ends it too.
    std::erase_if(runtime_, [&](const auto& kv) {
      if (kv.second.key() != key || !kv.first.starts_with(kDiscoveredPrefix)) return false;
      store_.remove(kv.first);
      return true;
    });
    fetchError_.erase(key);
    reconcileLocked();
    return okStatus();
  }
  if (req.command == "CHECK") {
    std::lock_guard lock(mu_);
    if (!runtime_.count(req.containerId)) return makeError("warren-agent does not know container " + req.containerId);
    const auto action = verdict_.count(key) ? verdict_[key] : PodVerdict::Action::Leave;
    if (action == PodVerdict::Action::Block)
      return makeError("pod " + key + " cannot be captured: " + verdictReason_[key]);
    if (action == PodVerdict::Action::Enroll && enrollError_.count(key))
      return makeError("pod " + key + ": " + enrollError_[key]);
    return okStatus();
  }
  if (req.command != "ADD") return makeError("unknown CNI command '" + req.command + "'");

  // A netns we cannot open is a broken request; refuse it before recording it.
  if (auto ns = openNetns(req.netns); !ns) return withContext(ns.error(), "pod " + key);
  RuntimePod rt{req.containerId, req.netns, req.podName, req.podNamespace, req.podUid, req.ips};
  {
    std::lock_guard lock(mu_);
    if (auto st = store_.put(rt); !st) return st;
    runtime_[req.containerId] = rt;
  }
  resolveForAdd(rt);
  std::string uid;
  {
    std::lock_guard lock(mu_);
    reconcileLocked();
    const auto action = verdict_.count(key) ? verdict_[key] : PodVerdict::Action::Leave;
    if (action == PodVerdict::Action::Leave) {
      spdlog::info("pod {} not enrolled: {}", key, verdictReason_[key]);
      return okStatus();  // not in the mesh: nothing to wait for
    }
    if (action == PodVerdict::Action::Block) {
      // Failing the ADD is what keeps the pod from starting in plaintext: the
      // runtime tears the sandbox down and the kubelet tries again.
      std::string why = verdictReason_[key];
      if (fetchError_.count(key)) why += " (the API could not be asked: " + fetchError_[key] + ")";
      return makeError("pod " + key + " cannot be captured yet: " + why);
    }
    if (enrollError_.count(key)) return makeError("pod " + key + " could not be enrolled: " + enrollError_[key]);
    uid = podUidFor(key);
  }
  // Let the pod start only once its tunnel listeners exist, when a tunnel is
  // there to ack; without one the pod is enrolled and fails closed until it comes.
  if (zds_.connectedTunnels() == 0) {
    spdlog::warn("pod {} enrolled but no tunnel is connected: its connections fail closed until one is", key);
    return okStatus();
  }
  if (!zds_.waitForAck(uid, options_.tunnelAckTimeout)) {
    return makeError("pod " + key + ": the tunnel did not confirm its listeners within " +
                     std::to_string(options_.tunnelAckTimeout.count()) + " ms");
  }
  auto status = zds_.podStatus(uid);
  if (status && status->state == zds::ZdsServer::AckState::Nacked)
    return makeError("pod " + key + ": the tunnel refused it: " + status->error);
  return okStatus();
}

}  // namespace warren::agent
