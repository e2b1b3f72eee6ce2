#pragma once
// Turns the agent's workload hand-offs into listeners inside each pod's netns
// (Istio's in-pod model: sk_lookup cannot steer across namespaces, so the tunnel
// listens inside every pod): 15001 for captured outbound, 15006 for captured
// inbound (registered in warren_inbound under each pod IP), and 15008 for HBONE
// from peer tunnels (registered in warren_hbone: the only socket sk_lookup lets
// the pod's 15008 reach). A pod's certificate is issued before
// its listeners open, so an acked pod can always prove its identity.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "identity/identity_manager.h"
#include "io/event_loop.h"
#include "tunnel/bpf/capture_maps.h"
#include "tunnel/inpod/zds_client.h"
#include "tunnel/proxy/proxy.h"

namespace warren::inpod {

struct InpodOptions {
  std::string pinRoot;
  uint32_t mark = 0;
};

class InpodManager : public WorkloadHandler {
 public:
  InpodManager(io::EventLoop& loop, proxy::Proxy& proxy, identity::IdentityManager* identity, InpodOptions options)
      : loop_(loop), proxy_(proxy), identity_(identity), options_(std::move(options)) {}
  ~InpodManager() override;

  // WorkloadHandler (called on the ZDS client thread).
  Status addWorkload(const WorkloadInfo& info, UniqueFd netns) override;
  Status keepWorkload(const std::string& uid) override;
  Status removeWorkload(const std::string& uid) override;
  void snapshotComplete(const std::set<std::string>& uidsInSnapshot) override;

  size_t workloadCount() const;

  // Upgrades (tunnel/drain/drain.h): closes every pod's listeners and takes no
  // new workload. A connection still in a listener's queue moves to the
  // successor's socket of the same port (tcp_migrate_req, set at enrollment);
  // the connections already accepted carry on.
  void stopAccepting();

 private:
  struct Workload {
    proxy::PodContextPtr pod;
    std::optional<identity::SpiffeId> identity;  // held in the identity manager
    std::vector<UniqueFd> listeners;             // watched by the loop while they live
    // Those of `listeners` that sk_lookup targets (-1: that family is not served),
    // registered again when the agent replays the pod (registerInMaps).
    int inbound4 = -1, inbound6 = -1, hbone4 = -1, hbone6 = -1;
  };
  Status ensureMaps();
  // Accepts on the loop thread and hands each connection to the proxy.
  enum class ListenerKind { Outbound, Inbound, Hbone };
  void watchListener(int listener, const proxy::PodContextPtr& ctx, ListenerKind kind);
  Result<Workload> openListeners(const WorkloadInfo& info, UniqueFd netns, uint64_t cookie);
  // Points warren_inbound / warren_hbone at this workload's listeners for each of
  // its IPs. A replay does it again: after a newer tunnel that had taken the pod
  // went away, its closed sockets left the maps, and new connections must find
  // this one's again.
  Status registerInMaps(const std::vector<std::string>& ips, const Workload& w);
  // Runs fn on the loop thread and waits: listener fds are only touched there.
  void onLoop(std::function<void()> fn);
  void retire(Workload w);

  io::EventLoop& loop_;
  proxy::Proxy& proxy_;
  identity::IdentityManager* identity_;
  InpodOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Workload> workloads_;  // by uid
  bool stopped_ = false;                       // stopAccepting() ran: no more workloads
  std::unique_ptr<tunnel::CaptureMaps> maps_;
};

}  // namespace warren::inpod
