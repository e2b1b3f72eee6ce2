#pragma once
// One HTTP/1.1 connection inside an HBONE CONNECT stream at the waypoint. The
// stream's bytes arrive on a socketpair end (the HBONE layer bridges the other
// end, exactly as the tunnel bridges an app socket), so the HTTP/2 and TLS code
// is shared unchanged with the tunnel.
//
// Requests are judged one at a time, at their head, before any of the body is
// read: a pipelined second request is not parsed until the first's response is
// complete, so every request on a keep-alive connection meets the policy on its
// own. Allowed requests go upstream with a head re-serialised from what was
// parsed (never the bytes received), so the upstream parses what was judged.
// A denied request gets 403 "RBAC: access denied" and never reaches the upstream.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/request_plan.h"
#include "ztunnel/io/event_loop.h"

namespace warren::waypoint {

// Everything known about one request when it ends, for metrics and the access log.
struct RequestOutcome {
  StreamFacts stream;
  std::string method, path, authority, userAgent, requestId;
  std::string protocol = "http1";  // "http1" | "h2": the downstream codec
  bool grpc = false;                // content-type application/grpc*: Istio's request_protocol "grpc"
  RequestPlan plan;
  int status = 0;            // sent downstream; 0 when the connection ended first
  std::string responseFlags;  // Envoy's: "-", "RBAC", "UH", "UF", "UC", "DPE"
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
  virtual void openUpstream(const proxy::OutboundRoute& route, std::function<void(Result<UniqueFd>)> done) = 0;
  virtual void requestDone(const RequestOutcome& outcome) = 0;
  virtual void sessionClosed(uint64_t id) = 0;
};

struct SessionOptions {
  std::chrono::milliseconds headTimeout{10000};   // a request head must be complete this soon (slowloris)
  std::chrono::milliseconds idleTimeout{300000};  // no bytes either way this long: closed
  size_t bufferBytes = 256u << 10;                // per direction: reading stops above this
};

class Http1Session : public std::enable_shared_from_this<Http1Session> {
 public:
  static std::shared_ptr<Http1Session> start(SessionHost& host, uint64_t id, StreamFacts stream,
                                             UniqueFd downstream, SessionOptions options);
  ~Http1Session();
  // Ends the session now (waypoint shutdown).
  void abort();
  uint64_t id() const { return id_; }

 private:
  enum class Phase { Head, ForwardBody, DiscardBody, AwaitResponse, Closing, Closed };
  Http1Session(SessionHost& host, uint64_t id, StreamFacts stream, UniqueFd downstream, SessionOptions options);

  void onDownstream(uint32_t events);
  void onUpstream(uint32_t events);
  void processRequests();
  void onRequestHead();
  void processResponse();
  void upstreamEnded();
  void reject(int status, const std::string& body, const std::string& flags, bool close);
  void finishRequest(int status);
  void closeAfterFlush();
  bool flush(int fd, std::string& out, size_t& head);
  void updateInterest();
  void armHeadTimer();
  void touch();
  void closeUpstream();
  void finish();

  SessionHost& host_;
  uint64_t id_;
  StreamFacts stream_;
  SessionOptions options_;
  UniqueFd down_, up_;
  bool upConnecting_ = false, downEof_ = false;
  uint32_t downEvents_ = 0, upEvents_ = 0;
  Phase phase_ = Phase::Head;
  http1::Parser requests_{http1::Parser::Kind::Request};
  std::unique_ptr<http1::Parser> responses_;
  std::string downIn_, downOut_, upIn_, upOut_;
  size_t downInHead_ = 0, downOutHead_ = 0, upInHead_ = 0, upOutHead_ = 0;
  // The request in flight.
  RequestOutcome current_;
  std::chrono::steady_clock::time_point startedAt_;
  bool requestChunked_ = false, responseChunked_ = false, responseCloseDelimited_ = false;
  bool keepAlive_ = true, responseStarted_ = false, rejected_ = false;
  uint64_t headTimer_ = 0, idleTimer_ = 0;
  std::chrono::steady_clock::time_point lastActivity_;
};

}  // namespace warren::waypoint
