// Inbound HBONE: a peer tunnel's TLS connection on the pod's port 15008. The peer's
// chain and SPIFFE identity are verified in the handshake (tls_context.cc); each
// CONNECT stream is judged (connect_request.cc), then connected to the app from
// inside the pod. No byte reaches the app before the stream is answered 200.

#include <cerrno>

#include <spdlog/spdlog.h>

#include "hbone/connect_request.h"
#include "io/tcp.h"
#include "tunnel/proxy/inbound_record.h"
#include "tunnel/proxy/proxy.h"

namespace warren::proxy {

namespace {
hbone::StreamCallbacks onDoneOnly(std::function<void(const hbone::StreamStats&)> fn) {
  hbone::StreamCallbacks cbs;
  cbs.onDone = std::move(fn);
  return cbs;
}
}  // namespace

void Proxy::handleHbone(const PodContextPtr& pod, UniqueFd client) {
  auto peer = socketAddress(client.get(), true);
  if (!peer) return resetAndClose(std::move(client));
  // Limits first: before a certificate is looked at or a handshake begins.
  if (!admitUnderLoad("HBONE to", *pod)) return resetAndClose(std::move(client));
  io::SlotLease slot = hbone::admitInbound(hboneSlots_, *peer, counters_.hboneInboundRefused, pod->displayName());
  if (!slot) return resetAndClose(std::move(client));
  const std::string peerIp = io::formatIp(*peer);
  auto refuse = [&] { resetAndClose(std::move(client)); };
  auto cert = podCertificate(*pod);
  if (!cert) {
    spdlog::error("HBONE to {} from {}: {}", pod->displayName(), io::formatSockaddr(*peer), cert.error().message);
    return refuse();
  }
  auto ctx = tlsCache_.get(tls::Role::Server, *cert, inputs_.identity->trustBundle());
  if (!ctx) {
    spdlog::error("HBONE to {}: TLS context: {}; refusing", pod->displayName(), ctx.error().message);
    counters_.refused++;
    return refuse();
  }
  hbone::H2Connection::Callbacks cbs;
  cbs.onRequest = [this, pod, peerIp](hbone::H2Connection& c, int32_t id, const hbone::Headers& req) {
    onHboneRequest(pod, c, id, req, peerIp);
  };
  cbs.onClosed = [this, slot = std::move(slot)](hbone::H2Connection& c) mutable {
    inbound_.erase(c.connectionId());
    slot.reset();  // its slot goes back at close, even if the connection object lives on a while
  };
  auto conn = hbone::H2Connection::start(loop_, std::move(client), *ctx, options_.h2, std::move(cbs), std::nullopt,
                                         io::formatSockaddr(*peer) + " -> " + pod->displayName());
  if (conn->state() != hbone::H2Connection::State::Closed) inbound_[conn->connectionId()] = conn;
}

void Proxy::onHboneRequest(const PodContextPtr& pod, hbone::H2Connection& conn, int32_t streamId,
                           const hbone::Headers& request, const std::string& peerIp) {
  auto verdict = hbone::judgeConnectRequest(request, pod->ips);
  ConnectionRecord rec = inboundHboneRecord(pod->displayName(), request, verdict, conn.peerLabel(), conn.peerIdentity(),
                                            podIdentity(*pod).uri());
  counters_.hboneInbound++;
  // Authorization, before any byte reaches the app. The source address is the
  // TCP peer (the client pod: its tunnel dials from inside the pod), never a
  // header the client could write.
  std::optional<Authorized> authorized;
  authz::Decision decision;
  if (verdict.status == 200) {
    authorized = Authorized{
        authz::ConnectionFacts{peerIp, conn.peerIdentity(), io::formatIp(verdict.target), io::portOf(verdict.target)},
        currentState()};
    decision = authorizeInbound(*authorized->decidedWith, *pod, authorized->facts, rec);
  }
  opened(rec);
  auto trackId = std::make_shared<uint64_t>(0);
  auto logWhenDone = [this, rec, trackId](const hbone::StreamStats& stats, const std::string& why = "") mutable {
    if (*trackId) untrack(*trackId);
    recordStreamEnd(rec, stats, why);
    finished(rec);
  };
  const ConnectAnswer answer = answerConnect(verdict, authorized ? &decision : nullptr);
  if (answer.status != 200) {
    if (answer.status == 400) {
      spdlog::warn("HBONE to {} from {}: 400: {}", rec.pod, rec.srcIdentity, verdict.reason);
      counters_.hboneBadRequests++;
    }
    return conn.respond(streamId, answer.status, UniqueFd(),
                        onDoneOnly([logWhenDone, why = answer.endReason](const hbone::StreamStats& s) mutable {
                          logWhenDone(s, why);
                        }));
  }
  // The app sees the client pod's address (the HBONE peer), as with ztunnel.
  Result<UniqueFd> upstream = appSocket(*pod, verdict.target, peerIp);
  if (!upstream) {
    spdlog::error("HBONE to {}: cannot open a socket to the app: {}", rec.pod, upstream.error().message);
    return conn.respond(streamId, 503, UniqueFd(), onDoneOnly(logWhenDone));
  }
  std::weak_ptr<hbone::H2Connection> weak = conn.shared_from_this();
  io::ConnectHandle dial = io::asyncConnectCancellable(
      loop_, std::move(*upstream), verdict.target, options_.connectTimeout,
      [this, weak, streamId, logWhenDone, pod, authorized, trackId](Result<UniqueFd> connected) mutable {
        auto c = weak.lock();
        if (!connected && connected.error().code == ECANCELED) {
          // The client reset the stream (or the connection went) while we dialed:
          // the dial is dropped, the app never sees a connection.
          counters_.appDialsCancelled++;
          return logWhenDone({.endReason = connected.error().message});
        }
        if (!connected) {
          counters_.upstreamFailed++;
          spdlog::warn("HBONE to {}: 503: app connect failed: {}", pod->displayName(), connected.error().message);
          if (c) return c->respond(streamId, 503, UniqueFd(), onDoneOnly(logWhenDone));
          return logWhenDone({.endReason = "HBONE connection gone; app connect failed"});
        }
        if (!c) return logWhenDone({.endReason = "HBONE connection closed before the app answered"});
        c->respond(streamId, 200, std::move(*connected), onDoneOnly(logWhenDone));
        // Revocable from now until the stream ends (respond may end it at once).
        if (c->hasStream(streamId))
          *trackId = track(pod, std::move(*authorized), [weak, streamId](const std::string& why) {
            if (auto conn = weak.lock()) conn->abortStream(streamId, why);
          });
      });
  // A reset of the stream, or the end of its connection, before the app answered
  // cancels the dial (rapid reset: each HEADERS would otherwise cost a connection
  // to the app that the reset leaves behind).
  conn.setCancelHandler(streamId, [dial](const std::string& why) mutable { dial.cancel(why); });
}

}  // namespace warren::proxy
