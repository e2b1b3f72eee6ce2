#pragma once
// The tunnel's picture of the cluster's workloads: who has which IP, whether its
// traffic is in the mesh (HBONE) and which identity it must prove. Built at the
// edge from a source snapshot (the standalone YAML directory for now); immutable,
// swapped whole on every change so the loop reads it without locks held.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/source/cluster_types.h"
#include "ztunnel/identity/identity.h"

namespace warren::state {

struct Workload {
  std::string uid, name, ns, serviceAccount, node;
  std::vector<std::string> ips;
  // In the mesh: its node's tunnel captures it and serves HBONE on port 15008.
  bool captured = false;
  std::string captureReason;  // why captured or not, for logs and the CLI
  identity::SpiffeId identity;
};

class WorkloadState {
 public:
  static WorkloadState fromSnapshot(const source::Snapshot& snapshot, const std::string& trustDomain);

  // By IP literal as the kernel reports it ("10.244.1.5", "fd00::5").
  const Workload* findByIp(const std::string& ip) const;
  const std::map<std::string, Workload>& workloads() const { return byUid_; }

 private:
  std::map<std::string, Workload> byUid_;
  std::map<std::string, std::string> uidByIp_;
};
using WorkloadStatePtr = std::shared_ptr<const WorkloadState>;

// The single writer (the source watcher) stores; readers take a snapshot pointer.
class StateStore {
 public:
  StateStore() : current_(std::make_shared<WorkloadState>()) {}
  WorkloadStatePtr get() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  void set(WorkloadStatePtr next) {
    std::lock_guard lock(mu_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mu_;
  WorkloadStatePtr current_;
};

}  // namespace warren::state
