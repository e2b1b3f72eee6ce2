#pragma once
// Persists what warren-cni reported about each pod (netns path, IPs) under the
// agent's run dir, so a restarted agent still knows where its pods' netns are.

#include <map>
#include <string>

#include "agent/reconcile.h"
#include "common/result.h"

namespace warren::agent {

class RuntimeStore {
 public:
  explicit RuntimeStore(std::string dir) : dir_(std::move(dir)) {}
  Status init();
  Status put(const RuntimePod& pod);
  void remove(const std::string& containerId);
  // Records that cannot be parsed are reported and skipped, never fatal.
  std::map<std::string, RuntimePod> loadAll() const;

 private:
  std::string pathFor(const std::string& containerId) const;
  std::string dir_;
};

}  // namespace warren::agent
