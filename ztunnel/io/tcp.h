#pragma once
// Small TCP helpers for the loop: non-blocking sockets and connects.

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "ztunnel/io/event_loop.h"

namespace warren::io {

// A non-blocking TCP socket in the calling thread's netns; mark != 0 sets SO_MARK.
Result<UniqueFd> tcpSocket(int family, uint32_t mark);

// Connects without blocking the loop; `done` runs once on the loop thread with
// the connected socket or a message naming the target ("... timed out after N ms").
void asyncConnect(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target, std::chrono::milliseconds timeout,
                  std::function<void(Result<UniqueFd>)> done);

std::string formatSockaddr(const sockaddr_storage& ss);

}  // namespace warren::io
