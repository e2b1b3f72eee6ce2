#pragma once
// Outbound HBONE connection pool. Connections are shared per (source pod, source
// certificate, destination address, expected server identity): a new app connection
// to a destination that already has a pooled connection with room opens one more
// stream on it and costs no TLS handshake. A connection is used only by the pod it
// was opened for (its socket lives in that pod's netns and it proves that pod's
// identity), and a renewed certificate starts new connections while old ones drain.
// Loop thread only.

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/unique_fd.h"
#include "hbone/h2_connection.h"

namespace warren::hbone {

struct PoolKey {
  std::string sourceUid;
  uint64_t certGeneration = 0;
  std::string destination;  // "10.244.2.5:15008"
  std::string expectedIdentity;
  auto operator<=>(const PoolKey&) const = default;
};

struct Dial {
  PoolKey key;
  sockaddr_storage address{};  // where the peer's HBONE server listens
  int netns = -1;              // the source pod's netns (the socket is opened there); -1: this one
  uint32_t mark = 0;
  tls::TlsContextPtr tls;  // the source pod's client context
  identity::SpiffeId expected;
};

struct PoolCounters {
  uint64_t connectionsOpened = 0;  // TCP + TLS handshakes started
  uint64_t streamsReused = 0;      // streams that found a pooled connection
  uint64_t connectFailures = 0;
  uint64_t drainedForTrust = 0;  // pooled connections sent GOAWAY after a trust-bundle change
};

class Pool {
 public:
  Pool(io::EventLoop& loop, H2Options options) : loop_(loop), options_(options) {}
  ~Pool();

  // Carries app over a CONNECT stream with `request`; app is reset (and onDone
  // reports why) if no connection can be made.
  void send(const Dial& dial, const Headers& request, UniqueFd app, StreamCallbacks callbacks);
  // The same with any app side (an in-process ChannelEndpoint); aborted on failure.
  void send(const Dial& dial, const Headers& request, std::unique_ptr<StreamEndpoint> app, StreamCallbacks callbacks);

  size_t connectionCount() const;
  const PoolCounters& counters() const { return counters_; }
  // For the admin endpoint and tests: every pooled connection.
  std::vector<std::shared_ptr<H2Connection>> connections() const;
  void closeAll();
  // The trust bundle is now `generation`: pooled connections verified against an
  // older one are sent GOAWAY (their running streams finish). send() does the same
  // lazily for the connections of the key it is asked for.
  void drainOlderThan(uint64_t bundleGeneration);
  // Upgrades: every pooled connection not told yet is sent GOAWAY; its running
  // streams finish and it leaves the pool as it closes. How many were told.
  size_t goAwayAll();

 private:
  Result<std::shared_ptr<H2Connection>> dial(const Dial& d);

  io::EventLoop& loop_;
  H2Options options_;
  std::map<PoolKey, std::vector<std::shared_ptr<H2Connection>>> pools_;
  PoolCounters counters_;
};

// What a server with a pool (the tunnel, the waypoint) does when SIGHUP has read
// trust bundle `generation`: GOAWAY on its pooled connections and on its inbound
// ones (by connection id) that were verified against an older bundle.
void goAwayOnOlderTrustBundle(Pool& pool, const std::map<uint64_t, std::shared_ptr<H2Connection>>& inbound,
                              uint64_t generation);

}  // namespace warren::hbone
