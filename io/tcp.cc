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
  if (out.ss_family == AF_INET)
    reinterpret_cast<sockaddr_in*>(&out)->sin_port = htons(port);
  else if (out.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&out)->sin6_port = htons(port);
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

// One connect in flight, shared by the socket watch, the timer, a posted early result
// and the caller's ConnectHandle; whichever comes first finishes it, so `done` runs
// once and the others find nothing left to do.
struct ConnectAttempt {
  EventLoop* loop = nullptr;
  UniqueFd sock;
  int fd = -1;
  bool watching = false;
  uint64_t timer = 0;
  std::string where;
  std::function<void(Result<UniqueFd>)> done;

  void finish(Result<UniqueFd> r) {
    if (!done) return;
    if (watching) loop->unwatch(fd);  // before the socket closes (the caller's or the abandoned one)
    watching = false;
    if (timer) loop->cancelTimer(timer);
    timer = 0;
    auto cb = std::move(done);
    done = nullptr;
    cb(std::move(r));
  }
};

void ConnectHandle::cancel(const std::string& why) {
  auto at = attempt_.lock();
  if (!at || !at->done) return;
  // The handshake may have completed already: the app must see a reset, never a
  // connection that opens and ends cleanly with nothing in it.
  UniqueFd abandoned = std::move(at->sock);
  if (abandoned) resetOnClose(abandoned.get());
  at->finish(makeError("connect to " + at->where + " cancelled: " + why, ECANCELED));
}

bool ConnectHandle::pending() const {
  auto at = attempt_.lock();
  return at && at->done;
}

ConnectHandle asyncConnectCancellable(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target,
                                      std::chrono::milliseconds timeout, std::function<void(Result<UniqueFd>)> done) {
  auto attempt = std::make_shared<ConnectAttempt>();
  attempt->loop = &loop;
  attempt->fd = sock.get();
  attempt->sock = std::move(sock);
  attempt->where = formatSockaddr(target);
  attempt->done = std::move(done);
  ConnectHandle handle(attempt);
  // Completion is always deferred to a later loop round, so callers never see
  // their callback run re-entrantly inside asyncConnect (and can cancel until then).
  auto finishLater = [&loop, attempt](Error e) { loop.post([attempt, e] { attempt->finish(e); }); };
  const std::string& where = attempt->where;
  const socklen_t len = sockaddrLength(target);
  if (len == 0) {
    finishLater(makeError("connect to " + where + ": not an IP address"));
    return handle;
  }
  if (::connect(attempt->fd, reinterpret_cast<const sockaddr*>(&target), len) == 0) {
    loop.post([attempt] { attempt->finish(std::move(attempt->sock)); });
    return handle;
  }
  if (errno != EINPROGRESS) {
    finishLater(errnoError("connect to " + where));
    return handle;
  }
  auto st = loop.watch(attempt->fd, EPOLLOUT, [attempt](uint32_t) {
    int err = 0;
    socklen_t elen = sizeof(err);
    if (::getsockopt(attempt->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    if (err != 0) {
      UniqueFd failed = std::move(attempt->sock);  // closes after finish() unwatched it
      return attempt->finish(errnoError("connect to " + attempt->where, err));
    }
    attempt->finish(std::move(attempt->sock));
  });
  if (!st) {
    finishLater(withContext(st.error(), "connect to " + where));
    return handle;
  }
  attempt->watching = true;
  if (timeout.count() <= 0) return handle;
  attempt->timer = loop.addTimer(timeout, [attempt, timeout] {
    attempt->timer = 0;                             // firing now: nothing to cancel
    UniqueFd abandoned = std::move(attempt->sock);  // closes after finish() unwatched it
    attempt->finish(makeError(
        "connect to " + attempt->where + " timed out after " + std::to_string(timeout.count()) + " ms", ETIMEDOUT));
  });
  return handle;
}

void asyncConnect(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target, std::chrono::milliseconds timeout,
                  std::function<void(Result<UniqueFd>)> done) {
  (void)asyncConnectCancellable(loop, std::move(sock), target, timeout, std::move(done));
}

Status setTcpLiveness(int fd, const TcpLiveness& l) {
  const int on = l.keepaliveIdle.count() > 0 ? 1 : 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0) return errnoError("setsockopt(SO_KEEPALIVE)");
  if (on) {
    const int idle = static_cast<int>(l.keepaliveIdle.count());
    const int interval = static_cast<int>(l.keepaliveInterval.count());
    const int probes = l.keepaliveProbes;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0)
      return errnoError("setsockopt(TCP_KEEPIDLE)");
    if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval)) != 0)
      return errnoError("setsockopt(TCP_KEEPINTVL)");
    if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes)) != 0)
      return errnoError("setsockopt(TCP_KEEPCNT)");
  }
  const unsigned userTimeout = static_cast<unsigned>(l.userTimeout.count());
  if (::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &userTimeout, sizeof(userTimeout)) != 0)
    return errnoError("setsockopt(TCP_USER_TIMEOUT)");
  return okStatus();
}

}  // namespace warren::io
