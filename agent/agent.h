#pragma once
// warren-agent's state: the single writer of the capture maps. Every input (the
// cluster view changing, a CNI call, the periodic resync) ends in reconcile(),
// which joins the cluster view with the runtime's pods, decides, and applies the
// difference to the BPF maps and to the tunnel (ZDS).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "agent/bpf/capture_loader.h"
#include "agent/capture_coverage.h"
#include "agent/cni/cni_protocol.h"
#include "agent/reconcile.h"
#include "agent/redirection.h"
#include "agent/running_pods.h"
#include "agent/runtime_store.h"
#include "agent/zds/zds_server.h"
#include "common/repeat_filter.h"

namespace warren::agent {

// Where the cluster view comes from: the YAML directory read again, or the
// Kubernetes API source's current view. Called with the agent's lock held, so it
// must not call back into the agent. An error keeps the previous view.
using ClusterView = std::function<Result<source::Snapshot>()>;

// With the API source: the pod (and, when asked, its namespace) as the API has
// it now, for a CNI ADD that comes before the watch delivered them; a Snapshot
// holding what exists. Called without the agent's lock (it blocks on the network).
using PodFetcher =
    std::function<Result<source::Snapshot>(const std::string& ns, const std::string& name, bool withNamespace)>;

struct AgentOptions {
  std::string nodeName;
  ClusterView clusterView;
  // Unset for the YAML source, which is read again instead.
  PodFetcher fetchPod = nullptr;
  // What a namespace missing from the view means (reconcile.h): the API's view
  // lags, the directory's does not.
  UnknownNamespace unknownNamespace = UnknownNamespace::NotCaptured;
  std::chrono::milliseconds tunnelAckTimeout{5000};
  // Where warren-cni reads which namespaces may be captured while the agent is
  // away (cni/capture_scope.h); "" to write none.
  std::string captureScopeFile;
  // With the API source: PATCHes a pod's redirection annotation (redirection.h)
  // on a worker thread; unset, pods are not annotated.
  RedirectionAnnotator::Patch setRedirection = nullptr;
  // With the API source: the node's network namespaces (netns_scan.h), to find
  // the pods that were running before the agent; unset, none are looked for.
  std::function<Result<std::vector<NetnsCandidate>>()> scanNetns = nullptr;
  // Each change of a pod's capture in a capturing namespace (capture_coverage.h),
  // for the audit log (warren-agent --audit-dir); unset, none is recorded. Called
  // with the agent's lock held: it must only queue.
  std::function<void(const CaptureEvent&)> recordCapture = nullptr;
};

class Agent {
 public:
  Agent(AgentOptions options, CaptureLoader& capture, zds::ZdsServer& zds, RuntimeStore& store);

  // Loads persisted pods and the cluster view, then reconciles (restart path).
  void start();
  // The cluster view changed (the YAML directory, or the API).
  void reloadSource();
  // Periodic: notices pods whose netns vanished without a CNI DEL.
  void resync();
  // warren-cni's requests.
  Status handleCni(const cni::CniPodRequest& req);
  // Captured pods of this node that no CNI ADD told us about (they ran before
  // Warren did): finds each one's netns and enrolls it as if its ADD had come.
  // Reads /proc outside the lock; a no-op when every such pod is known.
  void discoverRunningPods();

 private:
  void reconcileLocked();
  void reloadSourceLocked();
  // At CNI ADD, makes sure the view has the pod and its namespace if they exist:
  // the directory read again, or the API asked (outside the lock).
  void resolveForAdd(const RuntimePod& rt);
  // The cluster view with the pods and namespaces fetched at ADD that it lacks.
  const source::Snapshot& viewLocked(source::Snapshot& scratch);
  void writeCaptureScopeLocked();
  void logConfigProblemsLocked();
  Status enrollLocked(uint64_t cookie, const DesiredPod& pod);
  std::string podUidFor(const std::string& key) const;
  // Hands the annotator the changes the view needs (never blocks on the API).
  void planRedirectionLocked(const source::Snapshot& view);
  void redirectionDone(const RedirectionChange& change, const Status& status);
  // Records what changed in the pods' capture since the last reconcile.
  void recordCoverageLocked(const source::Snapshot& view, const std::vector<PodVerdict>& verdicts);

  AgentOptions options_;
  CaptureLoader& capture_;
  zds::ZdsServer& zds_;
  RuntimeStore& store_;

  std::mutex mu_;
  source::Snapshot snapshot_;
  std::map<std::string, RuntimePod> runtime_;       // by container id
  std::map<uint64_t, std::string> enrolled_;        // cookie -> fingerprint
  std::map<uint64_t, std::string> enrolledUid_;     // cookie -> pod uid
  std::map<uint64_t, std::string> enrolledKey_;     // cookie -> ns/name
  std::map<std::string, std::string> enrollError_;  // ns/name -> last error
  // Fetched at CNI ADD and not yet in the view (the watch lags): by ns/name and
  // by name. Dropped once the view has them, or the runtime forgot the pod.
  std::map<std::string, source::Pod> fetchedPods_;
  std::map<std::string, source::Namespace> fetchedNamespaces_;
  std::map<std::string, std::string> fetchError_;      // ns/name -> why the API could not say
  std::map<std::string, PodVerdict::Action> verdict_;  // ns/name -> verdict
  std::map<std::string, std::string> verdictReason_;   // ns/name -> why
  std::optional<std::set<std::string>> writtenScope_;  // last capture scope written
  RepeatFilter configProblems_;                        // the view's problems, each logged once while it stands
  RedirectionSent redirectionSent_;
  std::set<std::string> discoveryReported_;         // why a running pod was not found, said once each
  std::map<std::string, std::string> notFoundWhy_;  // ns/name -> why its netns was not found (coverage detail)
  CoverageState coverage_;                          // as last recorded
  // Last: destroyed first, so its thread (which calls back into the agent)
  // stops while the rest is still whole.
  std::unique_ptr<RedirectionAnnotator> annotator_;
};

}  // namespace warren::agent
