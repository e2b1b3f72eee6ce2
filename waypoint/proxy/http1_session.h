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
#include "io/byte_stream.h"
#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/request_plan.h"
#include "waypoint/proxy/session_host.h"
#include "io/event_loop.h"

namespace warren::waypoint {

class Http1Session : public Session, public std::enable_shared_from_this<Http1Session> {
 public:
  // `initial`: bytes already read from the stream (protocol sniffing), parsed first.
  static std::shared_ptr<Http1Session> start(SessionHost& host, uint64_t id, StreamFacts stream,
                                             io::ByteStreamPtr downstream, SessionOptions options, std::string initial = {});
  ~Http1Session() override;
  void abort() override;
  uint64_t id() const { return id_; }

 private:
  // Draining: the last answer is sent and our side shut; the rest of what the
  // client sends is read and dropped for a moment, so that closing on unread bytes
  // does not reset the connection and lose that answer (a lingering close).
  enum class Phase { Head, Judging, ForwardBody, DiscardBody, AwaitResponse, Closing, Draining, Closed };
  Http1Session(SessionHost& host, uint64_t id, StreamFacts stream, io::ByteStreamPtr downstream, SessionOptions options);

  void onDownstream(uint32_t events);
  void onUpstream(uint32_t events);
  void processRequests();
  void onRequestHead();
  void onJudged(RequestPlan plan, const http1::MessageHead& head);
  void processResponse();
  void upstreamEnded();
  void reject(int status, const std::string& body, const std::string& flags, bool close,
              const http1::HeaderList& extraHeaders = {});
  void finishRequest(int status);
  void closeAfterFlush();
  void startDrain();
  bool flush(io::ByteStream& stream, std::string& out, size_t& head);
  void updateInterest();
  void armHeadTimer();
  void touch();
  void closeUpstream();
  void finish();

  SessionHost& host_;
  uint64_t id_;
  StreamFacts stream_;
  SessionOptions options_;
  io::ByteStreamPtr down_, up_;
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
  bool judgingInline_ = false;  // judgeRequest is answering inside onRequestHead
  uint64_t requestConsumed_ = 0;  // bytes of the current request the parser has taken
  uint64_t headTimer_ = 0, idleTimer_ = 0, drainTimer_ = 0;
  std::chrono::steady_clock::time_point lastActivity_;
};

}  // namespace warren::waypoint
