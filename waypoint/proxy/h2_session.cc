#include "waypoint/proxy/h2_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <spdlog/spdlog.h>

#include "io/tcp.h"
#include "waypoint/proxy/grpc_reply.h"
#include "waypoint/proxy/request_judge.h"

namespace warren::waypoint {

using Event = http1::Parser::Event;

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxReadsPerEvent = 4;
constexpr size_t kDownOutHighWater = 64 * 1024;

bool lowerEquals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

nghttp2_nv makeNv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

std::string requestProtocol(const http1::HeaderList& fields) {
  for (const auto& [n, v] : fields)
    if (n == "content-type") return v.rfind("application/grpc", 0) == 0 ? "grpc" : "http";
  return "http";
}

H2RequestHead h2RequestHead(const http1::HeaderList& pseudo, const http1::HeaderList& fields, bool endStream) {
  H2RequestHead r;
  http1::MessageHead& h = r.head;
  h.versionMajor = 2;
  h.versionMinor = 0;
  std::string authority, host, cookie;
  bool extendedConnect = false;
  for (const auto& [n, v] : pseudo) {
    if (n == ":method")
      h.method = v;
    else if (n == ":path")
      h.target = v;
    else if (n == ":authority")
      authority = v;
    else if (n == ":protocol")
      extendedConnect = true;
  }
  for (const auto& [n, v] : fields) {
    if (n == "cookie") {
      if (!cookie.empty()) cookie += "; ";
      cookie += v;
    } else if (n == "host") {
      if (host.empty()) host = v;
    } else if (n == "te") {
      // "trailers" at most (nghttp2 checks): hop-by-hop; an HTTP/2 upstream gets it again.
      if (lowerEquals(v, "trailers")) r.teTrailers = true;
    } else if (n == "expect" && lowerEquals(v, "100-continue")) {
      // Answered by HTTP/2 flow control itself; the upstream never waits for it.
    } else {
      if (n == "content-length") {
        uint64_t len = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
        if (ec == std::errc() && end == v.data() + v.size()) h.contentLength = len;
      }
      h.headers.emplace_back(n, v);
    }
  }
  if (!cookie.empty()) h.headers.emplace_back("cookie", cookie);
  h.host = authority.empty() ? host : authority;  // RFC 9113 8.3.1: :authority wins
  auto fail = [&](int status, std::string why) {
    r.errorStatus = status;
    r.why = std::move(why);
    return r;
  };
  if (h.method == "CONNECT" || extendedConnect) return fail(501, "CONNECT inside HTTP/2 is not proxied");
  if (h.method.empty() || h.target.empty()) return fail(400, "no :method or :path");
  if (h.host.empty()) return fail(400, "no :authority or host");
  h.path = h.target.substr(0, h.target.find('?'));
  if (!endStream && !h.contentLength) {
    h.chunked = true;  // a body of unknown length follows in DATA
  } else if (endStream && !h.contentLength && h.method != "GET" && h.method != "HEAD" && h.method != "DELETE" &&
             h.method != "OPTIONS" && h.method != "TRACE") {
    h.contentLength = 0;  // an empty POST/PUT is stated as such to an HTTP/1.1 upstream
  }
  h.keepAlive = true;
  return r;
}

// ---- one request stream ------------------------------------------------------

struct H2Session::Stream {
  int32_t id = 0;
  // The request as received.
  http1::HeaderList pseudo, fields;
  size_t headerBytes = 0;
  bool headersTooLarge = false;
  bool judged = false, endReceived = false;
  bool judging = false;  // waiting for judgeRequest (a JWKS fetch): DATA is held, not forwarded
  RequestOutcome outcome;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool reported = false;
  // Upstream (allowed requests): wanted from the verdict until released.
  bool wantUp = false, upDone = false;
  std::string upKey;
  io::ByteStreamPtr up;
  uint32_t upEvents = 0;
  bool chunked = false;
  // Before the upstream has it: the request head (HTTP/1.1) and any DATA, framed
  // as the upstream wants it (chunked for HTTP/1.1 without a length; raw while
  // judging, and for HTTP/2).
  std::string upOut;
  size_t upOutHead = 0;
  uint64_t unconsumed = 0;  // request DATA received but not yet given back to the client's window
  std::string upIn;
  std::unique_ptr<http1::Parser> parser;
  bool keepAlive = true, closeDelimited = false;
  // HTTP/2 upstream: the connection, our stream on it (0: not yet, or over), the
  // request as sent, and response bytes received but not yet taken by the client.
  bool viaH2 = false, teTrailers = false;
  std::shared_ptr<H2Upstream> h2;
  int32_t upId = 0;
  H2UpstreamRequest h2Request;
  http1::HeaderList requestTrailers, responseTrailers;
  uint64_t upUnconsumed = 0;
  // The response.
  bool responseSubmitted = false;
  std::string body;
  size_t bodyHead = 0;
  bool bodyDone = false, deferred = false;
  size_t bodyPending() const { return body.size() - bodyHead; }
  size_t upOutPending() const { return upOut.size() - upOutHead; }
};

struct H2SessionCallbacks {
  static H2Session* self(void* u) { return static_cast<H2Session*>(u); }
  static int beginHeaders(nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->onBeginHeaders(f); }
  static int header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nameLen, const uint8_t* value,
                    size_t valueLen, uint8_t, void* u) {
    return self(u)->onHeader(f, {reinterpret_cast<const char*>(name), nameLen},
                             {reinterpret_cast<const char*>(value), valueLen});
  }
  static int frameRecv(nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->onFrameRecv(f); }
  static int frameSend(nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->onFrameSend(f); }
  static int dataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
    return self(u)->onDataChunk(id, data, len);
  }
  static int streamClose(nghttp2_session*, int32_t id, uint32_t code, void* u) {
    return self(u)->onStreamClose(id, code);
  }
  static ssize_t readBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags, nghttp2_data_source*,
                          void* u) {
    return self(u)->readBody(id, buf, len, flags);
  }
};

