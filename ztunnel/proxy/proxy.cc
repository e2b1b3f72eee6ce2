#include "ztunnel/proxy/proxy.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "common/netns.h"
#include "ztunnel/io/tcp.h"
#include "ztunnel/proxy/access_log.h"
#include "ztunnel/proxy/decisions.h"
#include "ztunnel/proxy/relay.h"

namespace warren::proxy {

namespace {

std::optional<sockaddr_storage> sockName(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::nullopt;
  return ss;
}

// Refusing a captured connection is a reset, like ztunnel: the app sees the
// connection fail rather than a clean close that looks like an empty response.
void resetAndClose(UniqueFd fd) {
  linger lg{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

}  // namespace

void Proxy::handleOutbound(const PodContextPtr& pod, UniqueFd client) {
  auto peer = sockName(client.get(), true);
  if (!peer) return resetAndClose(std::move(client));
  if (!maps_) {
    spdlog::error("outbound from {}: BPF maps not open; refusing", pod->displayName());
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  auto orig = maps_->originalDestination(pod->netnsCookie, *peer);
  if (!orig) {
    spdlog::warn("outbound from {} {}: {}; refusing", pod->displayName(), io::formatSockaddr(*peer),
                 orig.error().message);
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  Decision d = decideOutbound(orig->addr);
  if (d.action == Decision::Action::Refuse) {
    spdlog::warn("outbound from {} to {}: {}", pod->displayName(), orig->text, d.reason);
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  counters_.outboundOpened++;
  connectAndRelay(pod, Direction::Outbound, std::move(client), *peer, d.target);
}

void Proxy::handleInbound(const PodContextPtr& pod, UniqueFd client) {
  auto peer = sockName(client.get(), true);
  auto local = sockName(client.get(), false);
  if (!peer || !local) return resetAndClose(std::move(client));
  Decision d = decideInbound(*local);
  if (d.action == Decision::Action::Refuse) {
    spdlog::warn("inbound to {} from {}: {}", pod->displayName(), io::formatSockaddr(*peer), d.reason);
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  counters_.inboundOpened++;
  connectAndRelay(pod, Direction::Inbound, std::move(client), *peer, d.target);
}

void Proxy::connectAndRelay(const PodContextPtr& pod, Direction dir, UniqueFd client, const sockaddr_storage& peer,
                            const sockaddr_storage& target) {
  // The upstream socket lives in the pod's netns: outbound leaves with the pod's
  // own IP, inbound reaches the app over the pod's loopback path.
  Result<UniqueFd> upstream = [&]() -> Result<UniqueFd> {
    auto in = ScopedNetns::enter(pod->netns.get());
    if (!in) return in.error();
    return io::tcpSocket(target.ss_family, options_.mark);
  }();
  ConnectionRecord rec;
  rec.direction = dir == Direction::Outbound ? "outbound" : "inbound";
  rec.pod = pod->displayName();
  rec.src = io::formatSockaddr(peer);
  rec.dst = io::formatSockaddr(target);
  if (!upstream) {
    spdlog::error("{} {} -> {}: cannot open upstream socket: {}", rec.direction, rec.pod, rec.dst,
                  upstream.error().message);
    counters_.upstreamFailed++;
    return resetAndClose(std::move(client));
  }
  spdlog::debug("{} {} {} -> {}: connecting", rec.direction, rec.pod, rec.src, rec.dst);
  active_++;
  auto sharedClient = std::make_shared<UniqueFd>(std::move(client));
  io::asyncConnect(loop_, std::move(*upstream), target, options_.connectTimeout,
                   [this, rec, sharedClient](Result<UniqueFd> connected) mutable {
                     if (!connected) {
                       rec.endReason = "upstream connect failed: " + connected.error().message;
                       logConnection(rec);
                       counters_.upstreamFailed++;
                       active_--;
                       return resetAndClose(std::move(*sharedClient));
                     }
                     Relay::start(loop_, std::move(*sharedClient), std::move(*connected),
                                  [this, rec](const RelayStats& stats) mutable {
                                    rec.bytesSent = stats.bytesAtoB;
                                    rec.bytesReceived = stats.bytesBtoA;
                                    rec.duration = stats.duration;
                                    rec.endReason = stats.endReason;
                                    logConnection(rec);
                                    counters_.closed++;
                                    active_--;
                                  });
                   });
}

}  // namespace warren::proxy
