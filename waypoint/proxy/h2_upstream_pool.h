#pragma once
// The waypoint's HTTP/2 upstream connections, shared by all its downstream
// sessions (HTTP/2 or HTTP/1.1), as HBONE pools share theirs: requests to the same
// upstream (route kind, endpoint, authority, expected identity: upstreamKey) ride
// one H2Upstream, opened through SessionHost::openUpstream, up to kMaxStreams
// running streams each; past that, or when one takes no new streams (GOAWAY,
// failed, ids spent), a new connection is opened, and the old one is kept until
// its running streams are done. Each stream reports to the session that
// submitted it; a session forget()s the pool before it goes.
// Runs on the event loop thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "waypoint/proxy/h1_h2_translate.h"
#include "waypoint/proxy/h2_upstream.h"
#include "waypoint/proxy/session_host.h"

namespace warren::waypoint {

// What makes two requests' upstreams the same connection.
std::string upstreamKey(const proxy::OutboundRoute& route);

class H2UpstreamPool {
 public:
  // Running streams per connection before another is opened (as HBONE pools cap theirs).
  static constexpr size_t kMaxStreams = 100;

  // `label` prefixes the connections' log lines.
  H2UpstreamPool(SessionHost& host, const SessionOptions& options, std::string label);
  ~H2UpstreamPool() { close(); }
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;

  // Submits `request` (sink key `key`, events to `sink`) to `route`'s upstream:
  // on a connection with room that takes new streams, else on a new one. `up`
  // is null when not even a new connection took it.
  struct Submitted {
    std::shared_ptr<H2Upstream> up;
    int32_t upId = 0;
  };
  Submitted submit(const proxy::OutboundRoute& route, const std::string& upstreamHost, H2Upstream::Sink& sink,
                   int32_t key, const H2UpstreamRequest& request, bool endStream);
  // `sink` goes: its running streams are canceled and it hears nothing more.
  void forget(H2Upstream::Sink& sink);
  // Lets go of connections that take no new streams once their streams are done.
  void prune();
  // Ends every connection; no sink hears anything more.
  void close();

 private:
  std::shared_ptr<H2Upstream> open(const proxy::OutboundRoute& route, const std::string& upstreamHost);

  SessionHost& host_;
  H2Upstream::Options options_;
  std::string label_;
  std::map<std::string, std::vector<std::shared_ptr<H2Upstream>>> live_;  // by upstreamKey
  std::vector<std::shared_ptr<H2Upstream>> draining_;
};

}  // namespace warren::waypoint