// ---- lifecycle -----------------------------------------------------------------

std::shared_ptr<H2Session> H2Session::start(SessionHost& host, uint64_t id, StreamFacts stream,
                                            io::ByteStreamPtr downstream, SessionOptions options, std::string initial) {
  auto s = std::shared_ptr<H2Session>(new H2Session(host, id, std::move(stream), std::move(downstream), options));
  std::weak_ptr<H2Session> weak = s;
  if (auto st = s->startNghttp2(); !st) {
    spdlog::error("waypoint session {}: {}", id, st.error().message);
    host.loop().post([weak] {
      if (auto self = weak.lock()) self->finish("nghttp2 setup failed");
    });
    return s;
  }
  s->downEvents_ = EPOLLIN | EPOLLOUT;  // our SETTINGS go out at once
  if (auto st = s->down_->watch(s->downEvents_,
                                [weak](uint32_t ev) {
                                  if (auto self = weak.lock()) self->onDownstream(ev);
                                });
      !st) {
    spdlog::error("waypoint session {}: cannot watch the stream: {}", id, st.error().message);
    s->downEvents_ = 0;
    host.loop().post([weak] {
      if (auto self = weak.lock()) self->finish("cannot watch the stream");
    });
    return s;
  }
  s->touch();
  // The preface (and whatever came with it) now, before any later byte the socket
  // reports: nghttp2 must see them in order. Safe from inside the caller: the host
  // defers both openUpstream's answer and sessionClosed.
  if (s->receive(initial.data(), initial.size())) s->afterEvent();
  return s;
}

H2Session::H2Session(SessionHost& host, uint64_t id, StreamFacts stream, io::ByteStreamPtr downstream,
                     SessionOptions options)
    : host_(host),
      id_(id),
      stream_(std::move(stream)),
      options_(options),
      down_(std::move(downstream)),
      idle_(options.idleUpstreams) {}

H2Session::~H2Session() {
  if (idleTimer_) host_.loop().cancelTimer(idleTimer_);
  if (down_ && downEvents_) down_->unwatch();
  for (auto& [id, s] : streams_)
    if (s->up && s->upEvents) s->up->unwatch();
  idle_.clear();
  host_.h2Pool().forget(*this);
  if (h2_) nghttp2_session_del(h2_);
}

Status H2Session::startNghttp2() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return makeError("out of memory (nghttp2 callbacks)");
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2SessionCallbacks::beginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2SessionCallbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2SessionCallbacks::frameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, H2SessionCallbacks::frameSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2SessionCallbacks::dataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2SessionCallbacks::streamClose);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return makeError("out of memory (nghttp2 options)");
  }
  // Window updates are ours: request bytes count as taken once the upstream took them.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_settings(opt, 32);       // entries per SETTINGS frame
  nghttp2_option_set_max_outbound_ack(opt, 100);  // SETTINGS/PING acks queued for a client that does not read
  nghttp2_option_set_max_continuations(opt, 8);   // CONTINUATION flood
  nghttp2_option_set_stream_reset_rate_limit(opt, options_.h2ResetBurst, options_.h2ResetRate);  // rapid reset
  int rv = nghttp2_session_server_new2(&h2_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return makeError(std::string("nghttp2 session: ") + nghttp2_strerror(rv));
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.h2MaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.h2StreamWindow},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options_.h2MaxHeaderListBytes},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  rv = nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv == 0)
    rv = nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(options_.h2ConnectionWindow));
  if (rv != 0) return makeError(std::string("nghttp2 settings: ") + nghttp2_strerror(rv));
  return okStatus();
}

void H2Session::abort() {
  if (closed_) return;
  if (down_) down_->resetOnClose();
  finish("waypoint shutting down");
}

