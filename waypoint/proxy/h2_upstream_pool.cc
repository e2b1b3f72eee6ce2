#include "waypoint/proxy/h2_upstream_pool.h"

#include <algorithm>
#include <cstdint>

#include "io/tcp.h"

namespace warren::waypoint {

std::string upstreamKey(const proxy::OutboundRoute& r) {
  return std::to_string(static_cast<int>(r.kind)) + "|" + io::formatSockaddr(r.target) + "|" + r.authority + "|" +
         (r.kind == proxy::OutboundRoute::Kind::Hbone ? r.expectedIdentity.uri() : std::string());
}

H2UpstreamPool::H2UpstreamPool(SessionHost& host, const SessionOptions& options, std::string label)
    : host_(host), label_(std::move(label)) {
  options_.streamWindow = options.h2StreamWindow;
  // Shared by up to kMaxStreams clients' streams: a connection window of the
  // session's size would let a few slow clients (each holding a stream window of
  // unread response) stall everyone else's. As wide as all its streams' windows.
  options_.connectionWindow = static_cast<uint32_t>(std::min<uint64_t>(
      INT32_MAX, std::max<uint64_t>(options.h2ConnectionWindow, uint64_t{options.h2StreamWindow} * kMaxStreams)));
  options_.maxHeaderListBytes = options.h2MaxHeaderListBytes;
}

std::shared_ptr<H2Upstream> H2UpstreamPool::open(const proxy::OutboundRoute& route, const std::string& upstreamHost) {
  auto up = H2Upstream::create(host_.loop(), options_, label_ + " upstream " + upstreamHost);
  std::weak_ptr<H2Upstream> weakUp = up;
  host_.openUpstream(route, [weakUp](Result<io::ByteStreamPtr> fd) {
    // Closed meanwhile (the waypoint is stopping): attach and fail do nothing,
    // and an unused byte stream closes.
    auto upstream = weakUp.lock();
    if (!upstream) return;
    if (!fd)
      upstream->fail("upstream connect error or disconnect/reset before headers: " + fd.error().message);
    else
      upstream->attach(std::move(*fd));
  });
  return up;
}

H2UpstreamPool::Submitted H2UpstreamPool::submit(const proxy::OutboundRoute& route, const std::string& upstreamHost,
                                                 H2Upstream::Sink& sink, int32_t key, const H2UpstreamRequest& request,
                                                 bool endStream) {
  auto& conns = live_[upstreamKey(route)];
  for (auto& up : conns) {
    if (!up->usable() || up->streamCount() >= kMaxStreams) continue;
    if (const int32_t upId = up->submit(sink, key, request.pseudo, request.fields, endStream)) return {up, upId};
  }
  // None with room: those that take no new streams finish what they run elsewhere.
  std::erase_if(conns, [this](const auto& up) {
    if (up->usable()) return false;
    if (up->streamCount()) draining_.push_back(up);
    return true;
  });
  auto up = open(route, upstreamHost);
  conns.push_back(up);
  if (const int32_t upId = up->submit(sink, key, request.pseudo, request.fields, endStream)) return {up, upId};
  return {};
}

void H2UpstreamPool::forget(H2Upstream::Sink& sink) {
  for (auto& [key, conns] : live_)
    for (auto& up : conns) up->forget(sink);
  for (auto& up : draining_) up->forget(sink);
}

void H2UpstreamPool::prune() {
  std::erase_if(draining_, [](const auto& up) { return up->streamCount() == 0; });
  for (auto it = live_.begin(); it != live_.end();) {
    std::erase_if(it->second, [](const auto& up) { return !up->usable() && up->streamCount() == 0; });
    it = it->second.empty() ? live_.erase(it) : std::next(it);
  }
}

void H2UpstreamPool::close() {
  for (auto& [key, conns] : live_)
    for (auto& up : conns) up->close();
  for (auto& up : draining_) up->close();
  live_.clear();
  draining_.clear();
}

}  // namespace warren::waypoint
