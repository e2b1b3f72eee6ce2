#include "common/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace warren {

Result<UniqueFd> openNetns(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoError("open netns " + path);
  return UniqueFd(fd);
}

Result<uint64_t> socketNetnsCookie(int socket_fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return errnoError("getsockopt(SO_NETNS_COOKIE)");
  return cookie;
}

Result<uint64_t> netnsCookie(int netns_fd) {
  auto sock = socketInNetns(netns_fd, AF_UNIX, SOCK_DGRAM);
  if (!sock) return sock.error();
  return socketNetnsCookie(sock->get());
}

Result<UniqueFd> homeNetns() {
  int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return errnoError("open /proc/thread-self/ns/net");
  return UniqueFd(self);
}

Result<ScopedNetns> ScopedNetns::enter(int netns_fd, int home) {
  UniqueFd owned;
  if (home < 0) {
    auto self = homeNetns();
    if (!self) return self.error();
    owned = std::move(*self);
    home = owned.get();
  }
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return errnoError("setns into pod netns");
  return ScopedNetns(std::move(owned), home);
}

ScopedNetns::~ScopedNetns() {
  if (home_ < 0) return;
  if (::setns(home_, CLONE_NEWNET) != 0) {
    // A thread stuck in a pod's netns would open later sockets in the wrong place.
    spdlog::critical("BUG: cannot return to the original netns: {}", std::strerror(errno));
    std::abort();
  }
}

Result<UniqueFd> socketInNetns(int netns_fd, int domain, int type, int protocol) {
  auto in = ScopedNetns::enter(netns_fd);
  if (!in) return in.error();
  int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return errnoError("socket in pod netns");
  return UniqueFd(fd);
}

}  // namespace warren