void H2Session::finish(const std::string& why) {
  if (closed_) return;
  auto keep = shared_from_this();
  closed_ = true;
  spdlog::debug("waypoint session {} (h2): closed: {}", id_, why);
  for (auto& [id, s] : streams_) {
    releaseUpstream(*s, false);
    if (s->outcome.responseFlags.empty()) s->outcome.responseFlags = "DC";  // downstream connection ended
    report(*s);
  }
  streams_.clear();
  toOpen_.clear();
  idle_.clear();
  host_.h2Pool().forget(*this);
  if (down_) {
    if (downEvents_) down_->unwatch();
    downEvents_ = 0;
    down_.reset();
  }
  if (idleTimer_) host_.loop().cancelTimer(idleTimer_);
  idleTimer_ = 0;
  host_.sessionClosed(id_);
}

void H2Session::touch() {
  lastActivity_ = std::chrono::steady_clock::now();
  if (idleTimer_) return;
  std::weak_ptr<H2Session> weak = weak_from_this();
  idleTimer_ = host_.loop().addTimer(options_.idleTimeout, [weak] {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->idleTimer_ = 0;
    if (std::chrono::steady_clock::now() - self->lastActivity_ < self->options_.idleTimeout) return self->touch();
    // Idle: GOAWAY, then the connection closes once it is out.
    self->goingAway_ = true;
    nghttp2_session_terminate_session(self->h2_, NGHTTP2_NO_ERROR);
    self->afterEvent();
  });
}

// ---- downstream ---------------------------------------------------------------

void H2Session::onDownstream(uint32_t events) {
  if (closed_) return;
  auto keep = shared_from_this();
  touch();
  if ((events & EPOLLOUT) && !flushDown()) return finish("client write failed");
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (int i = 0; i < kMaxReadsPerEvent && downOut_.size() - downOutHead_ < options_.bufferBytes; ++i) {
      char buf[kReadChunk];
      ssize_t n = down_->read(buf, sizeof(buf));
      if (n > 0) {
        if (!receive(buf, static_cast<size_t>(n))) return;
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return finish(n == 0 ? "client closed the connection" : std::string("read: ") + std::strerror(errno));
    }
  }
  afterEvent();
}

bool H2Session::receive(const char* data, size_t len) {
  ssize_t rv = nghttp2_session_mem_recv(h2_, reinterpret_cast<const uint8_t*>(data), len);
  if (closed_) return false;
  if (rv < 0) {
    // Fatal to nghttp2 (bad preface, flood, ...): a GOAWAY if it queued one, then gone.
    spdlog::info("waypoint session {} (h2): {}", id_, nghttp2_strerror(static_cast<int>(rv)));
    pump();
    finish(std::string("HTTP/2: ") + nghttp2_strerror(static_cast<int>(rv)));
    return false;
  }
  // Streams judged in this read get their upstream now: one reset in the same read
  // (HEADERS then RST_STREAM) never costs an upstream.
  openUpstreams();
  return !closed_;
}

void H2Session::pump() {
  if (closed_ || !h2_) return;
  for (;;) {
    bool drained = false;
    while (downOut_.size() - downOutHead_ < kDownOutHighWater) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(h2_, &data);
      if (closed_) return;
      if (n < 0) return finish(std::string("HTTP/2 send: ") + nghttp2_strerror(static_cast<int>(n)));
      if (n == 0) {
        drained = true;
        break;
      }
      downOut_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (!flushDown()) return finish("client write failed");
    if (downOut_.size() > downOutHead_) return;  // the socket is full: EPOLLOUT resumes
    if (drained) return;
  }
}

bool H2Session::flushDown() {
  while (downOutHead_ < downOut_.size()) {
    ssize_t n = down_->send(downOut_.data() + downOutHead_, downOut_.size() - downOutHead_);
    if (n > 0) {
      downOutHead_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  if (downOutHead_ == downOut_.size()) {
    downOut_.clear();
    downOutHead_ = 0;
  } else if (downOutHead_ > (64u << 10)) {
    downOut_.erase(0, downOutHead_);
    downOutHead_ = 0;
  }
  return true;
}

void H2Session::afterEvent() {
  if (closed_) return;
  pump();
  if (closed_) return;
  const bool pending = downOut_.size() > downOutHead_;
  if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_) && !pending)
    return finish(goingAway_ ? "GOAWAY sent" : "HTTP/2 session ended");
  updateDownInterest();
}

void H2Session::updateDownInterest() {
  if (closed_ || !down_) return;
  uint32_t want = 0;
  if (nghttp2_session_want_read(h2_) && downOut_.size() - downOutHead_ < options_.bufferBytes) want |= EPOLLIN;
  if (downOut_.size() > downOutHead_) want |= EPOLLOUT;
  if (want == downEvents_) return;
  if (down_->modify(want)) downEvents_ = want;
}

// ---- nghttp2 callbacks ---------------------------------------------------------------

