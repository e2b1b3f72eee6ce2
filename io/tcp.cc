#include "io/tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <charconv>
#include <memory>

namespace warren::io {

Result<UniqueFd> tcpSocket(int family, uint32_t mark) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
  if (mark && ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
    return errnoError("setsockopt(SO_MARK)");
  int one = 1;
  if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    return errnoError("setsockopt(TCP_NODELAY)");
  return fd;
}

Status setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errnoError("fcntl(F_GETFL)");
  if (!(flags & O_NONBLOCK) && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errnoError("fcntl(F_SETFL)");
  return okStatus();
}

socklen_t sockaddrLength(const sockaddr_storage& ss) {
  switch (ss.ss_family) {
    case AF_INET: return sizeof(sockaddr_in);
    case AF_INET6: return sizeof(sockaddr_in6);
    default: return 0;
  }
}

Result<UniqueFd> listenTcp(const sockaddr_storage& addr, uint32_t mark, bool reuseport, int backlog) {
  const std::string where = formatSockaddr(addr);
  const socklen_t len = sockaddrLength(addr);
  if (len == 0) return makeError("listen on " + where + ": not an IPv4 or IPv6 address");
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("listen on " + where + ": socket");
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
    return errnoError("listen on " + where + ": setsockopt(SO_REUSEADDR)");
  if (reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
    return errnoError("listen on " + where + ": setsockopt(SO_REUSEPORT)");
  if (mark && ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
    return errnoError("listen on " + where + ": setsockopt(SO_MARK)");
  // Accepted sockets inherit TCP_NODELAY: the tunnel relays, and must not add Nagle
  // delays (against the peer's delayed ACKs) to what the app already chose to send.
  if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    return errnoError("listen on " + where + ": setsockopt(TCP_NODELAY)");
  if (addr.ss_family == AF_INET6 && ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
    return errnoError("listen on " + where + ": setsockopt(IPV6_V6ONLY)");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) return errnoError("bind " + where);
  if (::listen(fd.get(), backlog) != 0) return errnoError("listen on " + where);
  return fd;
}

std::string formatIp(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
  else if (ss.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof(buf));
  return buf;
}

uint16_t portOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

sockaddr_storage withPort(const sockaddr_storage& ss, uint16_t port) {
  sockaddr_storage out = ss;
  if (out.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&out)->sin_port = htons(port);
  else if (out.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&out)->sin6_port = htons(port);
  return out;
}

std::string formatSockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return formatIp(ss) + ":" + std::to_string(portOf(ss));
  if (ss.ss_family == AF_INET6) return "[" + formatIp(ss) + "]:" + std::to_string(portOf(ss));
  return "<address family " + std::to_string(ss.ss_family) + ">";
}

void resetOnClose(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

Result<sockaddr_storage> parseHostPort(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return makeError("bad address \"" + std::string(text) + "\": " + why + " (want ip:port or [ipv6]:port)");
  };
  std::string_view host, port;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("no closing ']'");
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("no ':port' after ']'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    bracketed = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  if (host.empty()) return bad("no host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("port is not a number from 0 to 65535");

  sockaddr_storage ss{};
  const std::string hostStr(host);
  if (bracketed) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET6, hostStr.c_str(), &in6->sin6_addr) != 1) return bad("not an IPv6 address");
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(value));
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    if (::inet_pton(AF_INET, hostStr.c_str(), &in->sin_addr) != 1)
      return bad("not an IPv4 address (names are not resolved)");
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(value));
  }
  return ss;
}

void asyncConnect(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target, std::chrono::milliseconds timeout,
                  std::function<void(Result<UniqueFd>)> done) {
  const std::string where = formatSockaddr(target);
  // Completion is always deferred to a later loop round, so callers never see
  // their callback run re-entrantly inside asyncConnect.
  auto finishLater = [&loop](std::function<void(Result<UniqueFd>)> cb, Result<UniqueFd> r) {
    auto shared = std::make_shared<Result<UniqueFd>>(std::move(r));
    loop.post([cb = std::move(cb), shared]() mutable { cb(std::move(*shared)); });
  };
  const socklen_t len = sockaddrLength(target);
  if (len == 0) return finishLater(std::move(done), makeError("connect to " + where + ": not an IP address"));
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&target), len) == 0)
    return finishLater(std::move(done), std::move(sock));
  if (errno != EINPROGRESS) return finishLater(std::move(done), errnoError("connect to " + where));

  // Shared by the writable callback and the timer; whichever fires first finishes
  // the attempt and disarms the other, so `done` runs once.
  struct Attempt {
    UniqueFd sock;
    std::function<void(Result<UniqueFd>)> done;
    uint64_t timer = 0;
  };
  auto attempt = std::make_shared<Attempt>();
  attempt->sock = std::move(sock);
  attempt->done = std::move(done);
  const int fd = attempt->sock.get();
  // Unwatch before the socket closes (the caller's UniqueFd or the abandoned one).
  auto finish = [&loop, fd](Attempt& at, Result<UniqueFd> r) {
    loop.unwatch(fd);
    if (at.timer) loop.cancelTimer(at.timer);
    auto cb = std::move(at.done);
    cb(std::move(r));
  };
  auto st = loop.watch(fd, EPOLLOUT, [attempt, finish, where](uint32_t) {
    int err = 0;
    socklen_t elen = sizeof(err);
    if (::getsockopt(attempt->sock.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    UniqueFd s = std::move(attempt->sock);
    if (err != 0) return finish(*attempt, errnoError("connect to " + where, err));
    finish(*attempt, std::move(s));
  });
  if (!st) return finishLater(std::move(attempt->done), withContext(st.error(), "connect to " + where));
  if (timeout.count() <= 0) return;
  attempt->timer = loop.addTimer(timeout, [attempt, finish, where, timeout] {
    attempt->timer = 0;  // firing now: nothing to cancel
    UniqueFd abandoned = std::move(attempt->sock);  // closes after finish() unwatched it
    finish(*attempt, makeError("connect to " + where + " timed out after " + std::to_string(timeout.count()) + " ms",
                               ETIMEDOUT));
  });
}

}  // namespace warren::io
