// Inbound plaintext: a connection to a meshed pod that did not come over HBONE
// (a client outside the mesh, or one whose tunnel does not speak HBONE), captured
// by the pod's sk_lookup program. No identity: only address and port rules (and
// STRICT mTLS, which refuses it) apply; then it is relayed to the app as is.

#include <spdlog/spdlog.h>

#include "io/tcp.h"
#include "tunnel/proxy/inbound_record.h"
#include "tunnel/proxy/proxy.h"

namespace warren::proxy {

void Proxy::handleInbound(const PodContextPtr& pod, UniqueFd client) {
  auto peer = socketAddress(client.get(), true);
  auto local = socketAddress(client.get(), false);
  if (!peer || !local) return resetAndClose(std::move(client));
  if (!admitUnderLoad("inbound to", *pod)) return resetAndClose(std::move(client));
  // Limits first: one pod's flood of plaintext clients must not take the tunnel's
  // descriptors (each connection takes two).
  auto [admission, slot] = io::takeLease(plaintextSlots_, pod->uid);
  if (!slot) {
    (admission == io::Admission::kServerFull ? counters_.plaintextInboundOverTotal
                                             : counters_.plaintextInboundOverPod)++;
    spdlog::debug("inbound to {} from {}: {} ({} plaintext connections open, {} to that pod); reset",
                  pod->displayName(), io::formatSockaddr(*peer), io::admissionName(admission), plaintextSlots_->open(),
                  plaintextSlots_->openFrom(pod->uid));
    return resetAndClose(std::move(client));
  }
  Decision d = decideInbound(*local);
  if (d.action == Decision::Action::Refuse) {
    spdlog::warn("inbound to {} from {}: {}", pod->displayName(), io::formatSockaddr(*peer), d.reason);
    counters_.refused++;
    return resetAndClose(std::move(client));
  }
  ConnectionRecord rec = inboundPlaintextRecord(pod->displayName(), io::formatSockaddr(*peer),
                                                io::formatSockaddr(d.target), podIdentity(*pod).uri());
  rec.slot = std::move(slot);
  // Plaintext: no identity, so only address and port rules (and STRICT mTLS) apply.
  authz::ConnectionFacts facts{io::formatIp(*peer), std::nullopt, io::formatIp(*local), io::portOf(*local)};
  auto st = currentState();
  auto verdict = authorizeInbound(*st, *pod, facts, rec);
  if (!verdict.allowed) {
    rec.endReason = "refused: " + verdict.reason;
    opened(rec);
    finished(rec);
    return resetAndClose(std::move(client));
  }
  counters_.inboundOpened++;
  connectAndRelay(pod, std::move(client), *peer, d.target, std::move(rec), Authorized{std::move(facts), st});
}

}  // namespace warren::proxy