H2Session::Stream* H2Session::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int H2Session::onBeginHeaders(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto s = std::make_unique<Stream>();
  s->id = frame->hd.stream_id;
  s->outcome.stream = stream_;
  s->outcome.httpVersion = "HTTP/2";
  s->outcome.start = std::chrono::system_clock::now();
  streams_[s->id] = std::move(s);
  return 0;
}

int H2Session::onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Stream* s = find(frame->hd.stream_id);
  if (!s) return 0;
  if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
    // Request trailers: relayed (forwardableTrailers) to an HTTP/2 upstream, and to
    // an HTTP/1.1 one when the body goes chunked (a length-delimited body has no
    // place for them). They count against the same header list limit; past it
    // they are dropped.
    s->outcome.requestBytes += name.size() + value.size();
    s->headerBytes += name.size() + value.size() + 32;
    if (s->headerBytes <= options_.h2MaxHeaderListBytes && (name.empty() || name.front() != ':'))
      s->requestTrailers.emplace_back(name, value);
    return 0;
  }
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  s->outcome.requestBytes += name.size() + value.size();
  if (s->headersTooLarge) return 0;
  // RFC 9113's accounting for SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32),
  // which nghttp2 advertises but leaves to us to enforce.
  s->headerBytes += name.size() + value.size() + 32;
  if (s->headerBytes > options_.h2MaxHeaderListBytes || s->pseudo.size() + s->fields.size() >= options_.h2MaxHeaders) {
    s->headersTooLarge = true;  // answered 431 at the end of the block; nothing more kept
    s->pseudo.clear();
    s->fields.clear();
    return 0;
  }
  if (!name.empty() && name.front() == ':')
    s->pseudo.emplace_back(name, value);
  else
    s->fields.emplace_back(name, value);
  return 0;
}

int H2Session::onFrameRecv(const nghttp2_frame* frame) {
  const int32_t id = frame->hd.stream_id;
  const bool endStream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (Stream* s = find(id); s && frame->headers.cat == NGHTTP2_HCAT_REQUEST) judge(*s, endStream);
      break;
    case NGHTTP2_GOAWAY: goingAway_ = true; break;
    default: break;
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && endStream)
    if (Stream* s = find(id)) requestEnded(*s);
  return 0;
}

