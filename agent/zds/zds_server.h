#pragma once
// The agent's side of the hand-off: serves tunnels on a SOCK_SEQPACKET socket,
// replays every enrolled pod (with its netns fd) to each tunnel that says hello,
// then streams changes. One request is in flight per tunnel, so acks need no ids.
//
// Several tunnels overlap during an upgrade (README "Hitless upgrade"). As
// istio-cni does, a new pod goes to the newest tunnel only (the one that said
// hello last: it is taking over, and its ack decides the pod's status), a deleted
// one to every tunnel (each closes what it holds for it). When the newest goes away
// while an older one remains, the older one is sent the whole replay again, so it
// serves every pod, the ones added meanwhile included.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/bound_path.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::zds {

struct PodHandoff {
  std::string uid, name, ns, serviceAccount;
  std::vector<std::string> ips;
  std::shared_ptr<UniqueFd> netns;
};

class ZdsServer {
 public:
  enum class AckState { Pending, Acked, Nacked };
  struct PodAckStatus {
    AckState state = AckState::Pending;
    std::string error;
  };

  // HoldHellos: tunnels may connect at once, but none is answered (no replay, no
  // snapshot) until openToTunnels(). A tunnel that (re)connects while the agent
  // is still loading its pods would otherwise get a snapshot of none, and remove
  // every pod's listeners until they came again: captured connections refused
  // (EPERM, fail closed) for as long as the agent's start takes.
  enum class Start { Open, HoldHellos };
  static Result<std::unique_ptr<ZdsServer>> start(const std::string& socketPath, Start mode = Start::Open);
  ~ZdsServer();
  // Answers the tunnels' hellos from now on, each with every pod upserted so far.
  void openToTunnels();

  void upsertPod(PodHandoff pod);
  void removePod(const std::string& uid);
  std::optional<PodAckStatus> podStatus(const std::string& uid) const;
  size_t connectedTunnels() const;
  // True once a tunnel acked or nacked the pod's latest add.
  bool waitForAck(const std::string& uid, std::chrono::milliseconds timeout);

 private:
  struct Outgoing {
    enum class Kind { Add, Del, Snapshot } kind;
    PodHandoff pod;           // Add: the pod; Del: only uid
    uint64_t generation = 0;  // Add: which upsert this is, so a late ack of an older one is ignored
  };
  struct Tunnel {
    uint64_t id = 0;  // for logs: which of several tunnels (upgrades overlap) said what
    pid_t pid = 0;    // the peer's pid at connect, for logs
    UniqueFd fd;
    bool helloed = false;
    uint64_t helloSeq = 0;  // order of hellos: the highest is the newest tunnel
    std::deque<Outgoing> queue;
    std::optional<Outgoing> inFlight;
  };

  ZdsServer(std::string path, UniqueFd listener, UniqueFd wake, bool open);
  void run();
  void wake();
  // All below run on the server thread with mu_ held.
  bool onReadable(Tunnel& t);
  void sendNext(Tunnel& t);
  void queueReplay(Tunnel& t);
  // The helloed, connected tunnel that said hello last; null when none.
  Tunnel* newest();
  size_t connectedTunnelsLocked() const;

  std::string path_;
  BoundPath bound_;  // path_ as bound: removed at exit only while still ours
  UniqueFd listener_, wake_;
  mutable std::mutex mu_;
  bool open_ = true;  // guarded by mu_: hellos are read (and answered) only when open
  std::condition_variable acked_;
  struct Pod {
    PodHandoff handoff;
    uint64_t generation = 0;
  };
  std::map<std::string, Pod> pods_;
  std::map<std::string, PodAckStatus> status_;
  uint64_t nextGeneration_ = 1;
  uint64_t nextTunnelId_ = 1;
  uint64_t nextHelloSeq_ = 1;
  std::vector<std::unique_ptr<Tunnel>> tunnels_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace warren::zds
