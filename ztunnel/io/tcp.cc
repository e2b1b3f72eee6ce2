#include "ztunnel/io/tcp.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <memory>

#include "common/abi_addr.h"

namespace warren::io {

Result<UniqueFd> tcpSocket(int family, uint32_t mark) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
  if (mark && ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
    return errnoError("setsockopt(SO_MARK)");
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

std::string formatSockaddr(const sockaddr_storage& ss) {
  uint16_t family = 0, port = 0;
  warren_addr addr{};
  if (!sockaddrToAbi(ss, &family, &addr, &port)) return "?";
  return addrPortToString(family, addr, port);
}

void asyncConnect(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target, std::chrono::milliseconds timeout,
                  std::function<void(Result<UniqueFd>)> done) {
  socklen_t len = target.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  const std::string where = formatSockaddr(target);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&target), len) == 0) {
    done(std::move(sock));
    return;
  }
  if (errno != EINPROGRESS) {
    done(errnoError("connect to " + where));
    return;
  }
  // Shared between the writable callback and the timer; whichever fires first
  // finishes the attempt and disarms the other.
  struct Attempt {
    UniqueFd sock;
    std::function<void(Result<UniqueFd>)> done;
    uint64_t timer = 0;
  };
  auto attempt = std::make_shared<Attempt>(Attempt{std::move(sock), std::move(done), 0});
  int fd = attempt->sock.get();
  auto finish = [&loop, attempt, fd](Result<UniqueFd> r) {
    loop.unwatch(fd);
    loop.cancelTimer(attempt->timer);
    auto cb = std::move(attempt->done);
    cb(std::move(r));
  };
  attempt->timer = loop.addTimer(timeout, [attempt, finish, where, timeout] {
    if (!attempt->sock) return;
    UniqueFd abandoned = std::move(attempt->sock);  // closed after finish() unwatched it
    finish(makeError("connect to " + where + " timed out after " + std::to_string(timeout.count()) + " ms",
                     ETIMEDOUT));
  });
  auto st = loop.watch(fd, EPOLLOUT, [attempt, finish, where](uint32_t) {
    if (!attempt->sock) return;
    int err = 0;
    socklen_t elen = sizeof(err);
    ::getsockopt(attempt->sock.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
    UniqueFd s = std::move(attempt->sock);
    if (err != 0) return finish(errnoError("connect to " + where, err));
    finish(std::move(s));
  });
  if (!st) {
    UniqueFd abandoned = std::move(attempt->sock);
    finish(st.error());
  }
}

}  // namespace warren::io
