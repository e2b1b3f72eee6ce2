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
//
// Each request goes to the endpoint its plan chose (requests on one connection
// are spread over a service's endpoints as any others), and the access log's
// upstream_host names the connection it went on.
//
// A client that half-closes (sends its requests, then FIN) still gets every
// request it completed answered, pipelined ones too, in order; the session ends
// after the last answer. A reset, or a request cut short by the FIN, ends it at once.
// After the FIN, nothing moving to the client or from the upstream for
// SessionOptions::halfClosedTimeout (15 s) ends it too: a client that vanished
// without a reset is not waited for until the 300 s idle timeout.
//
// Upstream protocol by the destination port (state::upstreamSpeaksHttp2, as
// Envoy/Istio): HTTP/1.1 for `http` and undeclared ports, an upstream byte
// stream per endpoint kept across the connection's requests (IdleUpstreams for
// the ones not in use); HTTP/2 (h2c with prior
// knowledge) for ports declared `http2` or `grpc`, each request a stream on the
// waypoint's shared H2UpstreamPool, its response translated back to HTTP/1.1
// (h1_h2_translate.h): length as the upstream stated it, else chunked. Response
// trailers, from either upstream, go to the client as chunked trailers whenever
// its response is chunked (lastChunkWithTrailers, as Envoy). A chunked
// request's trailers go upstream (forwardableTrailers): as chunked trailers, or
// as the HTTP/2 stream's trailers HEADERS frame (gRPC over HTTP/1.1).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "io/byte_stream.h"
#include "io/event_loop.h"
#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/h2_upstream.h"
#include "waypoint/proxy/h2_upstream_pool.h"
#include "waypoint/proxy/idle_upstreams.h"
#include "waypoint/proxy/request_plan.h"
#include "waypoint/proxy/session_host.h"

namespace warren::waypoint {

class Http1Session : public Session, public std::enable_shared_from_this<Http1Session>, private H2Upstream::Sink {
 public:
  // `initial`: bytes already read from the stream (protocol sniffing), parsed first.
  static std::shared_ptr<Http1Session> start(SessionHost& host, uint64_t id, StreamFacts stream,
                                             io::ByteStreamPtr downstream, SessionOptions options,
                                             std::string initial = {});
  ~Http1Session() override;
  void abort() override;
  uint64_t id() const { return id_; }

 private:
  // Draining: the last answer is sent and our side shut; the rest of what the
  // client sends is read and dropped for a moment, so that closing on unread bytes
  // does not reset the connection and lose that answer (a lingering close).
  enum class Phase { Head, Judging, ForwardBody, DiscardBody, AwaitResponse, Closing, Draining, Closed };
  Http1Session(SessionHost& host, uint64_t id, StreamFacts stream, io::ByteStreamPtr downstream,
               SessionOptions options);

  void onDownstream(uint32_t events);
  void onUpstream(uint32_t events);
  void processRequests();
  void clientEnded();
  void useUpstream(const proxy::OutboundRoute& route);
  bool attachUpstream(io::ByteStreamPtr up);
  void onRequestHead();
  void onJudged(RequestPlan plan, const http1::MessageHead& head);
  void processResponse();
  void endResponseBody(const http1::HeaderList& trailers);
  void upstreamLost();
  void reject(int status, const std::string& body, const std::string& flags, bool close,
              const http1::HeaderList& extraHeaders = {});
  void finishRequest(int status);
  void closeAfterFlush();
  void startDrain();
  bool flush(io::ByteStream& stream, std::string& out, size_t& head);
  void updateInterest();
  void armHeadTimer();
  void touch();
  std::chrono::milliseconds idleLimit() const;  // the idle timeout, or the half-closed one after the client's FIN
  void armIdleTimer(std::chrono::steady_clock::duration in);
  void closeUpstream();
  void finish();
  size_t upstreamBacklog() const { return upOut_.size() - upOutHead_ + h2Unsent_; }

  // HTTP/2 upstream.
  void forwardOverH2(const http1::MessageHead& h, const RequestPlan& plan);
  void sendH2Body(std::string_view data);
  void reportConsumed();
  void endH2Stream(bool responseEnded);
  bool mine(int32_t key) const { return key == h2Key_ && h2Id_ != 0 && phase_ != Phase::Closed; }
  // H2Upstream::Sink: events of the request in flight (key h2Key_).
  void upstreamHeaders(int32_t key, int status, http1::HeaderList fields, bool endStream) override;
  void upstreamData(int32_t key, const uint8_t* data, size_t len) override;
  void upstreamTrailers(int32_t key, http1::HeaderList trailers) override;
  void upstreamEnded(int32_t key) override;
  void upstreamFailed(int32_t key, const std::string& why, bool beforeHeaders) override;
  void requestBodyTaken(int32_t key, size_t n) override;
  void afterUpstreamEvent() override;

  SessionHost& host_;
  uint64_t id_;
  StreamFacts stream_;
  SessionOptions options_;
  io::ByteStreamPtr down_, up_;
  // up_'s endpoint (upstreamKey) and its address for the access log; the
  // connect in progress is number upConnect_ (a late one for another key is kept idle).
  std::string upKey_, upHost_;
  uint64_t upConnect_ = 0;
  IdleUpstreams idleUp_;
  bool upConnecting_ = false;
  bool downEof_ = false;  // the client's FIN (or reset) has been read
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
  bool judgingInline_ = false;    // judgeRequest is answering inside onRequestHead
  uint64_t requestConsumed_ = 0;  // bytes of the current request the parser has taken
  uint64_t headTimer_ = 0, idleTimer_ = 0, drainTimer_ = 0;
  std::chrono::steady_clock::time_point lastActivity_;
  // HTTP/2 upstream (host_.h2Pool()): the request in flight is stream h2Id_ (0: none) on h2_,
  // known to the sink as h2Key_ (one per request, so a late event of an earlier
  // one is never taken for it).
  std::shared_ptr<H2Upstream> h2_;
  int32_t h2Id_ = 0, h2Key_ = 0;  // h2Id_ -1: being submitted
  bool h2RequestOpen_ = false;    // request body still going upstream
  bool responseBodyless_ = false, http10Client_ = false;
  uint64_t h2Unsent_ = 0;      // request body given to h2_, not yet taken by the upstream
  uint64_t h2Unconsumed_ = 0;  // response body in downOut_, not yet reported to h2_ as consumed
  http1::HeaderList h2Trailers_;
};

}  // namespace warren::waypoint