int H2Session::onFrameSend(const nghttp2_frame* frame) {
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  // The response is complete while the client is still sending: ask it to stop,
  // without error (RFC 9113 8.1), as Envoy does; its upstream cannot be reused.
  Stream* s = find(frame->hd.stream_id);
  if (s && !s->endReceived) {
    releaseUpstream(*s, false);
    nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int H2Session::onDataChunk(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = find(id);
  if (!s || (!s->wantUp && !s->judging)) {
    // Denied, answered, or unknown: discarded, and the window given back at once.
    nghttp2_session_consume(h2_, id, len);
    if (s) s->outcome.requestBytes += len;
    return 0;
  }
  s->outcome.requestBytes += len;
  s->unconsumed += len;  // given back as the upstream takes it
  if (s->viaH2 && s->upId) {
    s->h2->sendBody(s->upId, reinterpret_cast<const char*>(data), len);
    return 0;
  }
  std::string_view chunk(reinterpret_cast<const char*>(data), len);
  if (s->chunked)
    s->upOut += http1::chunk(chunk);
  else
    s->upOut.append(chunk);
  if (s->up && !flushUp(*s)) upstreamEof(*s);
  return 0;
}

int H2Session::onStreamClose(int32_t id, uint32_t code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  Stream& s = *it->second;
  if (code != NGHTTP2_NO_ERROR && s.outcome.responseFlags.empty() && !(s.bodyDone && s.bodyPending() == 0))
    s.outcome.responseFlags = "DR";  // the client reset the stream
  releaseUpstream(s, false);         // no work goes on for a closed stream
  report(s);
  streams_.erase(it);
  return 0;
}

ssize_t H2Session::readBody(int32_t id, uint8_t* buf, size_t len, uint32_t* flags) {
  Stream* s = find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(len, s->bodyPending());
  if (n) {
    std::memcpy(buf, s->body.data() + s->bodyHead, n);
    s->bodyHead += n;
    s->outcome.responseBytes += n;
    if (s->bodyHead == s->body.size()) {
      s->body.clear();
      s->bodyHead = 0;
    }
    if (s->h2) {
      // Taken by the client: the upstream may send as much again.
      s->upUnconsumed -= std::min<uint64_t>(s->upUnconsumed, n);
      s->h2->consumed(s->upId, n);
    }
  }
  if (s->bodyPending() == 0 && s->bodyDone) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!s->responseTrailers.empty()) {
      std::vector<nghttp2_nv> nva;
      for (const auto& [name, value] : s->responseTrailers) {
        nva.push_back(makeNv(name, value));
        s->outcome.responseBytes += name.size() + value.size();
      }
      // nghttp2 copies the block; the stream then ends with the trailers.
      if (nghttp2_submit_trailer(h2_, id, nva.data(), nva.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  } else if (n == 0) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  updateUpInterest(*s);  // room again: read more of the response
  return static_cast<ssize_t>(n);
}

// ---- requests ---------------------------------------------------------------------

void H2Session::judge(Stream& s, bool endStream) {
  s.judged = true;
  RequestOutcome& o = s.outcome;
  o.protocol = requestProtocol(s.fields);
  auto converted = h2RequestHead(s.pseudo, s.fields, endStream);
  const http1::MessageHead& h = converted.head;
  o.method = h.method;
  o.path = h.path;
  o.authority = h.host;
  o.userAgent = h.header("user-agent").value_or("");
  o.requestId = h.header("x-request-id").value_or("");
  if (s.headersTooLarge) {
    o.plan.decision.reason = "header list over " + std::to_string(options_.h2MaxHeaderListBytes) + " bytes or " +
                             std::to_string(options_.h2MaxHeaders) + " fields";
    return respondLocal(s, 431, std::string(http1::reasonPhrase(431)), "DPE");
  }
  if (converted.errorStatus) {
    o.plan.decision.reason = "bad request: " + converted.why;
    return respondLocal(s, converted.errorStatus, std::string(http1::reasonPhrase(converted.errorStatus)), "DPE");
  }
  s.teTrailers = converted.teTrailers;
  s.judging = true;  // DATA is held raw until the verdict says how it goes upstream
  judgingInline_ = true;
  std::weak_ptr<H2Session> weak = weak_from_this();
  const int32_t id = s.id;
  judgeRequest(
      host_, stream_, h,
      [weak, id](RequestPlan plan, const http1::MessageHead& head) {
        auto self = weak.lock();
        if (!self || self->closed_) return;
        Stream* st = self->find(id);
        if (!st || !st->judging) return;  // reset meanwhile
        st->judging = false;
        self->onJudged(*st, std::move(plan), head);
        if (!self->judgingInline_) {
          self->openUpstreams();
          self->afterEvent();
        }
      },
      [weak, id] {
        auto self = weak.lock();
        return self && !self->closed_ && self->find(id) != nullptr;
      });
  judgingInline_ = false;
}

void H2Session::onJudged(Stream& s, RequestPlan judged, const http1::MessageHead& h) {
  RequestOutcome& o = s.outcome;
  o.plan = std::move(judged);
  const RequestPlan& plan = o.plan;
  if (plan.action == RequestPlan::Action::Reject)
    return respondLocal(s, plan.status, plan.body, plan.responseFlags, plan.responseHeaders);
  // Allowed: the head the upstream sees, from the judged values, then any DATA
  // that arrived while the request was being judged.
  o.upstreamHost = io::formatSockaddr(plan.route.target);
  s.upKey = upstreamKey(plan.route);
  s.viaH2 = state::upstreamSpeaksHttp2(plan.appProtocol, /*downstreamHttp2=*/true);
  if (s.viaH2) {
    s.h2Request = h2UpstreamRequest(upstreamHead(h, plan), s.teTrailers);
    s.wantUp = true;
    toOpen_.push_back(s.id);
    return;
  }
  s.parser = std::make_unique<http1::Parser>(http1::Parser::Kind::Response);
  if (h.method == "HEAD") s.parser->expectNoBody();
  s.chunked = h.chunked;
  std::string held = std::move(s.upOut);
  s.upOut = http1::serializeRequestHead(upstreamHead(h, plan));
  if (!held.empty()) s.upOut += s.chunked ? http1::chunk(held) : held;
  if (s.endReceived && s.chunked) s.upOut += lastChunkWithTrailers(s.requestTrailers);
  s.wantUp = true;
  toOpen_.push_back(s.id);
}

void H2Session::requestEnded(Stream& s) {
  s.endReceived = true;
  if (!s.wantUp) return;
  if (s.viaH2) {
    if (s.upId) s.h2->endBody(s.upId, forwardableTrailers(s.requestTrailers));
    return;
  }
  if (s.chunked) s.upOut += lastChunkWithTrailers(s.requestTrailers);
  if (s.up && !flushUp(s)) upstreamEof(s);
}

void H2Session::respondLocal(Stream& s, int status, const std::string& body, const std::string& flags,
                             const http1::HeaderList& extraHeaders) {
  releaseUpstream(s, false);
  s.outcome.status = status;
  s.outcome.responseFlags = flags;
  if (s.responseSubmitted) return resetStream(s, NGHTTP2_INTERNAL_ERROR, flags);
  http1::HeaderList fields;
  int wireStatus = status;
  if (s.outcome.protocol == "grpc") {
    // A gRPC client reads grpc-status, not the HTTP status (grpc_reply.h).
    wireStatus = 200;
    fields = grpcLocalReplyFields(status, body);
    s.outcome.grpcStatus = grpcStatusForHttp(status);
    s.body.clear();
  } else {
    fields = {{"content-type", "text/plain"}, {"content-length", std::to_string(body.size())}};
    s.body = body;
  }
  fields.insert(fields.end(), extraHeaders.begin(), extraHeaders.end());
  s.bodyHead = 0;
  s.bodyDone = true;
  submitResponse(s, wireStatus, fields, s.body.empty());
  s.outcome.status = status;  // telemetry keeps the status the decision meant
}

void H2Session::submitResponse(Stream& s, int status, const http1::HeaderList& fields, bool bodyless) {
  http1::HeaderList out;
  out.emplace_back(":status", std::to_string(status));
  for (const auto& [n, v] : fields) {
    if (connectionSpecific(n, fields)) continue;
    if (n == "content-length" && status == 204) continue;
    if (!n.empty() && n.front() == ':') continue;
    out.emplace_back(n, v);
  }
  std::vector<nghttp2_nv> nva;
  nva.reserve(out.size());
  for (const auto& [n, v] : out) {
    nva.push_back(makeNv(n, v));
    s.outcome.responseBytes += n.size() + v.size();
  }
  s.outcome.status = status;
  s.responseSubmitted = true;
  nghttp2_data_provider prd{};
  prd.read_callback = H2SessionCallbacks::readBody;
  int rv = nghttp2_submit_response(h2_, s.id, nva.data(), nva.size(), bodyless ? nullptr : &prd);
  if (rv != 0) {
    spdlog::warn("waypoint session {} (h2): stream {}: response: {}", id_, s.id, nghttp2_strerror(rv));
    resetStream(s, NGHTTP2_INTERNAL_ERROR, "UPE");
  }
}

void H2Session::resetStream(Stream& s, uint32_t code, const std::string& flags) {
  if (s.outcome.responseFlags.empty() || s.outcome.responseFlags == "-") s.outcome.responseFlags = flags;
  releaseUpstream(s, false);
  nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, s.id, code);
}

void H2Session::report(Stream& s) {
  if (s.reported || !s.judged) return;
  s.reported = true;
  if (s.outcome.responseFlags.empty()) s.outcome.responseFlags = s.outcome.plan.responseFlags;
  s.outcome.duration = std::chrono::steady_clock::now() - s.started;
  host_.requestDone(s.outcome);
}

// ---- upstreams ------------------------------------------------------------------------

void H2Session::openUpstreams() {
  auto ids = std::move(toOpen_);
  toOpen_.clear();
  for (int32_t id : ids) {
    Stream* s = find(id);
    if (!s || !s->wantUp || s->up || s->h2) continue;  // reset in the same read: never opened
    if (s->viaH2) {
      openH2Upstream(*s);
      continue;
    }
    if (io::ByteStreamPtr fd = idle_.take(s->upKey)) {
      attachUpstream(id, std::move(fd));
      continue;
    }
    std::weak_ptr<H2Session> weak = weak_from_this();
    host_.openUpstream(s->outcome.plan.route, [weak, id](Result<io::ByteStreamPtr> fd) {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      Stream* st = self->find(id);
      if (!st || !st->wantUp) return;  // the stream ended meanwhile: the upstream closes unused
      if (!fd) {
        spdlog::warn("waypoint session {} (h2): upstream: {}", self->id_, fd.error().message);
        st->outcome.plan.decision.reason += "; upstream connect error or disconnect/reset before headers";
        self->respondLocal(*st, 503, "upstream connect error or disconnect/reset before headers", "UF");
      } else {
        self->attachUpstream(id, std::move(*fd));
      }
      self->afterEvent();
    });
  }
}

void H2Session::openH2Upstream(Stream& s) {
  // The request goes out now; the body held while judging follows it, then its
  // end if the client has ended (with its trailers).
  const bool endNow = s.endReceived && s.upOut.empty() && s.requestTrailers.empty();
  if (auto sent = host_.h2Pool().submit(s.outcome.plan.route, s.outcome.upstreamHost, *this, s.id, s.h2Request, endNow);
      sent.up) {
    s.h2 = std::move(sent.up);
    s.upId = sent.upId;
    if (!s.upOut.empty()) {
      s.h2->sendBody(s.upId, s.upOut.data(), s.upOut.size());
      s.upOut.clear();
    }
    if (s.endReceived && !endNow) s.h2->endBody(s.upId, forwardableTrailers(s.requestTrailers));
    return;
  }
  s.outcome.plan.decision.reason += "; upstream connect error or disconnect/reset before headers";
  respondLocal(s, 503, "upstream connect error or disconnect/reset before headers", "UF");
}

// ---- H2Upstream::Sink -------------------------------------------------------------

void H2Session::upstreamHeaders(int32_t key, int status, http1::HeaderList fields, bool endStream) {
  Stream* s = find(key);
  if (!s || !s->h2) return;
  if (endStream) {
    s->bodyDone = true;
    s->upDone = true;
    s->outcome.grpcStatus = grpcStatusIn(fields);  // a trailers-only answer
  }
  submitResponse(*s, status, fields, endStream);
}

void H2Session::upstreamData(int32_t key, const uint8_t* data, size_t len) {
  Stream* s = find(key);
  if (!s || !s->h2) return;  // (released streams are canceled: never here)
  s->body.append(reinterpret_cast<const char*>(data), len);
  s->upUnconsumed += len;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(h2_, s->id);
  }
}

void H2Session::upstreamTrailers(int32_t key, http1::HeaderList trailers) {
  Stream* s = find(key);
  if (!s || !s->h2) return;
  takeResponseTrailers(*s, trailers);
}

// An upstream's response trailers, HTTP/2 or chunked HTTP/1.1: the ones a hop
// passes on end the client's stream as a trailing HEADERS frame (readBody), as
// Envoy's HTTP/2 codec sends them, whatever the client's TE said.
void H2Session::takeResponseTrailers(Stream& s, const http1::HeaderList& trailers) {
  s.responseTrailers = forwardableTrailers(trailers);
  if (auto grpc = grpcStatusIn(s.responseTrailers)) s.outcome.grpcStatus = grpc;
}

void H2Session::upstreamEnded(int32_t key) {
  Stream* s = find(key);
  if (!s || !s->h2) return;
  s->bodyDone = true;
  s->upDone = true;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(h2_, s->id);
  }
}

