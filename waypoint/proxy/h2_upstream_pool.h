#pragma once
// The HTTP/2 upstream connections of one downstream session (HTTP/2 or HTTP/1.1):
// one H2Upstream per upstream (route kind, target, authority), opened through
// SessionHost::openUpstream, requests submitted at once and sent once it is
// connected. A connection that takes no new streams (GOAWAY, failed, ids spent)
// is replaced for new requests and kept until its running streams are done.
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
  // `sink` hears every connection's events; `label` prefixes their log lines.
  H2UpstreamPool(SessionHost& host, H2Upstream::Sink& sink, const SessionOptions& options, std::string label);
  ~H2UpstreamPool() { close(); }
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;

  // Submits `request` (sink key `key`) to `route`'s upstream: on the kept
  // connection if it takes new streams, else on a new one. `up` is null when not
  // even a new connection took it.
  struct Submitted {
    std::shared_ptr<H2Upstream> up;
    int32_t upId = 0;
  };
  Submitted submit(const proxy::OutboundRoute& route, const std::string& upstreamHost, int32_t key,
                   const H2UpstreamRequest& request, bool endStream);
  // Lets go of replaced connections whose streams are all done.
  void prune();
  // Ends every connection; the sink hears nothing more.
  void close();

 private:
  std::shared_ptr<H2Upstream> connectionFor(const proxy::OutboundRoute& route, const std::string& key,
                                            const std::string& upstreamHost, bool fresh);

  SessionHost& host_;
  H2Upstream::Sink& sink_;
  H2Upstream::Options options_;
  std::string label_;
  std::map<std::string, std::shared_ptr<H2Upstream>> live_;  // by upstreamKey
  std::vector<std::shared_ptr<H2Upstream>> draining_;
};

}  // namespace warren::waypoint
