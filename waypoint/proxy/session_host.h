#pragma once
// What every downstream session at the waypoint shares: the outcome reported per
// request, the host seam to the waypoint, the options, and the interface the
// waypoint holds each session by (HTTP/1.1, HTTP/2, or one still being sniffed).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "io/byte_stream.h"
#include "io/event_loop.h"
#include "jwt/jwks.h"
#include "jwt/verified_cache.h"
#include "waypoint/proxy/request_plan.h"

namespace warren::waypoint {

class H2UpstreamPool;

// Everything known about one request when it ends, for metrics and the access log.
struct RequestOutcome {
  StreamFacts stream;
  std::string method, path, authority, userAgent, requestId;
  std::string protocol = "http";         // Istio's request_protocol: "http" or "grpc"
  std::string httpVersion = "HTTP/1.1";  // the downstream's (Envoy's %PROTOCOL%)
  RequestPlan plan;
  int status = 0;                 // sent downstream; 0 when the connection ended first
  std::optional<int> grpcStatus;  // gRPC requests: the grpc-status that ended the call
  std::string responseFlags;      // Envoy's: "-", "RBAC", "UH", "UF", "UC", "UPE", "DPE", "DR", "DC"
  uint64_t requestBytes = 0, responseBytes = 0;
  std::chrono::system_clock::time_point start;
  std::chrono::steady_clock::duration duration{};
  std::string upstreamHost;
};

// What a session needs from the waypoint (the seam for tests).
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual io::EventLoop& loop() = 0;
  virtual state::ClusterStatePtr currentState() = 0;
  virtual const Self& self() const = 0;
  virtual uint64_t nextPick(const sockaddr_storage& destination) = 0;
  // A byte stream to the route's upstream (HBONE stream or plain TCP). `done` runs
  // later on the loop, never from inside openUpstream.
  virtual void openUpstream(const proxy::OutboundRoute& route, std::function<void(Result<io::ByteStreamPtr>)> done) = 0;
  virtual void requestDone(const RequestOutcome& outcome) = 0;
  // JWKS of RequestAuthentication jwksUris: the current set (nullptr: none yet),
  // never blocking; and a fetch now, whose `done` runs later on the loop (also when
  // the fetch failed: the request is then judged with what there is).
  virtual std::shared_ptr<const jwt::KeySet> jwks(const std::string& uri) = 0;
  virtual void refreshJwks(const std::string& uri, std::chrono::milliseconds timeout, std::function<void()> done) = 0;
  // The HTTP/2 upstream connections all sessions share (h2_upstream_pool.h).
  virtual H2UpstreamPool& h2Pool() = 0;
  // Tokens already verified (nullptr: verify every one).
  virtual jwt::VerifiedTokenCache* verifiedTokens() { return nullptr; }
  virtual void sessionClosed(uint64_t id) = 0;
};

struct SessionOptions {
  std::chrono::milliseconds headTimeout{10000};   // a request head must be complete this soon (slowloris)
  std::chrono::milliseconds idleTimeout{300000};  // no bytes either way this long: closed
  // After an HTTP/1.1 client's FIN the session only delivers answers; one that is
  // gone without a reset (its host vanished) is noticed at a write that cannot
  // complete, or never: once no byte has moved (none taken by the client, none from
  // the upstream) this long, the session ends.
  std::chrono::milliseconds halfClosedTimeout{15000};
  size_t bufferBytes = 256u << 10;  // per direction: reading stops above this
  // HTTP/2 (h2c with prior knowledge inside the HBONE stream).
  uint32_t h2MaxConcurrentStreams = 100;
  uint32_t h2StreamWindow = 1u << 20;      // SETTINGS_INITIAL_WINDOW_SIZE
  uint32_t h2ConnectionWindow = 4u << 20;  // the connection's receive window
  uint32_t h2MaxHeaderListBytes = 64u << 10;
  size_t h2MaxHeaders = 100;                      // Envoy's max_headers_count
  uint64_t h2ResetBurst = 200, h2ResetRate = 33;  // RST_STREAM token bucket (rapid reset)
  size_t idleUpstreams = 8;                       // HTTP/1.1 upstreams a session keeps idle between requests
};

// A downstream session as the waypoint holds it.
class Session {
 public:
  virtual ~Session() = default;
  // Ends the session now (waypoint shutdown).
  virtual void abort() = 0;
};

}  // namespace warren::waypoint