void H2Session::upstreamFailed(int32_t key, const std::string& why, bool beforeHeaders) {
  Stream* s = find(key);
  if (!s || !s->h2) return;
  s->upDone = true;  // nothing to cancel: the upstream's stream is gone
  spdlog::warn("waypoint session {} (h2): stream {}: upstream {}: {}", id_, s->id, s->outcome.upstreamHost, why);
  if (beforeHeaders && !s->responseSubmitted) {
    s->outcome.plan.decision.reason += "; " + why;
    return respondLocal(*s, 503, "upstream connect error or disconnect/reset before headers", "UF");
  }
  resetStream(*s, NGHTTP2_INTERNAL_ERROR, "UC");
}

void H2Session::requestBodyTaken(int32_t key, size_t n) {
  Stream* s = find(key);
  if (!s) return;
  // The upstream took it: the client's window reopens by as much.
  const size_t give = std::min<uint64_t>(n, s->unconsumed);
  s->unconsumed -= give;
  if (give && !closed_) nghttp2_session_consume(h2_, s->id, give);
}

void H2Session::afterUpstreamEvent() {
  if (closed_) return;
  auto keep = shared_from_this();
  touch();
  host_.h2Pool().prune();
  afterEvent();
}

void H2Session::attachUpstream(int32_t id, io::ByteStreamPtr fd) {
  Stream* s = find(id);
  if (!s) return;
  s->up = std::move(fd);
  std::weak_ptr<H2Session> weak = weak_from_this();
  s->upEvents = EPOLLIN | EPOLLOUT;
  if (!s->up->watch(s->upEvents, [weak, id](uint32_t ev) {
        if (auto self = weak.lock()) self->onUpstream(id, ev);
      })) {
    s->upEvents = 0;
    s->up.reset();
    return upstreamEof(*s);
  }
  if (!flushUp(*s)) return upstreamEof(*s);
  updateUpInterest(*s);
}

