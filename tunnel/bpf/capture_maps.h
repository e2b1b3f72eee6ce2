#pragma once
// The tunnel's view of the agent's pinned BPF maps: where a captured connection
// was going, and where the kernel should steer a pod's inbound connections.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "warren_abi.h"

namespace warren::tunnel {

struct OriginalDestination {
  sockaddr_storage addr{};
  uint64_t netnsCookie = 0;  // the pod that dialed
  std::string text;          // "10.0.0.1:80"
};

class CaptureMaps {
 public:
  // Opens the maps pinned by warren-agent under pinRoot.
  static Result<CaptureMaps> open(const std::string& pinRoot);

  // The destination the app dialed, for a connection accepted on the pod's
  // outbound listener, found by (pod netns cookie, the app socket's address).
  Result<OriginalDestination> originalDestination(uint64_t netnsCookie, const sockaddr_storage& appAddr) const;

  // Makes `inboundFd` the target of sk_lookup for plaintext connections to
  // `podIp`, and `hboneFd` the only socket its port 15008 reaches.
  Status registerListeners(const std::string& podIp, int inboundFd, int hboneFd) const;

 private:
  CaptureMaps(UniqueFd origDst, UniqueFd inbound, UniqueFd hbone)
      : origDst_(std::move(origDst)), inbound_(std::move(inbound)), hbone_(std::move(hbone)) {}
  UniqueFd origDst_;
  UniqueFd inbound_;
  UniqueFd hbone_;
};

}  // namespace warren::tunnel
