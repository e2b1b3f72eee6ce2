#pragma once
// What the proxy needs to know about the pod a captured connection belongs to.
// Shared (immutable) between the pod's listeners and its in-flight connections,
// so a connection outlives its pod's removal safely.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace warren::proxy {

struct PodContext {
  std::string uid, name, ns, serviceAccount;
  std::vector<std::string> ips;
  uint64_t netnsCookie = 0;
  UniqueFd netns;  // upstream sockets are opened in here
  // The pod's netns routes replies to the tunnel's marked connections back to it,
  // so connections to the app can carry the client's address (app_socket.h).
  bool replyRouting = false;

  std::string displayName() const { return ns + "/" + name; }
};

using PodContextPtr = std::shared_ptr<const PodContext>;

}  // namespace warren::proxy