void H2Session::onUpstream(int32_t id, uint32_t events) {
  if (closed_) return;
  auto keep = shared_from_this();
  Stream* s = find(id);
  if (!s || !s->up) return;
  touch();
  if ((events & EPOLLOUT) && !flushUp(*s)) {
    upstreamEof(*s);
    return afterEvent();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    char buf[kReadChunk];
    ssize_t n = s->up->read(buf, sizeof(buf));
    if (n > 0) {
      s->upIn.append(buf, static_cast<size_t>(n));
      processUpstream(*s);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      upstreamEof(*s);
    }
  }
  if (Stream* again = find(id)) updateUpInterest(*again);
  afterEvent();
}

bool H2Session::flushUp(Stream& s) {
  if (!s.up) return true;
  while (s.upOutHead < s.upOut.size()) {
    ssize_t n = s.up->send(s.upOut.data() + s.upOutHead, s.upOut.size() - s.upOutHead);
    if (n > 0) {
      s.upOutHead += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  if (s.upOutHead == s.upOut.size()) {
    s.upOut.clear();
    s.upOutHead = 0;
  } else if (s.upOutHead > (64u << 10)) {
    s.upOut.erase(0, s.upOutHead);
    s.upOutHead = 0;
  }
  // The client's window reopens for what the upstream took (framing bytes pending
  // count against it, so it never reopens early).
  const uint64_t pending = s.upOutPending();
  if (s.unconsumed > pending) {
    nghttp2_session_consume(h2_, s.id, s.unconsumed - pending);
    s.unconsumed = pending;
  }
  updateUpInterest(s);
  return true;
}

void H2Session::processUpstream(Stream& s) {
  size_t head = 0;
  while (s.parser && head < s.upIn.size()) {
    if (s.upDone) {
      spdlog::warn("waypoint session {} (h2): upstream {} sent bytes after its response; closing it", id_,
                   s.outcome.upstreamHost);
      return releaseUpstream(s, false);
    }
    std::string_view in(s.upIn.data() + head, s.upIn.size() - head);
    auto step = s.parser->feed(in);
    head += step.consumed;
    switch (step.event) {
      case Event::NeedMore: break;
      case Event::Error:
        spdlog::warn("waypoint session {} (h2): bad response from {}: {}", id_, s.outcome.upstreamHost,
                     s.parser->error().reason);
        if (!s.responseSubmitted) {
          s.outcome.plan.decision.reason += "; upstream sent a bad response: " + s.parser->error().reason;
          return respondLocal(s, 502, "upstream sent an invalid response", "UPE");
        }
        return resetStream(s, NGHTTP2_INTERNAL_ERROR, "UPE");
      case Event::Head: {
        const http1::MessageHead& h = s.parser->head();
        if (h.status < 200) break;  // interim (100 Continue): not relayed; the final answer follows
        s.keepAlive = h.keepAlive;
        const bool bodyless = h.status == 204 || h.status == 304 || s.outcome.method == "HEAD";
        s.closeDelimited = !bodyless && !h.chunked && !h.contentLength;
        submitResponse(s, h.status, h.headers, bodyless);
        break;
      }
      case Event::BodyChunk:
        s.body.append(s.parser->bodyChunk());
        if (s.deferred) {
          s.deferred = false;
          nghttp2_session_resume_data(h2_, s.id);
        }
        break;
      case Event::MessageEnd: {
        if (s.parser->head().status < 200) break;
        takeResponseTrailers(s, s.parser->trailers());
        s.bodyDone = true;
        s.upDone = true;
        if (s.deferred) {
          s.deferred = false;
          nghttp2_session_resume_data(h2_, s.id);
        }
        // Clean end, request fully sent, nothing extra: the next request may use it.
        const bool reusable =
            s.keepAlive && !s.closeDelimited && s.endReceived && s.upOutPending() == 0 && head == s.upIn.size();
        return releaseUpstream(s, reusable);
      }
    }
    if (step.event == Event::NeedMore) break;
  }
  if (head >= s.upIn.size())
    s.upIn.clear();
  else
    s.upIn.erase(0, head);
}

void H2Session::upstreamEof(Stream& s) {
  if (s.parser && !s.upDone && s.wantUp) {
    auto step = s.parser->finish();
    if (step.event == Event::MessageEnd && s.responseSubmitted) {
      s.bodyDone = true;
      s.upDone = true;
      if (s.deferred) {
        s.deferred = false;
        nghttp2_session_resume_data(h2_, s.id);
      }
    } else if (!s.responseSubmitted) {
      s.outcome.plan.decision.reason += "; upstream connect error or disconnect/reset before headers";
      return respondLocal(s, 503, "upstream connect error or disconnect/reset before headers", "UF");
    } else {
      return resetStream(s, NGHTTP2_INTERNAL_ERROR, "UC");
    }
  }
  releaseUpstream(s, false);
}

void H2Session::releaseUpstream(Stream& s, bool reusable) {
  s.wantUp = false;
  if (s.h2) {
    // Our stream on the HTTP/2 upstream ends now if it has not (the client reset
    // it, or was answered here); response bytes the client will never take go
    // back to the connection's window.
    if (!s.upDone && s.upId) s.h2->cancel(s.upId);
    if (s.upUnconsumed) s.h2->consumed(s.upId, s.upUnconsumed);
    s.upUnconsumed = 0;
    s.upDone = true;
    s.h2.reset();
  }
  if (s.up) {
    if (s.upEvents) s.up->unwatch();
    s.upEvents = 0;
    if (reusable && !closed_) idle_.keep(s.upKey, std::move(s.up));
    s.up.reset();
  }
  s.upOut.clear();
  s.upOutHead = 0;
  s.upIn.clear();
  if (s.unconsumed && !closed_) nghttp2_session_consume(h2_, s.id, s.unconsumed);  // discarded: window back
  s.unconsumed = 0;
}

void H2Session::updateUpInterest(Stream& s) {
  if (!s.up || closed_) return;
  uint32_t want = 0;
  if (s.bodyPending() < options_.bufferBytes) want |= EPOLLIN;  // also sees an early answer or EOF
  if (s.upOutPending() > 0) want |= EPOLLOUT;
  if (want == s.upEvents) return;
  if (s.up->modify(want)) s.upEvents = want;
}

}  // namespace warren::waypoint
