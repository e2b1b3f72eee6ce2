#pragma once
// The waypoint's data path (Istio's waypoint, in Warren's libraries): accepts HBONE
// on 15008 with its own SPIFFE identity (TLS 1.3 mTLS, the tunnel's H2Connection),
// checks each CONNECT is for a destination bound to it, bridges the stream to a
// socketpair and runs an HTTP session on the other end (HTTP/2 when the client
// opens with the h2 preface, else HTTP/1.1), which judges every request (L7
// AuthorizationPolicy) and forwards the allowed ones upstream over
// HBONE as the waypoint's own identity (the tunnel's Pool). Loop thread only,
// except counters().

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "hbone/h2_connection.h"
#include "hbone/inbound_admission.h"
#include "hbone/inbound_limits.h"
#include "hbone/pool.h"
#include "identity/identity_manager.h"
#include "io/connection_slots.h"
#include "io/event_loop.h"
#include "state/cluster_state.h"
#include "tls/tls_context.h"
#include "waypoint/proxy/h2_session.h"
#include "waypoint/proxy/h2_upstream_pool.h"
#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/jwks_provider.h"
#include "waypoint/proxy/session_sniffer.h"

namespace warren::waypoint {

struct WaypointOptions {
  Self self;
  identity::SpiffeId identity;  // the waypoint's own (its service account)
  hbone::H2Options h2;
  SessionOptions session;
  std::chrono::milliseconds connectTimeout{5000};
  // The key sets of jwksUris; nullptr: none can be fetched (their tokens get 401).
  // Must outlive the server.
  JwksProvider* jwks = nullptr;
  // Tokens whose signatures were checked, remembered (0: check every request's).
  size_t verifiedTokenCapacity = jwt::VerifiedTokenCache::kDefaultCapacity;
  // HBONE connections on 15008, admitted on arrival before any TLS work, as the
  // tunnel's (hbone/inbound_limits.h). Resolved: main turns --hbone-max-inbound 0
  // into half the fd limit.
  io::SlotLimits hboneInbound{.total = 512, .perSource = hbone::kDefaultMaxInboundPerSource};
};

struct WaypointCounters {
  std::atomic<uint64_t> connections{0}, streams{0}, badStreams{0}, requests{0}, denied{0}, upstreamFailures{0};
  std::atomic<uint64_t> http1Sessions{0}, http2Sessions{0};
  std::atomic<uint64_t> identityRefusals{0};
  std::atomic<uint64_t> unauthenticated{0};  // answered 401 (RequestAuthentication)
  // HBONE connections reset on arrival: over the total cap, or over their source's.
  hbone::InboundRefusals hboneInboundRefused;
};

class WaypointServer : public SessionHost {
 public:
  WaypointServer(io::EventLoop& loop, identity::IdentityManager& identity, const state::StateStore& state,
                 WaypointOptions options, std::function<void(const RequestOutcome&)> onRequest);
  ~WaypointServer() override;

  // A freshly accepted TCP connection on 15008.
  void accept(UniqueFd client);
  void closeAll();
  // The trust bundle is now `generation` (SIGHUP): HBONE connections, inbound and
  // pooled, verified against an older one are sent GOAWAY (as the tunnel does).
  void trustBundleChanged(uint64_t generation);
  const WaypointCounters& counters() const { return counters_; }
  size_t sessionCount() const { return sessions_.size(); }
  size_t inboundConnections() const { return inbound_.size(); }
  jwt::VerifiedTokenCache::Stats verifiedTokenStats() const { return verified_.stats(); }

  // SessionHost
  io::EventLoop& loop() override { return loop_; }
  state::ClusterStatePtr currentState() override { return state_.get(); }
  const Self& self() const override { return options_.self; }
  uint64_t nextPick(const sockaddr_storage& destination) override;
  void openUpstream(const proxy::OutboundRoute& route, std::function<void(Result<io::ByteStreamPtr>)> done) override;
  void requestDone(const RequestOutcome& outcome) override;
  std::shared_ptr<const jwt::KeySet> jwks(const std::string& uri) override;
  void refreshJwks(const std::string& uri, std::chrono::milliseconds timeout, std::function<void()> done) override;
  void sessionClosed(uint64_t id) override;
  jwt::VerifiedTokenCache* verifiedTokens() override { return &verified_; }
  H2UpstreamPool& h2Pool() override { return h2Pool_; }

 private:
  void onStream(hbone::H2Connection& conn, int32_t id, const hbone::Headers& request, const std::string& peerIp);

  io::EventLoop& loop_;
  identity::IdentityManager& identity_;
  const state::StateStore& state_;
  WaypointOptions options_;
  std::function<void(const RequestOutcome&)> onRequest_;
  WaypointCounters counters_;
  jwt::VerifiedTokenCache verified_;
  tls::TlsContextCache tlsCache_;
  hbone::Pool pool_;
  H2UpstreamPool h2Pool_;  // before sessions_: they forget it as they go
  std::map<uint64_t, std::shared_ptr<hbone::H2Connection>> inbound_;
  std::shared_ptr<io::ConnectionSlots> hboneSlots_;        // inbound_ connections, by source, held by their leases
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;  // sniffing, HTTP/1.1 or HTTP/2
  uint64_t nextSession_ = 1;
  std::map<std::string, uint64_t> roundRobin_;
};

}  // namespace warren::waypoint
