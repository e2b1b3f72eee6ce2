#pragma once
// The held-connections phase of warren-hbone-bench (issue 15's "RSS at 10,000 open
// connections"): N mesh connections opened from several enrolled pods and kept
// open, each carrying one 64-byte echo first so that it is established end to end
// (client pod → its tunnel → HBONE → the server's tunnel → the server pod), while
// the bench reads both tunnels' RSS. The server is this file's own: one thread
// accepting and echoing once per connection, keeping every socket, so that N
// connections cost no thread each (PodServer keeps one per connection). It runs in
// a process of its own (the bench run again with --serve-held): a process may not
// raise its file limit here (no CAP_SYS_RESOURCE), and both ends in one would need
// twice the descriptors.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace warren::bench {

class HoldServer {
 public:
  // Listens on port in the netns; nullptr when it cannot.
  static std::unique_ptr<HoldServer> start(const std::string& netnsPath, uint16_t port);
  ~HoldServer();
  // Connections accepted and echoed once, still open.
  size_t held() const { return held_; }

 private:
  HoldServer() = default;
  UniqueFd listener_;
  std::thread thread_;
  std::vector<UniqueFd> conns_;  // the accepting thread's only
  std::atomic<size_t> held_{0};
};

// The client ends, open until this is destroyed.
struct HeldConnections {
  std::vector<UniqueFd> fds;
  uint64_t failures = 0;  // refused, or no echo
  double seconds = 0;     // to open them all
};

// `perSource` connections from each netns in `sources` (one thread each) to ip:port.
HeldConnections holdConnections(const std::vector<std::string>& sources, const std::string& ip, uint16_t port,
                                size_t perSource);

// `warren-hbone-bench --serve-held NETNS PORT`: a HoldServer until killed; says
// "holding on PORT" once listening. Returns the process's exit status.
int serveHeld(const std::string& netnsPath, uint16_t port);

}  // namespace warren::bench
