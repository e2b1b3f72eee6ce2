#include "waypoint/proxy/waypoint_server.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "hbone/connect_request.h"
#include "hbone/stream_channel.h"
#include "io/fd_stream.h"
#include "io/tcp.h"

namespace warren::waypoint {

WaypointServer::WaypointServer(io::EventLoop& loop, identity::IdentityManager& identity, const state::StateStore& state,
                               WaypointOptions options, std::function<void(const RequestOutcome&)> onRequest)
    : loop_(loop),
      identity_(identity),
      state_(state),
      options_(std::move(options)),
      onRequest_(std::move(onRequest)),
      verified_(options_.verifiedTokenCapacity),
      pool_(loop, options_.h2),
      h2Pool_(*this, options_.session, "waypoint"),
      hboneSlots_(std::make_shared<io::ConnectionSlots>(options_.hboneInbound)) {}

WaypointServer::~WaypointServer() { closeAll(); }

void WaypointServer::trustBundleChanged(uint64_t generation) {
  hbone::goAwayOnOlderTrustBundle(pool_, inbound_, generation);
}

void WaypointServer::closeAll() {
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, s] : sessions) s->abort();
  auto conns = std::move(inbound_);
  inbound_.clear();
  for (auto& [id, c] : conns) c->shutdown();
  h2Pool_.close();
  pool_.closeAll();
}

void WaypointServer::accept(UniqueFd client) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  if (::getpeername(client.get(), reinterpret_cast<sockaddr*>(&peer), &len) != 0) return;
  // Limits first: before a certificate is looked at or a handshake begins.
  io::SlotLease slot = hbone::admitInbound(hboneSlots_, peer, counters_.hboneInboundRefused, "waypoint");
  if (!slot) return io::resetOnClose(client.get());
  auto refuse = [&] { io::resetOnClose(client.get()); };
  auto cert = identity_.current(options_.identity);
  if (!cert) {
    counters_.identityRefusals++;
    spdlog::error("HBONE from {}: {}; refusing", io::formatSockaddr(peer), cert.error().message);
    return refuse();
  }
  auto ctx = tlsCache_.get(tls::Role::Server, *cert, identity_.trustBundle());
  if (!ctx) {
    spdlog::error("HBONE from {}: TLS context: {}; refusing", io::formatSockaddr(peer), ctx.error().message);
    return refuse();
  }
  counters_.connections++;
  hbone::H2Connection::Callbacks cbs;
  cbs.onRequest = [this, peerIp = io::formatIp(peer)](hbone::H2Connection& c, int32_t id, const hbone::Headers& req) {
    onStream(c, id, req, peerIp);
  };
  cbs.onClosed = [this, slot = std::move(slot)](hbone::H2Connection& c) mutable {
    inbound_.erase(c.connectionId());
    slot.reset();  // its slot goes back at close, even if the connection object lives on a while
  };
  auto conn = hbone::H2Connection::start(loop_, std::move(client), *ctx, options_.h2, std::move(cbs), std::nullopt,
                                         io::formatSockaddr(peer) + " -> waypoint");
  if (conn->state() != hbone::H2Connection::State::Closed) inbound_[conn->connectionId()] = conn;
}

void WaypointServer::onStream(hbone::H2Connection& conn, int32_t id, const hbone::Headers& request,
                              const std::string& peerIp) {
  counters_.streams++;
  auto verdict = judgeWaypointStream(request, *state_.get(), options_.self);
  hbone::StreamCallbacks none;
  if (verdict.status != 200) {
    counters_.badStreams++;
    spdlog::warn("waypoint: CONNECT from {} ({}): 400: {}", peerIp,
                 conn.peerIdentity() ? conn.peerIdentity()->uri() : "no identity", verdict.reason);
    return conn.respond(id, 400, UniqueFd(), std::move(none));
  }
  // The stream's bytes reach the session in process (hbone/stream_channel.h).
  auto [endpoint, ours] = hbone::makeChannel(loop_, options_.h2.sendBufferBytes);
  StreamFacts facts{peerIp, conn.peerIdentity(), verdict.destination};
  conn.tlsNames(facts.tlsVersion, facts.tlsCipher);
  const uint64_t sid = nextSession_++;
  // The first bytes decide the protocol; until then a sniffer holds the socket.
  auto sniffer = SessionSniffer::start(
      loop_, std::move(ours), options_.session,
      [this, sid, facts](DownstreamProtocol p, io::ByteStreamPtr fd, std::string initial) {
        if (!sessions_.count(sid)) return;  // shut down meanwhile
        if (p == DownstreamProtocol::Http2) {
          counters_.http2Sessions++;
          sessions_[sid] = H2Session::start(*this, sid, facts, std::move(fd), options_.session, std::move(initial));
        } else {
          counters_.http1Sessions++;
          sessions_[sid] = Http1Session::start(*this, sid, facts, std::move(fd), options_.session, std::move(initial));
        }
      },
      [this, sid] { sessionClosed(sid); });
  sessions_[sid] = sniffer;
  conn.respond(id, 200, std::move(endpoint), std::move(none));
}

