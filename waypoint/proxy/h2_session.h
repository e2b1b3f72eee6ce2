#pragma once
// One HTTP/2 connection (h2c, prior knowledge) inside an HBONE CONNECT stream at
// the waypoint: an nghttp2 server session over our socketpair end, driven by the
// event loop with mem_recv/mem_send (the tunnel's H2Connection does the same over
// TLS; here there is none, HBONE already carried the bytes over mTLS).
//
// Every request stream is judged at the end of its headers, before any of its
// DATA is forwarded: denied streams get 403 "RBAC: access denied" (a gRPC request
// a trailers-only grpc-status 7, grpc_reply.h) and never reach an upstream.
// Allowed ones go upstream in the HTTP version the destination port calls for
// (state::upstreamSpeaksHttp2: gRPC and HTTP/2 ports, and undeclared ones, since
// the client speaks HTTP/2):
//  - HTTP/2: multiplexed on one H2Upstream per upstream (h2_upstream.h), trailers
//    and streaming both ways relayed, as gRPC needs;
//  - HTTP/1.1 (`http` ports): one upstream byte stream per request at a time, a
//    head serialised from the judged values, the response parsed (http1::Parser)
//    and relayed as HEADERS + DATA (+ trailers, from a chunked body's trailer
//    section); upstreams whose response ended cleanly are kept
//    for the session's next requests.
// Both under HTTP/2 flow control end to end. RST_STREAM from the client drops that stream's upstream at once,
// and one that came in the same read as the request's headers means no upstream
// is ever opened (rapid reset); nghttp2's reset rate limit ends a connection
// that resets too fast. Protocol errors: GOAWAY, then the connection closes.

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/byte_stream.h"
#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/h1_h2_translate.h"
#include "waypoint/proxy/h2_upstream.h"
#include "waypoint/proxy/h2_upstream_pool.h"
#include "waypoint/proxy/idle_upstreams.h"
#include "waypoint/proxy/request_plan.h"
#include "waypoint/proxy/session_host.h"

namespace warren::waypoint {

// The HTTP/1.1 request head for an HTTP/2 request's header block (pseudo-headers
// and regular fields as received, names lower-case). Cookie crumbs are joined
// with "; " (RFC 9113 8.2.3); :authority wins over Host. `endStream`: the
// HEADERS frame ended the request (no body follows). nullopt with `why` when the
// head cannot be forwarded as HTTP/1.1 (CONNECT: 501; no authority: 400).
struct H2RequestHead {
  http1::MessageHead head;
  bool teTrailers = false;  // "te: trailers": passed on to an HTTP/2 upstream (gRPC servers want it)
  int errorStatus = 0;
  std::string why;
};
H2RequestHead h2RequestHead(const http1::HeaderList& pseudo, const http1::HeaderList& fields, bool endStream);

// Istio's request_protocol: "grpc" for content-type application/grpc*, else "http".
std::string requestProtocol(const http1::HeaderList& fields);

class H2Session : public Session, public std::enable_shared_from_this<H2Session>, private H2Upstream::Sink {
 public:
  // `initial`: bytes already read from the stream (at least the preface).
  static std::shared_ptr<H2Session> start(SessionHost& host, uint64_t id, StreamFacts stream,
                                          io::ByteStreamPtr downstream, SessionOptions options, std::string initial);
  ~H2Session() override;
  void abort() override;
  uint64_t id() const { return id_; }

 private:
  struct Stream;
  friend struct H2SessionCallbacks;

  H2Session(SessionHost& host, uint64_t id, StreamFacts stream, io::ByteStreamPtr downstream, SessionOptions options);
  Status startNghttp2();

  // Downstream: the client's connection.
  void onDownstream(uint32_t events);
  bool receive(const char* data, size_t len);
  void pump();
  bool flushDown();
  void updateDownInterest();
  void afterEvent();

  // nghttp2 callbacks.
  int onBeginHeaders(const nghttp2_frame* frame);
  int onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int onFrameRecv(const nghttp2_frame* frame);
  int onFrameSend(const nghttp2_frame* frame);
  int onDataChunk(int32_t id, const uint8_t* data, size_t len);
  int onStreamClose(int32_t id, uint32_t code);
  ssize_t readBody(int32_t id, uint8_t* buf, size_t len, uint32_t* flags);

  // Requests.
  Stream* find(int32_t id);
  void judge(Stream& s, bool endStream);
  void onJudged(Stream& s, RequestPlan plan, const http1::MessageHead& head);
  void requestEnded(Stream& s);
  void respondLocal(Stream& s, int status, const std::string& body, const std::string& flags,
                    const http1::HeaderList& extraHeaders = {});
  void submitResponse(Stream& s, int status, const http1::HeaderList& fields, bool bodyless);
  void resetStream(Stream& s, uint32_t code, const std::string& flags);
  void report(Stream& s);

  // Upstreams.
  void openUpstreams();
  void openH2Upstream(Stream& s);

  // H2Upstream::Sink: the HTTP/2 upstreams' events, by downstream stream id.
  void upstreamHeaders(int32_t key, int status, http1::HeaderList fields, bool endStream) override;
  void upstreamData(int32_t key, const uint8_t* data, size_t len) override;
  void upstreamTrailers(int32_t key, http1::HeaderList trailers) override;
  void takeResponseTrailers(Stream& s, const http1::HeaderList& trailers);
  void upstreamEnded(int32_t key) override;
  void upstreamFailed(int32_t key, const std::string& why, bool beforeHeaders) override;
  void requestBodyTaken(int32_t key, size_t n) override;
  void afterUpstreamEvent() override;
  void attachUpstream(int32_t id, io::ByteStreamPtr fd);
  void onUpstream(int32_t id, uint32_t events);
  bool flushUp(Stream& s);
  void processUpstream(Stream& s);
  void upstreamEof(Stream& s);
  void releaseUpstream(Stream& s, bool reusable);
  void updateUpInterest(Stream& s);

  void touch();
  void finish(const std::string& why);

  SessionHost& host_;
  uint64_t id_;
  StreamFacts stream_;
  SessionOptions options_;
  io::ByteStreamPtr down_;
  uint32_t downEvents_ = 0;
  nghttp2_session* h2_ = nullptr;
  std::string downOut_;
  size_t downOutHead_ = 0;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<int32_t> toOpen_;  // judged and allowed during this read: upstreams opened after it
  IdleUpstreams idle_;           // HTTP/1.1 upstreams between requests
  bool closed_ = false, goingAway_ = false;
  bool judgingInline_ = false;  // judgeRequest is answering inside judge()
  uint64_t idleTimer_ = 0;
  std::chrono::steady_clock::time_point lastActivity_;
};

}  // namespace warren::waypoint
