#pragma once
// The socket of the tunnel's connection to a pod's app, opened inside the pod's
// netns. Where the pod has reply routing (inpod/reply_routing.h) it carries the
// client's address, as Istio's ztunnel does, so the app sees who really calls;
// otherwise, or if that fails, the pod's own address (and the reason is kept).

#include <sys/socket.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "tunnel/proxy/pod_context.h"

namespace warren::proxy {

struct AppSocket {
  UniqueFd fd;
  bool originalSource = false;  // bound to the client's address
  std::string fallbackReason;   // why not, when it was wanted
};

// clientIp empty: no original source wanted (the pod's own address). homeNetns:
// the calling thread's own netns (homeNetns() in common/netns.h), returned to
// after; -1: found out on each call.
Result<AppSocket> openAppSocket(const PodContext& pod, const sockaddr_storage& target, uint32_t mark,
                                const std::string& clientIp, int homeNetns);

}  // namespace warren::proxy
