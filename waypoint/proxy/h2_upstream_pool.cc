#include "waypoint/proxy/h2_upstream_pool.h"

#include "io/tcp.h"

namespace warren::waypoint {

std::string upstreamKey(const proxy::OutboundRoute& r) {
  return std::to_string(static_cast<int>(r.kind)) + "|" + io::formatSockaddr(r.target) + "|" + r.authority;
}

H2UpstreamPool::H2UpstreamPool(SessionHost& host, H2Upstream::Sink& sink, const SessionOptions& options,
                               std::string label)
    : host_(host), sink_(sink), label_(std::move(label)) {
  options_.streamWindow = options.h2StreamWindow;
  options_.connectionWindow = options.h2ConnectionWindow;
  options_.maxHeaderListBytes = options.h2MaxHeaderListBytes;
}

std::shared_ptr<H2Upstream> H2UpstreamPool::connectionFor(const proxy::OutboundRoute& route, const std::string& key,
                                                          const std::string& upstreamHost, bool fresh) {
  auto it = live_.find(key);
  if (it != live_.end()) {
    if (!fresh && it->second->usable()) return it->second;
    // Going away or failed: its running streams finish; new ones go to a new one.
    if (it->second->streamCount()) draining_.push_back(it->second);
    live_.erase(it);
  }
  auto up = H2Upstream::create(host_.loop(), sink_, options_, label_ + " upstream " + upstreamHost);
  live_[key] = up;
  std::weak_ptr<H2Upstream> weakUp = up;
  host_.openUpstream(route, [weakUp](Result<io::ByteStreamPtr> fd) {
    // Closed meanwhile (the session ended): attach and fail do nothing, and an
    // unused byte stream closes.
    auto upstream = weakUp.lock();
    if (!upstream) return;
    if (!fd) upstream->fail("upstream connect error or disconnect/reset before headers: " + fd.error().message);
    else upstream->attach(std::move(*fd));
  });
  return up;
}

H2UpstreamPool::Submitted H2UpstreamPool::submit(const proxy::OutboundRoute& route, const std::string& upstreamHost,
                                                 int32_t key, const H2UpstreamRequest& request, bool endStream) {
  const std::string k = upstreamKey(route);
  for (bool fresh : {false, true}) {
    auto up = connectionFor(route, k, upstreamHost, fresh);
    if (const int32_t upId = up->submit(key, request.pseudo, request.fields, endStream)) return {up, upId};
    // That connection takes no more streams: a new one.
  }
  return {};
}

void H2UpstreamPool::prune() {
  std::erase_if(draining_, [](const auto& up) { return up->streamCount() == 0; });
}

void H2UpstreamPool::close() {
  for (auto& [key, up] : live_) up->close();
  for (auto& up : draining_) up->close();
  live_.clear();
  draining_.clear();
}

}  // namespace warren::waypoint
