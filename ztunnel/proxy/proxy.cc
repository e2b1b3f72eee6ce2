#include "ztunnel/proxy/proxy.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "common/netns.h"
#include "ztunnel/io/tcp.h"
#include "ztunnel/proxy/relay.h"

namespace warren::proxy {

std::optional<sockaddr_storage> socketAddress(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::nullopt;
  return ss;
}

void resetAndClose(UniqueFd fd) { io::resetOnClose(fd.get()); }

Proxy::Proxy(io::EventLoop& loop, const tunnel::CaptureMaps* maps, ProxyInputs inputs, ProxyOptions options)
    : loop_(loop), maps_(maps), inputs_(inputs), options_(options), pool_(loop, options.h2) {}

Proxy::~Proxy() = default;

void Proxy::closeAll() {
  pool_.closeAll();
  auto conns = inbound_;
  for (auto& [id, c] : conns) c->shutdown();
}

identity::SpiffeId Proxy::podIdentity(const PodContext& pod) const {
  return identity::workloadIdentity(inputs_.identity ? inputs_.identity->trustDomain() : "cluster.local", pod.ns,
                                   pod.serviceAccount);
}

Result<identity::WorkloadCertPtr> Proxy::podCertificate(const PodContext& pod) {
  if (!inputs_.identity) return makeError("BUG: no identity manager");
  auto cert = inputs_.identity->current(podIdentity(pod));
  if (!cert) counters_.identityRefusals++;
  return cert;
}

void Proxy::finished(ConnectionRecord& rec) {
  logConnection(rec);
  counters_.closed++;
  active_--;
}

void Proxy::handleInbound(const PodContextPtr& pod, UniqueFd client) {
  auto peer = socketAddress(client.get(), true);
  auto local = socketAddress(client.get(), false);
  if (!peer || !local) return resetAndClose(std::move(client));
  Decision d = decideInbound(*local);
  if (d.action == Decision::Action::Refuse) {
    spdlog::warn("inbound to {} from {}: {}", pod->displayName(), io::formatSockaddr(*peer), d.reason);
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  counters_.inboundOpened++;
  ConnectionRecord rec;
  rec.direction = "inbound";
  rec.protocol = "tcp";
  rec.security = "none";
  rec.dstIdentity = podIdentity(*pod).uri();
  connectAndRelay(pod, std::move(client), *peer, d.target, std::move(rec));
}

void Proxy::connectAndRelay(const PodContextPtr& pod, UniqueFd client, const sockaddr_storage& peer,
                            const sockaddr_storage& target, ConnectionRecord rec) {
  // The upstream socket lives in the pod's netns: outbound leaves with the pod's
  // own IP, inbound reaches the app over the pod's loopback path.
  Result<UniqueFd> upstream = [&]() -> Result<UniqueFd> {
    auto in = ScopedNetns::enter(pod->netns.get());
    if (!in) return in.error();
    return io::tcpSocket(target.ss_family, options_.mark);
  }();
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
                       counters_.upstreamFailed++;
                       finished(rec);
                       return resetAndClose(std::move(*sharedClient));
                     }
                     Relay::start(loop_, std::move(*sharedClient), std::move(*connected),
                                  [this, rec](const RelayStats& stats) mutable {
                                    rec.bytesSent = stats.bytesAtoB;
                                    rec.bytesReceived = stats.bytesBtoA;
                                    rec.duration = stats.duration;
                                    rec.endReason = stats.endReason;
                                    finished(rec);
                                  });
                   });
}

}  // namespace warren::proxy
