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
#include "agent/cni/cni_protocol.h"
#include "agent/reconcile.h"
#include "agent/runtime_store.h"
#include "agent/zds/zds_server.h"

namespace warren::agent {

// Where the cluster view comes from: the YAML directory read again, or the
// Kubernetes API source's current view. Called with the agent's lock held, so it
// must not call back into the agent. An error keeps the previous view.
using ClusterView = std::function<Result<source::Snapshot>()>;

struct AgentOptions {
  std::string nodeName;
  ClusterView clusterView;
  std::chrono::milliseconds tunnelAckTimeout{5000};
  // Where warren-cni reads which namespaces may be captured while the agent is
  // away (cni/capture_scope.h); "" to write none.
  std::string captureScopeFile;
};

class Agent {
 public:
  Agent(AgentOptions options, CaptureLoader& capture, zds::ZdsServer& zds, RuntimeStore& store)
      : options_(std::move(options)), capture_(capture), zds_(zds), store_(store) {}

  // Loads persisted pods and the cluster view, then reconciles (restart path).
  void start();
  // The cluster view changed (the YAML directory, or the API).
  void reloadSource();
  // Periodic: notices pods whose netns vanished without a CNI DEL.
  void resync();
  // warren-cni's requests.
  Status handleCni(const cni::CniPodRequest& req);

 private:
  void reconcileLocked();
  void reloadSourceLocked();
  void writeCaptureScopeLocked();
  Status enrollLocked(uint64_t cookie, const DesiredPod& pod);
  std::string podUidFor(const std::string& key) const;

  AgentOptions options_;
  CaptureLoader& capture_;
  zds::ZdsServer& zds_;
  RuntimeStore& store_;

  std::mutex mu_;
  source::Snapshot snapshot_;
  std::map<std::string, RuntimePod> runtime_;       // by container id
  std::map<uint64_t, std::string> enrolled_;        // cookie -> fingerprint
  std::map<uint64_t, std::string> enrolledUid_;     // cookie -> pod uid
  std::map<std::string, std::string> enrollError_;  // ns/name -> last error
  std::map<std::string, bool> shouldEnroll_;        // ns/name -> verdict
  std::map<std::string, std::string> verdictReason_;  // ns/name -> why
  std::optional<std::set<std::string>> writtenScope_;  // last capture scope written
};

}  // namespace warren::agent
