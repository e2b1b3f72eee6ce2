#include "waypoint/proxy/http1_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include <spdlog/spdlog.h>

#include "io/tcp.h"
#include "waypoint/proxy/grpc_reply.h"
#include "waypoint/proxy/h1_h2_translate.h"
#include "waypoint/proxy/request_judge.h"

namespace warren::waypoint {

using Event = http1::Parser::Event;

std::shared_ptr<Http1Session> Http1Session::start(SessionHost& host, uint64_t id, StreamFacts stream,
                                                  io::ByteStreamPtr downstream, SessionOptions options,
                                                  std::string initial) {
  auto s = std::shared_ptr<Http1Session>(new Http1Session(host, id, std::move(stream), std::move(downstream), options));
  std::weak_ptr<Http1Session> weak = s;
  s->downEvents_ = EPOLLIN;
  if (auto st = s->down_->watch(s->downEvents_,
                                [weak](uint32_t ev) {
                                  if (auto self = weak.lock()) self->onDownstream(ev);
                                });
      !st) {
    spdlog::error("waypoint session {}: cannot watch the stream: {}", id, st.error().message);
    s->phase_ = Phase::Closed;
    return s;
  }
  s->touch();
  s->armHeadTimer();
  if (!initial.empty()) {
    // Bytes the sniffer already read: the socket may have nothing more to wake
    // us with (level-triggered, but drained), so they are parsed from the loop.
    s->downIn_ = std::move(initial);
    host.loop().post([weak] {
      auto self = weak.lock();
      if (!self || self->phase_ == Phase::Closed) return;
      self->processRequests();
      self->updateInterest();
    });
  }
  return s;
}

Http1Session::Http1Session(SessionHost& host, uint64_t id, StreamFacts stream, io::ByteStreamPtr downstream,
                           SessionOptions options)
    : host_(host),
      id_(id),
      stream_(std::move(stream)),
      options_(options),
      down_(std::move(downstream)),
      idleUp_(options.idleUpstreams) {}

Http1Session::~Http1Session() {
  if (drainTimer_) host_.loop().cancelTimer(drainTimer_);
  if (headTimer_) host_.loop().cancelTimer(headTimer_);
  if (idleTimer_) host_.loop().cancelTimer(idleTimer_);
  if (down_) down_->unwatch();
  if (up_) up_->unwatch();
  host_.h2Pool().forget(*this);
}

void Http1Session::abort() {
  if (phase_ == Phase::Closed) return;
  if (down_) down_->resetOnClose();
  finish();
}

// ---- downstream: requests ------------------------------------------------------

void Http1Session::onDownstream(uint32_t events) {
  if (phase_ == Phase::Closed) return;
  touch();
  if (phase_ == Phase::Draining) {
    char buf[64 * 1024];
    ssize_t n = down_->read(buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) finish();
    return;
  }
  if (events & EPOLLOUT) {
    if (!flush(*down_, downOut_, downOutHead_)) return finish();
    reportConsumed();
    if (phase_ == Phase::Closing && downOut_.empty()) return startDrain();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    char buf[64 * 1024];
    ssize_t n = down_->read(buf, sizeof(buf));
    if (n > 0) {
      downIn_.append(buf, static_cast<size_t>(n));
    } else if (n == 0 && !downEof_ && !(events & (EPOLLHUP | EPOLLERR))) {
      // The client's FIN: it sends nothing more, but may still read. What it
      // sent is taken to its end (clientEnded), every complete request answered,
      // as long as the answers move (idleLimit is now the half-closed timeout).
      downEof_ = true;
      if (idleTimer_) host_.loop().cancelTimer(idleTimer_);
      armIdleTimer(idleLimit());
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      // Reset, or gone both ways: a request still being read or answered ends here.
      downEof_ = true;
      if (phase_ == Phase::ForwardBody || phase_ == Phase::AwaitResponse) finishRequest(0);
      return finish();
    }
  }
  processRequests();
  updateInterest();
}

// Everything the client sent before its FIN has been parsed, in the phase that
// needed more. Between requests the session ends once the answers are out; a
// request cut short by the FIN cannot be completed.
void Http1Session::clientEnded() {
  switch (phase_) {
    case Phase::Head: return closeAfterFlush();  // (a head begun and never finished gets no answer)
    case Phase::DiscardBody:
      finishRequest(current_.status);  // its answer is queued; the rest of its body never comes
      return closeAfterFlush();
    case Phase::ForwardBody:
      finishRequest(0);  // the upstream has part of a body that will never end
      return finish();
    default: return;  // judging or answering: processRequests comes back here afterwards
  }
}

void Http1Session::processRequests() {
  while (phase_ == Phase::Head || phase_ == Phase::ForwardBody || phase_ == Phase::DiscardBody) {
    if (upstreamBacklog() >= options_.bufferBytes) return;  // upstream must drain first
    if (downInHead_ >= downIn_.size()) {
      downIn_.clear();
      downInHead_ = 0;
      if (downEof_) clientEnded();
      return;
    }
    std::string_view in(downIn_.data() + downInHead_, downIn_.size() - downInHead_);
    auto step = requests_.feed(in);
    downInHead_ += step.consumed;
    requestConsumed_ += step.consumed;  // this request's bytes, never a pipelined successor's
    switch (step.event) {
      case Event::NeedMore: continue;
      case Event::Error:
        current_.start = std::chrono::system_clock::now();
        startedAt_ = std::chrono::steady_clock::now();
        current_.plan.decision.reason = "bad request: " + requests_.error().reason;
        current_.requestBytes = requestConsumed_;
        return reject(requests_.error().status, std::string(http1::reasonPhrase(requests_.error().status)), "DPE",
                      true);
      case Event::Head: onRequestHead(); break;
      case Event::BodyChunk:
        if (phase_ == Phase::ForwardBody) {
          if (h2Id_)
            sendH2Body(requests_.bodyChunk());
          else if (requestChunked_)
            upOut_ += http1::chunk(requests_.bodyChunk());
          else
            upOut_.append(requests_.bodyChunk());
        }
        break;
      case Event::MessageEnd:
        current_.requestBytes = requestConsumed_;
        requestConsumed_ = 0;
        if (phase_ == Phase::ForwardBody) {
          // A chunked request's trailers (gRPC over HTTP/1.1 sends its own) go on:
          // a trailers HEADERS frame upstream, or chunked trailers.
          if (h2Id_ && h2RequestOpen_) {
            h2RequestOpen_ = false;
            h2_->endBody(h2Id_, forwardableTrailers(requests_.trailers()));
          } else if (!h2Id_ && requestChunked_) {
            upOut_ += lastChunkWithTrailers(requests_.trailers());
          }
          phase_ = Phase::AwaitResponse;
        } else if (phase_ == Phase::DiscardBody) {
          finishRequest(current_.status);
          if (!keepAlive_) return closeAfterFlush();
          phase_ = Phase::Head;
          armHeadTimer();
        }
        break;
    }
    if (up_ && !flush(*up_, upOut_, upOutHead_)) return upstreamLost();
  }
}

void Http1Session::onRequestHead() {
  if (headTimer_) {
    host_.loop().cancelTimer(headTimer_);
    headTimer_ = 0;
  }
  const http1::MessageHead& h = requests_.head();
  current_ = RequestOutcome{};
  current_.stream = stream_;
  current_.start = std::chrono::system_clock::now();
  startedAt_ = std::chrono::steady_clock::now();
  current_.method = h.method;
  current_.path = h.path;
  current_.authority = h.host;
  current_.userAgent = h.header("user-agent").value_or("");
  current_.requestId = h.header("x-request-id").value_or("");
  current_.protocol = h.header("content-type").value_or("").rfind("application/grpc", 0) == 0 ? "grpc" : "http";
  current_.requestBytes = h.wireBytes;  // the head; the whole request at its MessageEnd
  keepAlive_ = h.keepAlive;
  http10Client_ = h.versionMajor == 1 && h.versionMinor == 0;
  rejected_ = false;
  responseStarted_ = false;

  // Judged (authenticated, authorized, routed) before anything more is read: at
  // once, or after a JWKS fetch (phase Judging until then).
  phase_ = Phase::Judging;
  judgingInline_ = true;
  std::weak_ptr<Http1Session> weak = shared_from_this();
  judgeRequest(
      host_, stream_, h,
      [weak](RequestPlan plan, const http1::MessageHead& head) {
        auto self = weak.lock();
        if (!self || self->phase_ != Phase::Judging) return;
        self->onJudged(std::move(plan), head);
        if (!self->judgingInline_ && self->phase_ != Phase::Closed) {
          self->processRequests();
          self->updateInterest();
        }
      },
      [weak] {
        auto self = weak.lock();
        return self && self->phase_ == Phase::Judging;
      });
  judgingInline_ = false;
}

void Http1Session::onJudged(RequestPlan judged, const http1::MessageHead& h) {
  current_.plan = std::move(judged);
  const RequestPlan& plan = current_.plan;
  if (plan.action == RequestPlan::Action::Reject) {
    // A body is never read for a rejected request: the connection closes after the
    // answer instead, so a large upload costs nothing and cannot be smuggled.
    const bool hasBody = h.chunked || h.contentLength.value_or(0) > 0;
    return reject(plan.status, plan.body, plan.responseFlags, hasBody || !keepAlive_, plan.responseHeaders);
  }
  if (state::upstreamSpeaksHttp2(plan.appProtocol, /*downstreamHttp2=*/false)) {
    // The pool's connection for this route (keyed by its endpoint, as below).
    current_.upstreamHost = io::formatSockaddr(plan.route.target);
    return forwardOverH2(h, plan);
  }
  useUpstream(plan.route);
  current_.upstreamHost = upHost_;  // the connection the request goes on
  requestChunked_ = h.chunked;
  responses_ = std::make_unique<http1::Parser>(http1::Parser::Kind::Response);
  if (h.method == "HEAD") responses_->expectNoBody();
  upOut_ += http1::serializeRequestHead(upstreamHead(h, plan));
  phase_ = Phase::ForwardBody;
}

// Makes up_ the upstream to `route`'s endpoint: the one in use if it goes there,
// else one kept idle for it, else a new one (connecting). The one in use for
// another endpoint is set aside, clean between requests, for a later request to it.
void Http1Session::useUpstream(const proxy::OutboundRoute& route) {
  const std::string key = upstreamKey(route);
  if ((up_ || upConnecting_) && upKey_ == key) return;
  if (up_) {
    const bool clean = upOutHead_ == upOut_.size() && upInHead_ == upIn_.size();
    io::ByteStreamPtr other = std::move(up_);
    other->unwatch();
    upOut_.clear();
    upIn_.clear();
    upOutHead_ = upInHead_ = 0;
    if (clean) idleUp_.keep(upKey_, std::move(other));
  }
  upConnecting_ = false;  // a connect still going for another endpoint: kept idle when it lands
  upKey_ = key;
  upHost_ = io::formatSockaddr(route.target);
  if (auto idle = idleUp_.take(key); idle && attachUpstream(std::move(idle))) return;
  upConnecting_ = true;
  const uint64_t attempt = ++upConnect_;
  std::weak_ptr<Http1Session> weak = shared_from_this();
  host_.openUpstream(route, [weak, attempt, key](Result<io::ByteStreamPtr> fd) {
    auto self = weak.lock();
    if (!self || self->phase_ == Phase::Closed) return;
    if (attempt != self->upConnect_) {
      if (fd) self->idleUp_.keep(key, std::move(*fd));
      return;
    }
    self->upConnecting_ = false;
    if (!fd) {
      spdlog::warn("waypoint session {}: upstream: {}", self->id_, fd.error().message);
      return self->upstreamLost();
    }
    if (!self->attachUpstream(std::move(*fd))) return self->upstreamLost();
    self->processRequests();
    if (self->phase_ != Phase::Closed) self->updateInterest();
  });
}

bool Http1Session::attachUpstream(io::ByteStreamPtr up) {
  up_ = std::move(up);
  upEvents_ = EPOLLIN;
  std::weak_ptr<Http1Session> weak = weak_from_this();
  if (!up_->watch(upEvents_, [weak](uint32_t ev) {
        if (auto self = weak.lock()) self->onUpstream(ev);
      })) {
    up_.reset();
    return false;
  }
  return true;
}

void Http1Session::reject(int status, const std::string& body, const std::string& flags, bool close,
                          const http1::HeaderList& extraHeaders) {
  rejected_ = true;
  current_.responseFlags = flags;
  downOut_ += http1::simpleResponse(status, body, close, extraHeaders);
  current_.status = status;
  if (close) {
    finishRequest(status);
    return closeAfterFlush();
  }
  phase_ = Phase::DiscardBody;  // a body-less request: its MessageEnd comes next
}

// ---- upstream: responses -------------------------------------------------------

void Http1Session::onUpstream(uint32_t events) {
  if (phase_ == Phase::Closed || !up_) return;
  touch();
  if (events & EPOLLOUT) {
    if (!flush(*up_, upOut_, upOutHead_)) return upstreamLost();
    processRequests();
    if (phase_ == Phase::Closed || !up_) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    char buf[64 * 1024];
    ssize_t n = up_->read(buf, sizeof(buf));
    if (n > 0) {
      upIn_.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return upstreamLost();
    }
  }
  processResponse();
  updateInterest();
}

void Http1Session::processResponse() {
  while (responses_ && upInHead_ < upIn_.size() && phase_ != Phase::Closed) {
    if (downOut_.size() - downOutHead_ >= options_.bufferBytes) return;  // the client must read first
    if (phase_ != Phase::AwaitResponse && phase_ != Phase::ForwardBody) {
      // Bytes from the upstream with no request outstanding: it is confused.
      spdlog::warn("waypoint session {}: upstream sent data with no request outstanding; closing", id_);
      return finish();
    }
    std::string_view in(upIn_.data() + upInHead_, upIn_.size() - upInHead_);
    auto step = responses_->feed(in);
    upInHead_ += step.consumed;
    switch (step.event) {
      case Event::NeedMore: break;
      case Event::Error:
        spdlog::warn("waypoint session {}: bad response from {}: {}", id_, current_.upstreamHost,
                     responses_->error().reason);
        if (!responseStarted_) {
          current_.plan.decision.reason += "; upstream sent a bad response: " + responses_->error().reason;
          return reject(502, "upstream sent an invalid response", "UPE", true);
        }
        finishRequest(current_.status);
        return finish();
      case Event::Head: {
        const http1::MessageHead& h = responses_->head();
        responseStarted_ = true;
        current_.status = h.status;
        if (h.status < 200) {
          // Interim (100 Continue, 103): relayed as it is; the final head follows.
          const std::string head = http1::serializeResponseHead(h);
          downOut_ += head;
          current_.responseBytes += head.size();
          break;
        }
        if (!h.keepAlive) keepAlive_ = false;
        const auto r = relayedHttp1ResponseHead(h, current_.method == "HEAD", http10Client_, keepAlive_);
        responseChunked_ = r.chunked;
        responseCloseDelimited_ = r.closeDelimited;
        downOut_ += r.head;
        current_.responseBytes += r.head.size();
        break;
      }
      case Event::BodyChunk: {
        std::string_view data = responses_->bodyChunk();
        current_.responseBytes += data.size();
        if (responseChunked_)
          downOut_ += http1::chunk(data);
        else
          downOut_.append(data);
        break;
      }
      case Event::MessageEnd:
        if (current_.status < 200) break;  // an interim response; the final one follows
        endResponseBody(responses_->trailers());
        if (phase_ == Phase::ForwardBody) {
          // Answered before the request body was done (e.g. an early 413): the
          // rest of the body cannot be framed any more; finish and close.
          keepAlive_ = false;
        }
        finishRequest(current_.status);
        spdlog::debug("waypoint session {}: response done, keep-alive {}, close-delimited {}", id_, keepAlive_,
                      responseCloseDelimited_);
        if (!keepAlive_ || responseCloseDelimited_) {
          closeUpstream();
          return closeAfterFlush();
        }
        upIn_.erase(0, upInHead_);
        upInHead_ = 0;
        responses_.reset();
        phase_ = Phase::Head;
        armHeadTimer();
        processRequests();  // a pipelined request waiting in the buffer (or the client's FIN)
        if (phase_ == Phase::Closed) return;
        break;
    }
    if (!flush(*down_, downOut_, downOutHead_)) return finish();
  }
}

// The end of the response's body, from either upstream: its trailers (none for an
// unchunked HTTP/1.1 body) give the gRPC status, and go to the client as chunked
// trailers when its body goes chunked.
void Http1Session::endResponseBody(const http1::HeaderList& trailers) {
  if (auto grpc = grpcStatusIn(trailers)) current_.grpcStatus = grpc;
  if (responseChunked_) downOut_ += lastChunkWithTrailers(trailers);
}

void Http1Session::upstreamLost() {
  closeUpstream();
  if (phase_ == Phase::Closed) return;
  if (phase_ == Phase::AwaitResponse || phase_ == Phase::ForwardBody) {
    if (responses_) {
      auto step = responses_->finish();
      if (step.event == Event::MessageEnd && responseStarted_) {
        finishRequest(current_.status);
        return closeAfterFlush();
      }
    }
    if (!responseStarted_) {
      current_.plan.decision.reason += "; upstream connect error or disconnect/reset before headers";
      return reject(503, "upstream connect error or disconnect/reset before headers", "UF", true);
    }
    current_.responseFlags = "UC";
    finishRequest(current_.status);
    return finish();
  }
  // Between requests: the next request opens a new upstream.
}

void Http1Session::closeUpstream() {
  if (!up_) return;
  up_->unwatch();
  up_.reset();
  upOut_.clear();
  upOutHead_ = 0;
  upIn_.clear();
  upInHead_ = 0;
}

// ---- bookkeeping ------------------------------------------------------------

void Http1Session::finishRequest(int status) {
  if (current_.start == std::chrono::system_clock::time_point{}) return;  // nothing in flight
  current_.status = status;
  if (current_.responseFlags.empty()) current_.responseFlags = current_.plan.responseFlags;
  current_.duration = std::chrono::steady_clock::now() - startedAt_;
  host_.requestDone(current_);
  current_ = RequestOutcome{};
}

void Http1Session::closeAfterFlush() {
  phase_ = Phase::Closing;
  if (headTimer_) {
    host_.loop().cancelTimer(headTimer_);
    headTimer_ = 0;
  }
  if (!flush(*down_, downOut_, downOutHead_)) return finish();
  if (downOut_.empty()) return startDrain();
  updateInterest();
}

void Http1Session::startDrain() {
  if (downEof_) return finish();
  closeUpstream();
  endH2Stream(/*responseEnded=*/false);
  down_->shutdownWrite();  // the client sees the end of the answer
  phase_ = Phase::Draining;
  std::weak_ptr<Http1Session> weak = weak_from_this();
  drainTimer_ = host_.loop().addTimer(std::chrono::milliseconds(1000), [weak] {
    if (auto self = weak.lock()) {
      self->drainTimer_ = 0;
      self->finish();
    }
  });
  downEvents_ = EPOLLIN;
  (void)down_->modify(downEvents_);
}

bool Http1Session::flush(io::ByteStream& stream, std::string& out, size_t& head) {
  while (head < out.size()) {
    ssize_t n = stream.send(out.data() + head, out.size() - head);
    if (n > 0) {
      head += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  if (head == out.size()) {
    out.clear();
    head = 0;
  } else if (head > (64u << 10)) {
    out.erase(0, head);
    head = 0;
  }
  return true;
}

void Http1Session::updateInterest() {
  if (phase_ == Phase::Closed || phase_ == Phase::Draining) return;
  uint32_t down = 0;
  const bool readRequests = (phase_ == Phase::Head || phase_ == Phase::ForwardBody || phase_ == Phase::DiscardBody) &&
                            upstreamBacklog() < options_.bufferBytes && !downEof_;
  // While a response is awaited (or a judgement), EOF/RST from the client must still be seen.
  const bool waiting = phase_ == Phase::AwaitResponse || phase_ == Phase::Judging;
  // After the client's FIN there is nothing more to read (level-triggered, its
  // EOF would wake us for ever); a reset still comes as EPOLLHUP/EPOLLERR.
  if ((readRequests || waiting) && !downEof_) down |= EPOLLIN;
  if (waiting && downIn_.size() - downInHead_ > options_.bufferBytes) down &= ~EPOLLIN;
  if (!downOut_.empty()) down |= EPOLLOUT;
  if (down != downEvents_) {
    downEvents_ = down;
    (void)down_->modify(down);
  }
  if (up_) {
    uint32_t up = 0;
    if (downOut_.size() < options_.bufferBytes) up |= EPOLLIN;
    if (!upOut_.empty()) up |= EPOLLOUT;
    if (up != upEvents_) {
      upEvents_ = up;
      (void)up_->modify(up);
    }
  }
}

void Http1Session::armHeadTimer() {
  if (headTimer_) host_.loop().cancelTimer(headTimer_);
  std::weak_ptr<Http1Session> weak = weak_from_this();
  headTimer_ = host_.loop().addTimer(options_.headTimeout, [weak] {
    auto self = weak.lock();
    if (!self || self->phase_ != Phase::Head) return;
    self->headTimer_ = 0;
    if (self->downInHead_ < self->downIn_.size() || self->requestConsumed_ > 0) {
      // Slow headers: answer 408 as Envoy does, and close.
      self->current_.start = std::chrono::system_clock::now();
      self->startedAt_ = std::chrono::steady_clock::now();
      self->current_.plan.decision.reason = "request head not complete in time";
      return self->reject(408, "request timeout", "DPE", true);
    }
    self->armHeadTimer();  // idle between requests: the idle timer decides
  });
}

void Http1Session::touch() {
  lastActivity_ = std::chrono::steady_clock::now();
  if (!idleTimer_) armIdleTimer(idleLimit());
}

std::chrono::milliseconds Http1Session::idleLimit() const {
  return downEof_ ? std::min(options_.idleTimeout, options_.halfClosedTimeout) : options_.idleTimeout;
}

void Http1Session::armIdleTimer(std::chrono::steady_clock::duration in) {
  std::weak_ptr<Http1Session> weak = weak_from_this();
  idleTimer_ = host_.loop().addTimer(std::chrono::ceil<std::chrono::milliseconds>(in), [weak] {
    auto self = weak.lock();
    if (!self || self->phase_ == Phase::Closed) return;
    self->idleTimer_ = 0;
    const auto limit = self->idleLimit();
    const auto idle = std::chrono::steady_clock::now() - self->lastActivity_;
    if (idle < limit) return self->armIdleTimer(limit - idle);
    // A request still in flight ends for idleness, as Envoy's stream idle timeout.
    if (self->current_.start != std::chrono::system_clock::time_point{} && self->current_.responseFlags.empty())
      self->current_.responseFlags = "SI";
    spdlog::debug("waypoint session {}: idle for {} ms{}; closing", self->id_, limit.count(),
                  self->downEof_ ? " after the client's FIN" : "");
    self->finish();
  });
}

void Http1Session::finish() {
  if (phase_ == Phase::Closed) return;
  spdlog::debug("waypoint session {}: closed (phase {}, client {})", id_, static_cast<int>(phase_),
                downEof_ ? "gone" : "connected");
  if (!current_.method.empty() || current_.status) finishRequest(current_.status);
  phase_ = Phase::Closed;
  closeUpstream();
  idleUp_.clear();
  endH2Stream(/*responseEnded=*/false);
  host_.h2Pool().forget(*this);
  if (down_) {
    down_->unwatch();
    down_.reset();
  }
  if (headTimer_) host_.loop().cancelTimer(headTimer_);
  if (idleTimer_) host_.loop().cancelTimer(idleTimer_);
  if (drainTimer_) host_.loop().cancelTimer(drainTimer_);
  headTimer_ = idleTimer_ = drainTimer_ = 0;
  host_.sessionClosed(id_);  // may destroy this session: nothing after
}

// ---- HTTP/2 upstream (ports declared http2 or grpc) ----------------------------------

void Http1Session::forwardOverH2(const http1::MessageHead& h, const RequestPlan& plan) {
  const bool hasBody = h.chunked || h.contentLength.value_or(0) > 0;
  responses_.reset();
  h2Key_ = h2Key_ == INT32_MAX ? 1 : h2Key_ + 1;
  phase_ = Phase::ForwardBody;
  h2Id_ = -1;  // submitted: the sink may hear of a failure before submit returns
  auto sent = host_.h2Pool().submit(plan.route, current_.upstreamHost, *this, h2Key_,
                                    h2RequestForHttp1(upstreamHead(h, plan)), /*endStream=*/!hasBody);
  if (phase_ != Phase::ForwardBody) return;  // failed at once (the sink has answered)
  h2Id_ = 0;
  if (!sent.up) {
    current_.plan.decision.reason += "; upstream connect error or disconnect/reset before headers";
    return reject(503, "upstream connect error or disconnect/reset before headers", "UF", true);
  }
  h2_ = std::move(sent.up);
  h2Id_ = sent.upId;
  h2RequestOpen_ = hasBody;
  // Envoy answers 100 Continue itself rather than passing Expect on: the body
  // then comes, and HTTP/2 flow control holds it back as the upstream wants.
  if (hasBody && expectsContinue(h)) downOut_ += "HTTP/1.1 100 Continue\r\n\r\n";
}

void Http1Session::sendH2Body(std::string_view data) {
  if (!h2RequestOpen_ || data.empty()) return;
  h2Unsent_ += data.size();  // before sendBody: it may report bytes taken at once
  h2_->sendBody(h2Id_, data.data(), data.size());
}

void Http1Session::reportConsumed() {
  // Response bytes the client took reopen the upstream's window; framing bytes
  // still queued count against it, so it never reopens early.
  const uint64_t pending = downOut_.size() - downOutHead_;
  if (!h2_ || !h2Id_ || h2Unconsumed_ <= pending) return;
  h2_->consumed(h2Id_, h2Unconsumed_ - pending);
  h2Unconsumed_ = pending;
}

void Http1Session::endH2Stream(bool responseEnded) {
  if (h2_ && h2Id_ > 0) {
    // Still running (the client went, or answered before its body was sent): the
    // upstream stops it.
    if (!responseEnded || h2RequestOpen_) h2_->cancel(h2Id_);
    // Bytes we hold or dropped go back to the connection's window.
    h2_->consumed(h2Id_, h2Unconsumed_);
  }
  h2_.reset();
  h2Id_ = 0;
  h2RequestOpen_ = false;
  h2Unsent_ = h2Unconsumed_ = 0;
  h2Trailers_.clear();
}

void Http1Session::upstreamHeaders(int32_t key, int status, http1::HeaderList fields, bool endStream) {
  if (!mine(key)) return;
  auto r = http1ResponseHead(status, fields, endStream, current_.method == "HEAD", http10Client_, keepAlive_);
  responseStarted_ = true;
  current_.status = status;
  responseChunked_ = r.chunked;
  responseCloseDelimited_ = r.closeDelimited;
  responseBodyless_ = r.bodyless;
  if (endStream) current_.grpcStatus = grpcStatusIn(fields);  // a trailers-only answer
  downOut_ += r.head;
  current_.responseBytes += r.head.size();
}

void Http1Session::upstreamData(int32_t key, const uint8_t* data, size_t len) {
  if (!mine(key)) return;
  h2Unconsumed_ += len;
  if (responseBodyless_) return;  // (none may follow; given back at the end)
  std::string_view chunk(reinterpret_cast<const char*>(data), len);
  current_.responseBytes += len;
  if (responseChunked_)
    downOut_ += http1::chunk(chunk);
  else
    downOut_.append(chunk);
}

void Http1Session::upstreamTrailers(int32_t key, http1::HeaderList trailers) {
  if (!mine(key)) return;
  h2Trailers_ = std::move(trailers);
}

void Http1Session::upstreamEnded(int32_t key) {
  if (!mine(key)) return;
  endResponseBody(h2Trailers_);
  // Answered before the request body was done: the rest of it cannot be framed
  // any more; finish and close (as for an HTTP/1.1 upstream).
  if (phase_ == Phase::ForwardBody) keepAlive_ = false;
  finishRequest(current_.status);
  endH2Stream(/*responseEnded=*/true);  // (cancels the request's stream if its body was still going)
  if (!keepAlive_ || responseCloseDelimited_) return closeAfterFlush();
  // The next request (maybe pipelined, already read) is taken after this event.
  phase_ = Phase::Head;
  armHeadTimer();
}

void Http1Session::upstreamFailed(int32_t key, const std::string& why, bool beforeHeaders) {
  if (!mine(key)) return;
  h2Id_ = 0;  // nothing to cancel: the upstream's stream is gone
  h2RequestOpen_ = false;
  spdlog::warn("waypoint session {}: upstream {}: {}", id_, current_.upstreamHost, why);
  if (beforeHeaders && !responseStarted_) {
    current_.plan.decision.reason += "; " + why;
    return reject(503, "upstream connect error or disconnect/reset before headers", "UF", true);
  }
  // Reset mid-response: the client sees the answer cut short, as it would from
  // an HTTP/1.1 upstream that closed.
  current_.responseFlags = "UC";
  finishRequest(current_.status);
  finish();
}

void Http1Session::requestBodyTaken(int32_t key, size_t n) {
  if (key != h2Key_) return;
  h2Unsent_ -= std::min<uint64_t>(h2Unsent_, n);
}

void Http1Session::afterUpstreamEvent() {
  if (phase_ == Phase::Closed) return;
  auto keep = shared_from_this();
  touch();
  host_.h2Pool().prune();
  if (phase_ == Phase::Draining) return;
  if (!flush(*down_, downOut_, downOutHead_)) return finish();
  reportConsumed();
  if (phase_ == Phase::Closing) {
    if (downOut_.empty()) return startDrain();
    return updateInterest();
  }
  processRequests();  // the next request, or more of this one's body now the upstream took some
  if (phase_ != Phase::Closed) updateInterest();
}

}  // namespace warren::waypoint
