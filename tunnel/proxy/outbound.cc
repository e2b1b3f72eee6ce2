// Outbound: a connection the app made, captured on the pod's 15001 listener.

#include <spdlog/spdlog.h>

#include "hbone/connect_request.h"
#include "io/tcp.h"
#include "tunnel/proxy/proxy.h"

namespace warren::proxy {

void Proxy::handleOutbound(const PodContextPtr& pod, UniqueFd client) {
  auto peer = socketAddress(client.get(), true);
  if (!peer) return resetAndClose(std::move(client));
  if (!admitUnderLoad("outbound from", *pod)) return resetAndClose(std::move(client));
  // Limits first: each pod's count is capped in BPF (--conns-per-pod); across pods,
  // the total keeps descriptors for the rest of the tunnel.
  auto [admission, slot] = io::takeLease(outboundSlots_, pod->uid);
  if (!slot) {
    counters_.outboundOverTotal++;
    spdlog::debug("outbound from {}: {} ({} outbound connections open); reset", pod->displayName(),
                  io::admissionName(admission), outboundSlots_->open());
    return resetAndClose(std::move(client));
  }
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
  auto state = currentState();
  // Round-robin per service VIP: a counter per VIP spreads connections evenly.
  uint64_t pick = 0;
  if (const std::string vip = io::formatIp(orig->addr); state->findServiceByVip(vip)) pick = serviceRoundRobin_[vip]++;
  // The source, so that a waypoint's own traffic is never sent back to it.
  const state::Workload* source = state->findByIp(io::formatIp(*peer));
  OutboundRoute route = decideOutbound(orig->addr, *state, pick, source);
  switch (route.kind) {
    case OutboundRoute::Kind::Refuse:
      spdlog::warn("outbound from {} to {}: {}; refusing", pod->displayName(), orig->text, route.reason);
      counters_.refused++;
      return resetAndClose(std::move(client));
    case OutboundRoute::Kind::Passthrough: {
      spdlog::debug("outbound from {} to {}: passthrough: {}", pod->displayName(), orig->text, route.reason);
      counters_.outboundOpened++;
      counters_.passthrough++;
      ConnectionRecord rec;
      rec.direction = "outbound";
      rec.protocol = "tcp";
      rec.security = "none";
      rec.srcIdentity = podIdentity(*pod).uri();
      rec.srcWorkload = pod->displayName();
      rec.dstWorkload = route.destinationWorkload;
      rec.dstService = route.destinationService;
      rec.slot = std::move(slot);
      return connectAndRelay(pod, std::move(client), *peer, route.target, std::move(rec));
    }
    case OutboundRoute::Kind::Hbone:
      counters_.outboundOpened++;
      return sendHbone(pod, std::move(client), *peer, route, std::move(slot));
  }
}

void Proxy::sendHbone(const PodContextPtr& pod, UniqueFd client, const sockaddr_storage& peer,
                      const OutboundRoute& route, io::SlotLease slot) {
  ConnectionRecord rec;
  rec.slot = std::move(slot);
  rec.direction = "outbound";
  rec.protocol = "hbone";
  rec.security = "mutual_tls";
  rec.pod = pod->displayName();
  rec.src = io::formatSockaddr(peer);
  rec.dst = route.authority;
  rec.srcIdentity = podIdentity(*pod).uri();
  rec.dstIdentity = route.expectedIdentity.uri();
  rec.srcWorkload = pod->displayName();
  rec.dstWorkload = route.destinationWorkload;
  rec.dstService = route.destinationService;
  rec.via = io::formatSockaddr(route.target);
  rec.waypoint = route.waypoint;

  auto cert = podCertificate(*pod);
  if (!cert) {
    spdlog::error("outbound from {} to {}: {}", rec.pod, rec.dst, cert.error().message);
    return resetAndClose(std::move(client));
  }
  auto ctx = tlsCache_.get(tls::Role::Client, *cert, inputs_.identity->trustBundle());
  if (!ctx) {
    spdlog::error("outbound from {} to {}: TLS context: {}; refusing", rec.pod, rec.dst, ctx.error().message);
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  hbone::Dial dial;
  dial.key = {pod->uid, (*cert)->generation, rec.via, rec.dstIdentity};
  dial.address = route.target;
  dial.netns = pod->netns.get();
  dial.mark = options_.mark;
  dial.tls = *ctx;
  dial.expected = route.expectedIdentity;
  hbone::ClientInfo info{io::formatIp(peer), pod->ns, pod->name, pod->serviceAccount};
  auto request = hbone::buildConnectRequest(route.authority, info, hbone::newTraceparent());

  counters_.hboneOutbound++;
  opened(rec);
  // The pod context rides along so that the netns fd outlives a pending dial.
  hbone::StreamCallbacks cbs;
  cbs.onDone = [this, rec, pod](const hbone::StreamStats& stats) mutable {
    rec.bytesSent = stats.bytesToPeer;
    rec.bytesReceived = stats.bytesFromPeer;
    rec.duration = stats.duration;
    rec.status = stats.status;
    rec.endReason = stats.endReason;
    rec.tlsVersion = stats.tlsVersion;
    rec.tlsCipher = stats.tlsCipher;
    if (stats.status == 401)
      rec.responseFlags = "DENY";
    else if (stats.status != 200)
      rec.responseFlags = "CONNECT";
    if (stats.status != 200) counters_.upstreamFailed++;
    finished(rec);
  };
  pool_.send(dial, request, std::move(client), std::move(cbs));
}

}  // namespace warren::proxy
