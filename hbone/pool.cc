#include "hbone/pool.h"

#include <cerrno>

#include <spdlog/spdlog.h>

#include "common/netns.h"
#include "hbone/stream_bridge.h"
#include "io/tcp.h"

namespace warren::hbone {

Pool::~Pool() { closeAll(); }

void Pool::closeAll() {
  auto all = std::move(pools_);
  pools_.clear();
  for (auto& [key, conns] : all)
    for (auto& c : conns) c->shutdown();
}

namespace {

// Sends GOAWAY on those of `conns` whose peer was verified against a trust bundle
// older than `bundleGeneration` (their running streams finish); how many. Takes a
// copy: a shutdown may close a connection at once and drop it from its owner.
size_t goAwayIfOlderBundle(std::vector<std::shared_ptr<H2Connection>> conns, uint64_t bundleGeneration) {
  size_t n = 0;
  for (const auto& c : conns)
    if (c->tlsContext() && c->tlsContext()->bundle().generation < bundleGeneration) {
      c->shutdown();
      ++n;
    }
  return n;
}

}  // namespace

void Pool::drainOlderThan(uint64_t bundleGeneration) {
  counters_.drainedForTrust += goAwayIfOlderBundle(connections(), bundleGeneration);
}

size_t Pool::goAwayAll() {
  size_t n = 0;
  for (const auto& c : connections())  // a copy: shutdown() may close one and drop it from pools_
    if (c->state() == H2Connection::State::Ready && !c->goingAway()) {
      c->shutdown();
      ++n;
    }
  return n;
}

void goAwayOnOlderTrustBundle(Pool& pool, const std::map<uint64_t, std::shared_ptr<H2Connection>>& inbound,
                              uint64_t generation) {
  pool.drainOlderThan(generation);
  std::vector<std::shared_ptr<H2Connection>> conns;
  for (const auto& [id, c] : inbound) conns.push_back(c);
  if (size_t n = goAwayIfOlderBundle(std::move(conns), generation))
    spdlog::info("trust bundle {}: {} inbound HBONE connection(s) told GOAWAY", generation, n);
}

size_t Pool::connectionCount() const {
  size_t n = 0;
  for (const auto& [key, conns] : pools_) n += conns.size();
  return n;
}

std::vector<std::shared_ptr<H2Connection>> Pool::connections() const {
  std::vector<std::shared_ptr<H2Connection>> out;
  for (const auto& [key, conns] : pools_) out.insert(out.end(), conns.begin(), conns.end());
  return out;
}

Result<std::shared_ptr<H2Connection>> Pool::dial(const Dial& d) {
  // The socket belongs to the source pod: it leaves with the pod's IP, through the
  // pod's routes, as the pod's own traffic would.
  Result<UniqueFd> sock = [&]() -> Result<UniqueFd> {
    // No netns: the caller already lives where its sockets belong (a waypoint in its pod).
    if (d.netns < 0) return io::tcpSocket(d.address.ss_family, d.mark);
    auto in = ScopedNetns::enter(d.netns);
    if (!in) return in.error();
    return io::tcpSocket(d.address.ss_family, d.mark);
  }();
  if (!sock) return withContext(sock.error(), "HBONE socket");
  if (::connect(sock->get(), reinterpret_cast<const sockaddr*>(&d.address), io::sockaddrLength(d.address)) != 0 &&
      errno != EINPROGRESS)
    return errnoError("connect to " + d.key.destination);
  // The TLS handshake starts once the TCP connect completes (its writes wait for
  // it); the handshake timeout covers both.
  PoolKey key = d.key;
  H2Connection::Callbacks cbs;
  cbs.onReady = [this](H2Connection& c, const Status& st) {
    if (!st)
      counters_.connectFailures++;
    else
      spdlog::debug("hbone pool: connection {} to {} ready", c.connectionId(), c.peerLabel());
  };
  cbs.onClosed = [this, key](H2Connection& c) {
    auto it = pools_.find(key);
    if (it == pools_.end()) return;
    auto& v = it->second;
    std::erase_if(v, [&](const auto& p) { return p.get() == &c; });
    if (v.empty()) pools_.erase(it);
  };
  auto conn = H2Connection::start(loop_, std::move(*sock), d.tls, options_, std::move(cbs), d.expected,
                                  d.key.destination + " (" + d.expected.uri() + ")");
  counters_.connectionsOpened++;
  pools_[key].push_back(conn);
  return conn;
}

void Pool::send(const Dial& d, const Headers& request, UniqueFd app, StreamCallbacks callbacks) {
  std::unique_ptr<StreamEndpoint> bridge;
  if (app) bridge = std::make_unique<FdStreamBridge>(loop_, std::move(app), options_.sendBufferBytes);
  send(d, request, std::move(bridge), std::move(callbacks));
}

void Pool::send(const Dial& d, const Headers& request, std::unique_ptr<StreamEndpoint> app, StreamCallbacks callbacks) {
  std::shared_ptr<H2Connection> chosen;
  auto it = pools_.find(d.key);
  if (it != pools_.end()) {
    // A connection verified against an older trust bundle is not used for new
    // streams (a root removed from the bundle must stop admitting peers it signed):
    // it is told GOAWAY, its running streams finish, and it closes.
    const uint64_t bundle = d.tls ? d.tls->bundle().generation : 0;
    std::vector<std::shared_ptr<H2Connection>> stale;  // empty (no allocation) but after a reload
    for (const auto& c : it->second) {
      if (d.tls && c->tlsContext() && c->tlsContext()->bundle().generation < bundle)
        stale.push_back(c);
      else if (!chosen && c->hasCapacity())
        chosen = c;
    }
    if (!stale.empty()) counters_.drainedForTrust += goAwayIfOlderBundle(std::move(stale), bundle);
  }
  auto fail = [&](const std::string& why, StreamCallbacks& cbs) {
    // The app side sees a reset, never a clean end.
    if (app) app->abort();
    app.reset();
    if (cbs.onDone) cbs.onDone(StreamStats{.endReason = why});
  };
  if (chosen) {
    counters_.streamsReused++;
  } else {
    auto made = dial(d);
    if (!made) {
      counters_.connectFailures++;
      return fail(made.error().message, callbacks);
    }
    chosen = *made;
  }
  StreamCallbacks keep{.onResponse = nullptr, .onDone = callbacks.onDone};
  auto opened = chosen->openStream(request, app, std::move(callbacks));
  // Only when the connection has just become unusable; app is still ours.
  if (!opened) fail(opened.error().message, keep);
}

}  // namespace warren::hbone
