#pragma once
// The tunnel's side of the hand-off: connects to the agent, says hello, applies
// each request through a WorkloadHandler and acks it. If the agent goes away the
// workloads stay (capture must not stop during an agent restart) and the client
// reconnects; the agent's replay plus SnapshotSent then tells which pods are gone.

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "tunnel/inpod/zds_requests.h"

namespace warren::inpod {

class ZdsClient {
 public:
  static std::unique_ptr<ZdsClient> start(const std::string& socketPath, WorkloadHandler& handler);
  ~ZdsClient();
  bool connected() const { return connected_.load(); }
  // The agent's replay of every pod has been applied on the current connection
  // (its SnapshotSent): the tunnel holds every pod it is to serve. What readiness
  // means, and what a successor's readiness tells an upgrade.
  bool synced() const { return synced_.load(); }

 private:
  ZdsClient(std::string path, WorkloadHandler& handler, UniqueFd stop);
  void run();
  Result<UniqueFd> connectOnce();
  // Serves one connection until it ends; false when asked to stop.
  bool serve(int sock);
  bool waitStop(int timeoutMs);  // true when stop was requested

  std::string path_;
  WorkloadHandler& handler_;
  UniqueFd stop_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> synced_{false};
  std::thread thread_;
};

}  // namespace warren::inpod