uint64_t WaypointServer::nextPick(const sockaddr_storage& destination) {
  return roundRobin_[io::formatIp(destination)]++;
}

void WaypointServer::openUpstream(const proxy::OutboundRoute& route,
                                  std::function<void(Result<io::ByteStreamPtr>)> done) {
  using Kind = proxy::OutboundRoute::Kind;
  if (route.kind == Kind::Passthrough) {
    // A destination outside the mesh: plain TCP, as ztunnel would reach it.
    auto sock = io::tcpSocket(route.target.ss_family, 0);
    if (!sock) return loop_.defer([done, e = sock.error()] { done(e); });
    return io::asyncConnect(loop_, std::move(*sock), route.target, options_.connectTimeout,
                            [this, done = std::move(done)](Result<UniqueFd> fd) {
                              if (!fd) {
                                counters_.upstreamFailures++;
                                return done(fd.error());
                              }
                              done(io::ByteStreamPtr(std::make_unique<io::FdStream>(loop_, std::move(*fd))));
                            });
  }
  auto fail = [this, &done](Error e) { loop_.defer([done, e] { done(e); }); };
  if (route.kind != Kind::Hbone) return fail(makeError("no route: " + route.reason));
  auto cert = identity_.current(options_.identity);
  if (!cert) {
    counters_.identityRefusals++;
    return fail(cert.error());
  }
  auto ctx = tlsCache_.get(tls::Role::Client, *cert, identity_.trustBundle());
  if (!ctx) return fail(ctx.error());
  auto [endpoint, ours] = hbone::makeChannel(loop_, options_.h2.sendBufferBytes);
  hbone::Dial dial;
  dial.key = {options_.self.serviceKey, (*cert)->generation, io::formatSockaddr(route.target),
              route.expectedIdentity.uri()};
  dial.address = route.target;
  dial.netns = -1;  // the waypoint runs in its own pod: its sockets are already there
  dial.tls = *ctx;
  dial.expected = route.expectedIdentity;
  hbone::ClientInfo info{"", options_.self.gatewayNs, options_.self.gatewayName, options_.identity.serviceAccount};
  auto request = hbone::buildConnectRequest(route.authority, info, hbone::newTraceparent());
  hbone::StreamCallbacks cbs;
  cbs.onResponse = [this, authority = route.authority](int status) {
    if (status != 200) {
      counters_.upstreamFailures++;
      spdlog::warn("waypoint: upstream CONNECT {} answered {}", authority, status);
    }
  };
  pool_.send(dial, request, std::move(endpoint), std::move(cbs));
  // Never from inside openUpstream: the session is still in the middle of a request.
  auto stream = std::make_shared<io::ByteStreamPtr>(std::move(ours));
  loop_.defer([done = std::move(done), stream] { done(std::move(*stream)); });
}

std::shared_ptr<const jwt::KeySet> WaypointServer::jwks(const std::string& uri) {
  return options_.jwks ? options_.jwks->current(uri) : nullptr;
}

void WaypointServer::refreshJwks(const std::string& uri, std::chrono::milliseconds timeout,
                                 std::function<void()> done) {
  if (!options_.jwks) return loop_.post(std::move(done));
  // The provider answers on its own thread; the session continues on the loop.
  options_.jwks->refresh(
      uri, timeout, [&loop = loop_, done = std::move(done)](std::shared_ptr<const jwt::KeySet>) { loop.post(done); });
}

void WaypointServer::requestDone(const RequestOutcome& outcome) {
  counters_.requests++;
  if (outcome.status == 403 && outcome.responseFlags == "RBAC") counters_.denied++;
  if (outcome.plan.authn.kind == AuthnResult::Kind::Failed) counters_.unauthenticated++;
  if (onRequest_) onRequest_(outcome);
}

void WaypointServer::sessionClosed(uint64_t id) {
  // Deferred: the session is still on the stack of its own callback.
  loop_.post([this, id] { sessions_.erase(id); });
}

}  // namespace warren::waypoint
