#pragma once
// Small TCP helpers for the loop: sockets, listeners, non-blocking connects and
// address text. Every socket made here is non-blocking and close-on-exec.

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"
#include "io/event_loop.h"

namespace warren::io {

// A non-blocking TCP socket in the calling thread's netns, with TCP_NODELAY (a relay
// must not add Nagle delay on top of the application's own choice).
// mark != 0 sets SO_MARK (needs CAP_NET_ADMIN), so capture skips the tunnel's sockets.
Result<UniqueFd> tcpSocket(int family, uint32_t mark);

Status setNonBlocking(int fd);

// A non-blocking listener bound to addr (port 0 = any). SO_REUSEADDR always (restart
// with connections in TIME_WAIT); SO_REUSEPORT when asked, so a new tunnel can bind
// next to an old one during an upgrade; IPv6 listeners are IPV6_V6ONLY so that a v4
// and a v6 listener can share a port.
Result<UniqueFd> listenTcp(const sockaddr_storage& addr, uint32_t mark, bool reuseport, int backlog);

// Connects without blocking the loop. `done` runs exactly once, on the loop thread
// and never inside asyncConnect itself, with the connected socket or an error naming
// the target: errno errors as connect(2) reports them (ECONNREFUSED, ENETUNREACH...),
// or code ETIMEDOUT "connect to X timed out after N ms". timeout <= 0: no timer (the
// kernel's SYN retries decide). Call on the loop thread.
void asyncConnect(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target, std::chrono::milliseconds timeout,
                  std::function<void(Result<UniqueFd>)> done);

struct ConnectAttempt;
// A connect in flight, for a caller that may lose interest before it completes (an
// HBONE stream reset while its app connection is being made). Loop thread only.
class ConnectHandle {
 public:
  ConnectHandle() = default;
  explicit ConnectHandle(std::weak_ptr<ConnectAttempt> attempt) : attempt_(std::move(attempt)) {}
  // Abandons the connect: the socket is closed at once (with a reset, should the
  // handshake have completed meanwhile) and `done` runs now, with code ECANCELED
  // and `why` in its message. No-op once `done` has run.
  void cancel(const std::string& why);
  bool pending() const;

 private:
  std::weak_ptr<ConnectAttempt> attempt_;
};

// asyncConnect, with a handle to cancel it.
ConnectHandle asyncConnectCancellable(EventLoop& loop, UniqueFd sock, const sockaddr_storage& target,
                                      std::chrono::milliseconds timeout, std::function<void(Result<UniqueFd>)> done);

// How the kernel notices a peer that went away without a FIN or RST (a node that
// died, a NAT that forgot the flow): keepalive probes after keepaliveIdle of
// silence, and TCP_USER_TIMEOUT, the longest that sent data may stay unacknowledged
// before the connection is dropped (it also bounds the probing). Whole seconds for
// the keepalive fields, as the kernel takes them; keepaliveIdle 0 turns keepalive
// off, userTimeout 0 leaves the kernel's default (retransmissions, ~15 minutes).
struct TcpLiveness {
  std::chrono::seconds keepaliveIdle{0};
  std::chrono::seconds keepaliveInterval{0};
  int keepaliveProbes = 0;
  std::chrono::milliseconds userTimeout{0};
};
Status setTcpLiveness(int fd, const TcpLiveness& liveness);

// "10.0.0.1:80", "[fd00::1]:80"; other families "<address family N>".
std::string formatSockaddr(const sockaddr_storage& ss);

// The address alone, as the kernel prints it: "10.0.0.1", "fd00::1" (no brackets);
// "" for other families. The form workload IPs are keyed by.
std::string formatIp(const sockaddr_storage& ss);

// The port of an IPv4/IPv6 address (host order); 0 for other families.
uint16_t portOf(const sockaddr_storage& ss);
// The same address with another port (IPv4/IPv6; other families unchanged).
sockaddr_storage withPort(const sockaddr_storage& ss, uint16_t port);

// Makes close(2) send a reset instead of a FIN (SO_LINGER {1, 0}): how the tunnel
// refuses or aborts a connection, so the peer never mistakes it for a clean end.
void resetOnClose(int fd);

// The inverse of formatSockaddr for IP literals: "10.0.0.1:80", "[::1]:80". Names are
// refused, not resolved: the data path never blocks on DNS.
Result<sockaddr_storage> parseHostPort(std::string_view text);

// sizeof the family's sockaddr, for bind/connect; 0 for other families.
socklen_t sockaddrLength(const sockaddr_storage& ss);

}  // namespace warren::io
