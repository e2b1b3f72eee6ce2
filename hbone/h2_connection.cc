#include "hbone/h2_connection.h"

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include <spdlog/spdlog.h>

#include "hbone/stream_bridge.h"
#include "io/tcp.h"
#include "tls/tls_transport.h"

namespace warren::hbone {

namespace {

std::atomic<uint64_t> nextConnectionId{1};

// nghttp2 output waiting for room in TLS's output buffer is bounded by this.
constexpr size_t kTlsOutHighWater = 64 * 1024;
constexpr size_t kTlsRecordPlaintext = 16 * 1024;  // TLS's largest record
constexpr size_t kTlsReadChunk = 16 * 1024;        // one TLS record's plaintext at most
// Socket reads (each up to CipherBuffers::kCapacity) per event before yielding to
// other connections.
constexpr int kMaxSocketReadsPerEvent = 4;

// nghttp2 limits we rely on, set explicitly rather than inherited from whatever
// version is installed (its defaults, as of 1.57).
// SETTINGS ACKs and PING ACKs queued unsent (a peer flooding SETTINGS or PINGs
// while not reading): past this the session ends.
constexpr size_t kMaxOutboundAcks = 1000;
// Entries in one SETTINGS frame (a handful are defined).
constexpr size_t kMaxSettingsEntries = 32;
// CONTINUATION frames after one HEADERS (CVE-2024-28182); 8 of 16 KiB
// is well above maxHeaderListBytes.
constexpr size_t kMaxContinuations = 8;
// The peer's HPACK dynamic table we agree to keep.
constexpr size_t kMaxDeflateTableBytes = 4096;

bool isSuccess(int status) { return status >= 200 && status < 300; }

// The GOAWAY code for an error nghttp2_session_mem_recv returned: a flood or a
// CONTINUATION cap is abuse (ENHANCE_YOUR_CALM, as nghttp2's own rate limits send),
// anything else a protocol error.
uint32_t goawayCodeFor(int recvError) {
  if (recvError == NGHTTP2_ERR_FLOODED || recvError == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
    return NGHTTP2_ENHANCE_YOUR_CALM;
  return NGHTTP2_PROTOCOL_ERROR;
}

}  // namespace

std::optional<std::string> findHeader(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return std::nullopt;
}

// The HTTP/2 side of a stream; its app side is `app` (stream_endpoint.h).
struct H2Connection::Stream {
  int32_t id = -1;
  // The app side: the TCP socket's bridge. Null on a server stream until it is
  // answered with 2xx and a socket (and for a client stream opened without one).
  std::unique_ptr<StreamEndpoint> app;
  Headers request, response;
  bool open = false;      // data may flow: 2xx sent (server) or received (client)
  bool early = false;     // client: DATA may go out before the answer (H2Options::earlyData)
  bool deferred = false;  // nghttp2 is waiting for resume_data
  // DATA received while there is no app side yet (server, before respond()); moved
  // to the app side when it is attached, never acknowledged before.
  std::string held;
  bool dirty = false;      // in H2Connection::dirty_: DATA to deliver at the burst's end
  bool peerEnded = false;  // END_STREAM received
  bool h2Closed = false;   // nghttp2 closed the stream
  bool refused = false;    // answered with an error status
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  StreamStats stats;
  StreamCallbacks cb;
  size_t headerBytes = 0;  // of the header list received, as SETTINGS_MAX_HEADER_LIST_SIZE counts them
  // Server: runs if the stream ends before respond() (setCancelHandler).
  std::function<void(const std::string&)> cancel;
  uint64_t responseTimer = 0;  // client: the CONNECT response timeout
  size_t undelivered() const { return app ? app->undelivered() : held.size(); }
  // Received DATA not yet taken by the app side, as counted in the receive budget,
  // and the part of it whose connection window is still to be returned (received
  // while the budget was spent).
  size_t budgeted = 0;
  size_t connectionOwed = 0;
};

// nghttp2's C callbacks, forwarded to the connection (user_data).
struct H2Callbacks {
  static H2Connection* self(void* u) { return static_cast<H2Connection*>(u); }
  static int beginHeaders(nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->onBeginHeaders(f); }
  static int header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nameLen, const uint8_t* value,
                    size_t valueLen, uint8_t, void* u) {
    return self(u)->onHeader(f, {reinterpret_cast<const char*>(name), nameLen},
                             {reinterpret_cast<const char*>(value), valueLen});
  }
  static int frameRecv(nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->onFrameRecv(f); }
  static int dataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
    return self(u)->onDataChunk(id, data, len);
  }
  static int frameSent(nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->onFrameSent(f); }
  // A full DATA frame (9-byte header + payload) is exactly one full TLS record, so
  // bulk data goes into TLS without staging and without a 9-byte record after each.
  static ssize_t dataLength(nghttp2_session*, uint8_t, int32_t, int32_t sessionWindow, int32_t streamWindow,
                            uint32_t peerMaxFrame, void*) {
    const int64_t limit = std::min<int64_t>({sessionWindow, streamWindow, int64_t{peerMaxFrame}});
    return static_cast<ssize_t>(std::min<int64_t>(limit, static_cast<int64_t>(kTlsRecordPlaintext - 9)));
  }
  static int streamClose(nghttp2_session*, int32_t id, uint32_t code, void* u) {
    return self(u)->onStreamClose(id, code);
  }
  static ssize_t readData(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags, nghttp2_data_source*,
                          void* u) {
    return self(u)->readData(id, buf, len, flags);
  }
};

// ---- lifecycle ---------------------------------------------------------------------------

H2Connection::H2Connection(io::EventLoop& loop, std::unique_ptr<tls::PlaintextTransport> transport, H2Options options,
                           Callbacks callbacks, std::string peerLabel)
    : loop_(loop),
      transport_(std::move(transport)),
      options_(options),
      callbacks_(std::move(callbacks)),
      peerLabel_(std::move(peerLabel)),
      headerBlocks_(/*expectClientPreface=*/transport_->role() == tls::Role::Server),
      id_(nextConnectionId++) {}

H2Connection::~H2Connection() {
  for (auto& [id, s] : streams_) budget().release(s->budgeted);  // closeNow() normally did
  if (session_) nghttp2_session_del(session_);
}

std::shared_ptr<H2Connection> H2Connection::start(io::EventLoop& loop, UniqueFd sock, tls::TlsContextPtr ctx,
                                                  H2Options options, Callbacks callbacks,
                                                  std::optional<identity::SpiffeId> expectedPeer,
                                                  std::string peerLabel) {
  // Keepalive and TCP_USER_TIMEOUT on both ends of every HBONE connection. Not
  // fatal: the HTTP/2 PINGs still watch the peer.
  if (auto st = io::setTcpLiveness(sock.get(), options.tcp); !st)
    spdlog::warn("hbone {}: TCP keepalive not set: {}", peerLabel, st.error().message);
  return startOn(loop,
                 std::make_unique<tls::TlsTransport>(loop, std::move(sock), std::move(ctx), std::move(expectedPeer)),
                 options, std::move(callbacks), std::move(peerLabel));
}

std::shared_ptr<H2Connection> H2Connection::startOn(io::EventLoop& loop,
                                                    std::unique_ptr<tls::PlaintextTransport> transport,
                                                    H2Options options, Callbacks callbacks, std::string peerLabel) {
  std::shared_ptr<H2Connection> c(
      new H2Connection(loop, std::move(transport), options, std::move(callbacks), std::move(peerLabel)));
  // The transport calls back only while the connection lives (its guard).
  H2Connection* self = c.get();
  tls::PlaintextTransport::Callbacks tcb;
  tcb.onReady = [self] { self->onTlsReady(); };
  tcb.onSocketEvent = [self](uint32_t ev) { self->onSocketEvent(ev); };
  tcb.onFailed = [self](const std::string& why) { self->fail(why); };
  c->transport_->start(c->weak_from_this(), options.handshakeTimeout, std::move(tcb));
  return c;
}

// After the handshake (the transport runs that itself).
void H2Connection::onSocketEvent(uint32_t events) {
  if (state_ == State::Closed) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readTls();
  if (state_ == State::Closed) return;
  pump();
  if (state_ == State::Closed) return;
  updateSocketInterest();
  maybeCloseWhenDone();
}

void H2Connection::onTlsReady() {
  if (auto st = startSession(); !st) return fail(st.error().message);
  state_ = State::Ready;
  spdlog::info("hbone conn {} {}: {} peer {}", id_, peerLabel_, transport_->describeSession(),
               transport_->peerIdentity()->uri());
  readyReported_ = true;
  if (callbacks_.onReady) callbacks_.onReady(*this, okStatus());
  if (state_ == State::Closed) return;
  auto pending = std::move(pendingOpens_);
  pendingOpens_.clear();
  for (auto& s : pending) submitRequest(std::move(s));
  armIdleTimer();
  liveness_.lastReceived = std::chrono::steady_clock::now();
  armLivenessTimer(options_.pingInterval);
  readTls();  // bytes that arrived with the last handshake flight
  if (state_ == State::Closed) return;
  pump();
  if (state_ == State::Closed) return;
  updateSocketInterest();
}

Status H2Connection::startSession() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return makeError("out of memory (nghttp2 callbacks)");
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2Callbacks::beginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2Callbacks::frameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2Callbacks::dataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2Callbacks::streamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, H2Callbacks::frameSent);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cbs, H2Callbacks::dataLength);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return makeError("out of memory (nghttp2 options)");
  }
  // Window updates are ours to send: only for bytes the TCP side has taken.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, options_.maxConcurrentStreams);
  // Abuse limits (see H2Options and the constants above). The reset-rate limiter and
  // the CONTINUATION cap are nghttp2 1.57 / 1.61, or a distribution's backport (the
  // top CMakeLists checks that they exist).
  nghttp2_option_set_stream_reset_rate_limit(opt, options_.resetBurst, options_.resetRatePerSecond);
  nghttp2_option_set_max_continuations(opt, kMaxContinuations);
  nghttp2_option_set_max_settings(opt, kMaxSettingsEntries);
  nghttp2_option_set_max_outbound_ack(opt, kMaxOutboundAcks);
  nghttp2_option_set_max_send_header_block_length(opt, options_.maxHeaderListBytes);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, kMaxDeflateTableBytes);
  // We never accept a push (ENABLE_PUSH=0 below), so none may be reserved.
  nghttp2_option_set_max_reserved_remote_streams(opt, 0);
  int rv = !isServer() ? nghttp2_session_client_new2(&session_, cbs, this, opt)
                       : nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return makeError(std::string("nghttp2 session: ") + nghttp2_strerror(rv));
  std::vector<nghttp2_settings_entry> settings = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.maxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.streamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options_.maxHeaderListBytes},
  };
  // Only a client may refuse server push; a server sending it is a protocol error.
  if (!isServer()) settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (rv == 0)
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(options_.connectionWindow));
  if (rv != 0) return makeError(std::string("nghttp2 settings: ") + nghttp2_strerror(rv));
  return okStatus();
}

void H2Connection::fail(const std::string& reason) {
  if (state_ == State::Closed) return;
  spdlog::warn("hbone conn {} {}: {}", id_, peerLabel_, reason);
  closeNow(reason);
}

void H2Connection::closeNow(const std::string& reason) {
  if (state_ == State::Closed) return;
  auto keep = shared_from_this();
  state_ = State::Closed;
  closeReason_ = reason;
  transport_->stop(/*closeNotify=*/readyReported_);  // no more socket events, handshake timer cancelled
  loop_.cancelTimer(idleTimer_);
  loop_.cancelTimer(headerBlockTimer_);
  loop_.cancelTimer(livenessTimer_);
  idleTimer_ = headerBlockTimer_ = livenessTimer_ = 0;
  requestsReady_.clear();
  auto pending = std::move(pendingOpens_);
  pendingOpens_.clear();
  for (auto& s : pending) {
    if (s->app) s->app->abort();
    auto cb = std::move(s->cb.onDone);
    s.reset();
    if (cb) cb(StreamStats{.endReason = "HBONE connection failed: " + reason});
  }
  while (!streams_.empty()) {
    Stream& s = *streams_.begin()->second;
    if (s.app) s.app->abort();
    s.stats.endReason = "HBONE connection closed: " + reason;
    finishStream(s.id);
  }
  transport_->closeSocket();
  if (!readyReported_) {
    readyReported_ = true;
    if (callbacks_.onReady) callbacks_.onReady(*this, makeError(reason));
  }
  if (callbacks_.onClosed) callbacks_.onClosed(*this);
}

void H2Connection::maybeCloseWhenDone() {
  if (state_ == State::Closed || !session_) return;
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_) && tlsOut_.size() == tlsOutHead_ &&
      !transport_->outputPending())
    closeNow(closing_ ? "GOAWAY" : "session finished");
}

void H2Connection::armIdleTimer() {
  loop_.cancelTimer(idleTimer_);
  idleTimer_ = 0;
  if (state_ != State::Ready || !streams_.empty() || !pendingOpens_.empty()) return;
  std::weak_ptr<H2Connection> weak = weak_from_this();
  idleTimer_ = loop_.addTimer(options_.idleTimeout, [weak] {
    auto s = weak.lock();
    if (!s) return;
    s->idleTimer_ = 0;
    if (s->state_ != State::Ready || !s->streams_.empty()) return;
    spdlog::debug("hbone conn {} {}: idle, closing", s->id_, s->peerLabel_);
    s->closing_ = true;
    nghttp2_session_terminate_session(s->session_, NGHTTP2_NO_ERROR);
    s->pump();
    s->maybeCloseWhenDone();
  });
}

// A header block (HEADERS or PUSH_PROMISE, then CONTINUATIONs) must end in time:
// until it does, nothing else may arrive on the connection (RFC 9113 6.10) and its
// stream keeps the idle timeout away.
void H2Connection::watchHeaderBlock() {
  if (!headerBlocks_.inProgress()) {
    loop_.cancelTimer(headerBlockTimer_);
    headerBlockTimer_ = 0;
    return;
  }
  if (headerBlockTimer_ || options_.headerBlockTimeout.count() <= 0) return;
  std::weak_ptr<H2Connection> weak = weak_from_this();
  headerBlockTimer_ = loop_.addTimer(options_.headerBlockTimeout, [weak] {
    auto s = weak.lock();
    if (!s) return;
    s->headerBlockTimer_ = 0;
    if (s->state_ == State::Closed || !s->headerBlocks_.inProgress()) return;
    const std::string why = "header block of stream " + std::to_string(s->headerBlocks_.streamId()) +
                            " not completed within " + std::to_string(s->options_.headerBlockTimeout.count()) + " ms";
    s->closing_ = true;
    nghttp2_session_terminate_session(s->session_, NGHTTP2_ENHANCE_YOUR_CALM);
    s->pump();
    s->fail(why);
  });
}

void H2Connection::armLivenessTimer(std::chrono::milliseconds in) {
  loop_.cancelTimer(livenessTimer_);
  livenessTimer_ = 0;
  if (in.count() <= 0 || state_ != State::Ready) return;
  std::weak_ptr<H2Connection> weak = weak_from_this();
  livenessTimer_ = loop_.addTimer(in, [weak] {
    if (auto s = weak.lock()) {
      s->livenessTimer_ = 0;
      s->onLivenessTimer();
    }
  });
}

void H2Connection::onLivenessTimer() {
  if (state_ != State::Ready) return;
  const auto now = std::chrono::steady_clock::now();
  const LivenessStep step =
      nextLivenessStep({options_.pingInterval, options_.pingTimeout}, liveness_, !streams_.empty(), now);
  switch (step.kind) {
    case LivenessStep::Kind::Close:
      return fail("no PING answer in " + std::to_string(options_.pingTimeout.count()) +
                  " ms: the peer is gone or stuck");
    case LivenessStep::Kind::SendPing:
      spdlog::debug("hbone conn {} {}: silent for {} ms, PING", id_, peerLabel_, options_.pingInterval.count());
      liveness_.pingSent = now;
      pingsSent_++;
      nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
      pump();
      if (state_ == State::Closed) return;
      updateSocketInterest();
      break;
    case LivenessStep::Kind::Wait: break;
  }
  armLivenessTimer(step.checkAgainIn);
}

void H2Connection::shutdown() {
  if (state_ != State::Ready || closing_) return;
  closing_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  pump();
  if (state_ == State::Closed) return;
  updateSocketInterest();
  maybeCloseWhenDone();
}

bool H2Connection::shutdownNotice() {
  if (state_ != State::Ready || closing_ || noticeSent_ || !isServer()) return false;
  if (nghttp2_submit_shutdown_notice(session_) != 0) return false;
  noticeSent_ = true;
  pump();
  if (state_ != State::Closed) updateSocketInterest();
  return true;
}

std::vector<StreamInfo> H2Connection::streamInfo() const {
  std::vector<StreamInfo> out;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, s] : streams_)
    out.push_back({id, findHeader(s->request, ":authority").value_or(""), s->stats.status, s->stats.bytesToPeer,
                   s->stats.bytesFromPeer, now - s->started});
  return out;
}

void H2Connection::abortStream(int32_t id, const std::string& reason) {
  Stream* s = findStream(id);
  if (!s) return;
  auto self = shared_from_this();  // onDone may drop the last outside reference
  resetStream(*s, reason, NGHTTP2_CANCEL);
  if (state_ == State::Closed) return;
  pump();
  if (state_ != State::Closed) updateSocketInterest();
}

bool H2Connection::hasCapacity() const {
  if (state_ == State::Closed || state_ == State::Closing || closing_) return false;
  size_t limit = options_.maxConcurrentStreams;
  if (session_)
    limit =
        std::min<size_t>(limit, nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
  return streams_.size() + pendingOpens_.size() < limit;
}

size_t H2Connection::bufferedBytes() const {
  size_t n = tlsOut_.size() - tlsOutHead_ + transport_->bufferedBytes();
  for (const auto& [id, s] : streams_) n += s->held.size() + (s->app ? s->app->bufferedBytes() : 0);
  return n;
}

// ---- TLS I/O (through the transport) -------------------------------------------------------------------------------

void H2Connection::readTls() {
  using SocketRead = tls::PlaintextTransport::SocketRead;
  int reads = 0;
  for (; reads < kMaxSocketReadsPerEvent; ++reads) {
    SocketRead r = transport_->readSocket();
    if (r == SocketRead::Failed) return;
    if (r == SocketRead::Filled || r == SocketRead::Drained) liveness_.lastReceived = std::chrono::steady_clock::now();
    if (!decryptBuffered()) return;
    if (r != SocketRead::Filled) break;  // the socket has nothing more for now
  }
  transport_->releaseIdleInput();
  watchHeaderBlock();
  dispatchRequests();
  if (state_ == State::Closed) return;
  writeDirtyStreams();
  if (state_ == State::Closed || reads < kMaxSocketReadsPerEvent) return;
  // More may be waiting; yield to other connections and come back.
  std::weak_ptr<H2Connection> weak = weak_from_this();
  loop_.post([weak] {
    auto s = weak.lock();
    if (!s || s->state_ == State::Closed) return;
    s->readTls();
    if (s->state_ == State::Closed) return;
    s->pump();
    if (s->state_ == State::Closed) return;
    s->updateSocketInterest();
    s->maybeCloseWhenDone();
  });
}

bool H2Connection::decryptBuffered() {
  using Plaintext = tls::PlaintextTransport::Plaintext;
  char buf[kTlsReadChunk];
  for (;;) {
    Plaintext p = transport_->readPlain(buf, sizeof(buf));
    if (p.kind == Plaintext::Data) {
      headerBlocks_.feed(reinterpret_cast<const uint8_t*>(buf), p.size);
      inCallback_ = true;
      ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), p.size);
      inCallback_ = false;
      if (state_ == State::Closed) return false;
      if (rv < 0) {
        // The peer learns why before the connection goes (RFC 9113 5.4.1). nghttp2
        // queues no GOAWAY of its own for the errors it returns (a SETTINGS or PING
        // ACK flood, too many CONTINUATIONs, a bad preface; found by the
        // hbone_server fuzzer): one is added unless it already has one to send.
        nghttp2_session_terminate_session(session_, goawayCodeFor(static_cast<int>(rv)));
        pump();
        fail(std::string("HTTP/2 protocol error: ") + nghttp2_strerror(static_cast<int>(rv)));
        return false;
      }
      continue;
    }
    if (p.kind == Plaintext::Wait) return true;  // more bytes, or room (pump)
    if (p.kind == Plaintext::PeerClosed) {
      writeDirtyStreams();  // what arrived before the close still reaches the apps
      if (state_ == State::Closed) return false;
      if (streams_.empty())
        closeNow("peer closed the connection");
      else
        fail("peer closed the connection with streams open");
    }
    return false;  // Failed: the transport reported it (fail)
  }
}

void H2Connection::dispatchRequests() {
  if (requestsReady_.empty()) return;
  // nghttp2 may have queued a GOAWAY in this burst (its reset-rate limit) and still
  // accepted the HEADERS after it: a GOAWAY only ignores later streams once it is
  // sent. Sent now, it tells which of these requests the peer will consider
  // unprocessed (RFC 9113 6.8): those must cost nothing (found by the hbone_server
  // fuzzer: a dial for a stream above the GOAWAY's last stream id).
  pump();
  auto ids = std::move(requestsReady_);
  requestsReady_.clear();
  for (int32_t id : ids) {
    if (state_ == State::Closed) return;
    Stream* s = findStream(id);
    if (!s || s->h2Closed || !callbacks_.onRequest) continue;  // reset in the same burst: never seen
    if (id > goawayLastStreamId_) {
      resetStream(*s, "refused: above the last stream id of the GOAWAY sent", NGHTTP2_REFUSED_STREAM);
      continue;
    }
    callbacks_.onRequest(*this, id, s->request);
  }
}

void H2Connection::writeDirtyStreams() {
  auto ids = std::move(dirty_);
  dirty_.clear();
  for (int32_t id : ids) {
    if (state_ == State::Closed) return;
    if (Stream* s = findStream(id)) {
      s->dirty = false;
      if (s->app) s->app->deliver();
    }
  }
}

bool H2Connection::writeStaged(bool wholeRecordsOnly) {
  size_t staged = tlsOut_.size() - tlsOutHead_;
  if (wholeRecordsOnly) staged -= staged % kTlsRecordPlaintext;
  if (staged == 0) return true;
  size_t n = transport_->writePlain(reinterpret_cast<const uint8_t*>(tlsOut_.data()) + tlsOutHead_, staged);
  if (state_ == State::Closed) return false;
  tlsOutHead_ += n;
  if (tlsOutHead_ == tlsOut_.size()) {
    tlsOut_.clear();
    tlsOutHead_ = 0;
  }
  return true;
}

void H2Connection::pump() {
  if (!session_ || state_ == State::Closed) return;
  for (;;) {
    if (!writeStaged()) return;
    bool drained = false;  // nghttp2 has nothing more to send right now
    while (tlsOut_.size() - tlsOutHead_ < kTlsOutHighWater) {
      const uint8_t* data = nullptr;
      inCallback_ = true;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      inCallback_ = false;
      if (state_ == State::Closed) return;
      if (n < 0) return fail(std::string("HTTP/2 send: ") + nghttp2_strerror(static_cast<int>(n)));
      if (n == 0) {
        drained = true;
        break;
      }
      // Small frames (a stream's HEADERS, a 1 KiB DATA, a WINDOW_UPDATE) are
      // gathered into one TLS record of up to 16 KiB; a frame that fills a record
      // by itself goes straight into TLS when nothing is staged before it.
      const size_t len = static_cast<size_t>(n);
      size_t taken = 0;
      if (tlsOut_.size() == tlsOutHead_ && len >= kTlsRecordPlaintext) {
        taken = transport_->writePlain(data, len - len % kTlsRecordPlaintext);
        if (state_ == State::Closed) return;
      }
      if (taken < len) tlsOut_.append(reinterpret_cast<const char*>(data) + taken, len - taken);
      if (tlsOut_.size() - tlsOutHead_ >= kTlsRecordPlaintext && !writeStaged(/*wholeRecordsOnly=*/true)) return;
    }
    if (!writeStaged()) return;
    if (!transport_->flush()) return;
    // Stop when the socket is full (EPOLLOUT resumes) or everything went out. Not
    // when we merely stopped at the high-water mark or TLS's output was full: the
    // socket took it all, and nothing else would call us back (a sender stalls).
    if (transport_->outputPending()) return;
    if (drained && tlsOut_.empty()) return;
  }
}

void H2Connection::updateSocketInterest() {
  if (state_ == State::Closed || state_ == State::Handshaking) return;
  transport_->updateInterest();
}

// ---- streams ---------------------------------------------------------------------------------

H2Connection::Stream* H2Connection::findStream(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Result<int32_t> H2Connection::openStream(const Headers& request, UniqueFd& app, StreamCallbacks callbacks) {
  if (!hasCapacity()) return makeError("HBONE connection to " + peerLabel_ + " takes no more streams");
  std::unique_ptr<StreamEndpoint> bridge;
  if (app) bridge = std::make_unique<FdStreamBridge>(loop_, std::move(app), options_.sendBufferBytes);
  return openStream(request, bridge, std::move(callbacks));
}

Result<int32_t> H2Connection::openStream(const Headers& request, std::unique_ptr<StreamEndpoint>& app,
                                         StreamCallbacks callbacks) {
  if (!hasCapacity()) return makeError("HBONE connection to " + peerLabel_ + " takes no more streams");
  auto s = std::make_unique<Stream>();
  s->request = request;
  s->cb = std::move(callbacks);
  s->app = std::move(app);
  if (state_ == State::Handshaking) {
    pendingOpens_.push_back(std::move(s));
    return 0;
  }
  return submitRequest(std::move(s));
}

// s lands in streams_, or is finished with an error (its id is then negative).
int32_t H2Connection::submitRequest(std::unique_ptr<Stream> s) {
  std::vector<nghttp2_nv> nva;
  for (auto& [k, v] : s->request)
    nva.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  nghttp2_data_provider prd{};
  prd.read_callback = H2Callbacks::readData;
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &prd, nullptr);
  if (id < 0) {
    if (s->app) s->app->abort();
    auto cb = std::move(s->cb.onDone);
    s.reset();
    if (cb) cb(StreamStats{.endReason = std::string("HTTP/2 request: ") + nghttp2_strerror(id)});
    return id;
  }
  s->id = id;
  if (s->app) s->app->attach(*this, id, weak_from_this());
  if (options_.connectResponseTimeout.count() > 0) {
    std::weak_ptr<H2Connection> weak = weak_from_this();
    s->responseTimer = loop_.addTimer(options_.connectResponseTimeout, [weak, id] {
      auto c = weak.lock();
      if (!c || c->state_ == State::Closed) return;
      Stream* st = c->findStream(id);
      if (!st) return;
      st->responseTimer = 0;
      if (st->open) return;
      c->resetStream(*st,
                     "no CONNECT response from " + c->peerLabel_ + " within " +
                         std::to_string(c->options_.connectResponseTimeout.count()) + " ms",
                     NGHTTP2_CANCEL);
      if (c->state_ == State::Closed) return;
      c->pump();
      if (c->state_ != State::Closed) c->updateSocketInterest();
    });
  }
  s->early = options_.earlyData && s->app;  // its app is read once the HEADERS is out (onFrameSent)
  streams_[id] = std::move(s);
  loop_.cancelTimer(idleTimer_);
  idleTimer_ = 0;
  if (!inCallback_) {
    pump();
    if (state_ != State::Closed) updateSocketInterest();
  }
  return id;
}

void H2Connection::respond(int32_t id, int status, UniqueFd tcp, StreamCallbacks callbacks) {
  std::unique_ptr<StreamEndpoint> bridge;
  if (isSuccess(status) && tcp)
    bridge = std::make_unique<FdStreamBridge>(loop_, std::move(tcp), options_.sendBufferBytes);
  respond(id, status, std::move(bridge), std::move(callbacks));
}

void H2Connection::respond(int32_t id, int status, std::unique_ptr<StreamEndpoint> app, StreamCallbacks callbacks) {
  Stream* s = state_ == State::Ready ? findStream(id) : nullptr;
  if (s && s->h2Closed) {
    releaseReceived(*s);
    streams_.erase(id);  // closed by the client while we were deciding
    s = nullptr;
  }
  if (!s) {
    if (app) app->abort();
    if (callbacks.onDone)
      callbacks.onDone(StreamStats{.status = status, .endReason = "client reset the stream before the response"});
    return;
  }
  s->cancel = nullptr;  // answered: nothing left to cancel
  s->cb = std::move(callbacks);
  s->stats.status = status;
  std::string code = std::to_string(status);
  nghttp2_nv nv{reinterpret_cast<uint8_t*>(const_cast<char*>(":status")), reinterpret_cast<uint8_t*>(code.data()), 7,
                code.size(), NGHTTP2_NV_FLAG_NONE};
  if (isSuccess(status) && app) {
    s->app = std::move(app);
    s->app->attach(*this, id, weak_from_this());
    if (!s->held.empty()) {
      s->app->received(s->held.data(), s->held.size());
      std::string().swap(s->held);
    }
    if (s->peerEnded) s->app->end();  // not open yet: forwarded once open
    s->open = true;
    nghttp2_data_provider prd{};
    prd.read_callback = H2Callbacks::readData;
    nghttp2_submit_response(session_, id, &nv, 1, &prd);
    s->app->open();  // DATA the client sent before the answer
  } else {
    s->stats.endReason = "refused with " + code;
    // Early DATA it held reaches no app: dropped, or the stream would wait for it
    // to be delivered and never finish.
    std::string().swap(s->held);
    releaseReceived(*s);
    nghttp2_submit_response(session_, id, &nv, 1, nullptr);
    s->refused = true;  // once the answer is out, the stream is reset (onFrameSent)
  }
  if (!inCallback_ && state_ != State::Closed) {
    pump();
    if (state_ != State::Closed) updateSocketInterest();
  }
}

void H2Connection::setCancelHandler(int32_t id, std::function<void(const std::string&)> cancel) {
  Stream* s = findStream(id);
  if (!s || s->h2Closed) {
    if (cancel) cancel("the stream has already ended");
    return;
  }
  s->cancel = std::move(cancel);
}

// ---- StreamHost: calls from a stream's app side ----------------------------------------------

void H2Connection::consumed(int32_t id, size_t n) {
  Stream* s = findStream(id);
  if (!s) return;
  s->stats.bytesFromPeer += n;
  const size_t taken = std::min(n, s->budgeted);
  s->budgeted -= taken;
  budget().release(taken);
  if (!session_) return;
  nghttp2_session_consume_stream(session_, id, n);
  if (s->connectionOwed) {
    const size_t owed = std::min(n, s->connectionOwed);
    s->connectionOwed -= owed;
    nghttp2_session_consume_connection(session_, owed);
  }
}

ReceiveBudget& H2Connection::budget() const {
  return options_.receiveBudget ? *options_.receiveBudget : ReceiveBudget::process();
}

void H2Connection::releaseReceived(Stream& s) {
  budget().release(std::exchange(s.budgeted, 0));
  const size_t owed = std::exchange(s.connectionOwed, 0);
  if (owed && session_ && state_ != State::Closed) nghttp2_session_consume_connection(session_, owed);
}

void H2Connection::sendReady(int32_t id) {
  Stream* s = findStream(id);
  if (s && s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(session_, id);
  }
}

int64_t H2Connection::peerWindow(int32_t id) const {
  if (!session_ || state_ == State::Closed) return 0;
  const int64_t stream = nghttp2_session_get_stream_remote_window_size(session_, id);
  const int64_t connection = nghttp2_session_get_remote_window_size(session_);
  return std::min(stream, connection);  // nghttp2 answers negative errors for an unknown stream
}

void H2Connection::peerWindowOpened(int32_t id) {
  std::vector<int32_t> ids;  // a stream may end while told (appFailed): by id, found again each
  if (id != 0)
    ids.push_back(id);
  else
    for (const auto& [sid, s] : streams_) ids.push_back(sid);
  for (int32_t sid : ids) {
    Stream* s = findStream(sid);
    if (s && (s->open || s->early) && s->app && !s->h2Closed) s->app->windowOpened();
    if (state_ == State::Closed) return;
  }
}

void H2Connection::appFailed(int32_t id, const std::string& reason, AppError error) {
  if (Stream* s = findStream(id))
    resetStream(*s, reason, error == AppError::Reset ? NGHTTP2_CONNECT_ERROR : NGHTTP2_INTERNAL_ERROR);
}

void H2Connection::delivered(int32_t id) {
  if (Stream* s = findStream(id)) maybeFinishStream(*s);
}

void H2Connection::afterAppEvent() {
  // Every stream's endpoint calls this after each of its events, and under load
  // many streams are ready in one loop round: their frames go out together at the
  // round's end, in one send(2) and in full TLS records, instead of a send and a
  // record per stream (the waypoint sent ten 1 KiB records one by one).
  if (flushQueued_ || state_ == State::Closed) return;
  flushQueued_ = true;
  loop_.atRoundEnd([weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->flushQueued_ = false;
    self->pump();
    if (self->state_ == State::Closed) return;
    self->updateSocketInterest();
    self->maybeCloseWhenDone();
  });
}

void H2Connection::resetStream(Stream& s, const std::string& reason, uint32_t h2Code) {
  if (session_ && !s.h2Closed && state_ != State::Closed)
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, h2Code);
  if (s.app) s.app->abort();
  s.stats.endReason = reason;
  finishStream(s.id);
}

void H2Connection::maybeFinishStream(Stream& s) {
  if (s.h2Closed && s.undelivered() == 0 && (!s.app || !s.open || s.app->endDelivered())) {
    if (s.stats.endReason.empty()) s.stats.endReason = "closed";
    finishStream(s.id);
  }
}

void H2Connection::finishStream(int32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  releaseReceived(*s);
  if (s->responseTimer) loop_.cancelTimer(s->responseTimer);
  if (s->app) s->app->close();
  if (auto cancel = std::move(s->cancel)) cancel(s->stats.endReason.empty() ? "stream ended" : s->stats.endReason);
  s->stats.duration = std::chrono::steady_clock::now() - s->started;
  transport_->sessionNames(s->stats.tlsVersion, s->stats.tlsCipher);
  if (s->cb.onDone) s->cb.onDone(s->stats);
  if (streams_.empty() && state_ == State::Ready) {
    if (closing_)
      maybeCloseWhenDone();
    else
      armIdleTimer();
  }
}

// ---- nghttp2 callbacks -----------------------------------------------------------------------

int H2Connection::onBeginHeaders(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  if (!isServer()) return 0;
  auto s = std::make_unique<Stream>();
  s->id = frame->hd.stream_id;
  streams_[s->id] = std::move(s);
  loop_.cancelTimer(idleTimer_);
  idleTimer_ = 0;
  return 0;
}

int H2Connection::onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
  Stream* s = findStream(frame->hd.stream_id);
  if (!s) return 0;
  auto& list = isServer() ? s->request : s->response;
  // SETTINGS_MAX_HEADER_LIST_SIZE counts 32 bytes of overhead per field (RFC 9113 6.5.2).
  s->headerBytes += name.size() + value.size() + 32;
  if (list.size() >= 64 || s->headerBytes > options_.maxHeaderListBytes)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  list.emplace_back(name, value);
  return 0;
}

int H2Connection::onFrameRecv(const nghttp2_frame* frame) {
  int32_t id = frame->hd.stream_id;
  Stream* s = id ? findStream(id) : nullptr;
  switch (frame->hd.type) {
    case NGHTTP2_GOAWAY: closing_ = true; break;
    case NGHTTP2_WINDOW_UPDATE: peerWindowOpened(id); return 0;
    case NGHTTP2_SETTINGS:  // SETTINGS_INITIAL_WINDOW_SIZE may have opened every stream's window
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) peerWindowOpened(0);
      return 0;
    case NGHTTP2_HEADERS:
      if (!s) break;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        requestsReady_.push_back(id);  // dispatched after the burst (dispatchRequests)
      } else if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        auto st = findHeader(s->response, ":status");
        int status = st ? std::atoi(st->c_str()) : 0;
        if (status >= 100 && status < 200) {
          s->response.clear();  // interim; the final answer follows
          break;
        }
        s->stats.status = status;
        if (s->responseTimer) loop_.cancelTimer(s->responseTimer);
        s->responseTimer = 0;
        if (s->cb.onResponse) s->cb.onResponse(status);
        s = findStream(id);
        if (!s) break;
        if (isSuccess(status)) {
          s->open = true;
          if (s->app) s->app->open();
          s = findStream(id);
        } else {
          resetStream(*s, "HBONE server answered " + std::to_string(status), NGHTTP2_CANCEL);
          return 0;
        }
      }
      break;
    default: break;
  }
  if (s && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    s->peerEnded = true;
    if (s->app) s->app->end();
  }
  return 0;
}

int H2Connection::onFrameSent(const nghttp2_frame* frame) {
  // nghttp2 may send GOAWAY on its own (the reset-rate limit): no new streams then.
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    closing_ = true;
    goawayLastStreamId_ = std::min(goawayLastStreamId_, frame->goaway.last_stream_id);
  }
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Stream* s = findStream(frame->hd.stream_id);
  // A CONNECT is out: nghttp2 has the stream (and its window) only from now, so
  // only now may its app be read for early data.
  if (s && s->early && frame->headers.cat == NGHTTP2_HCAT_REQUEST && s->app && !s->h2Closed) {
    s->app->sendEarly();  // may reset the stream (appFailed)
    return 0;
  }
  // An error answer is complete: ask the client to stop sending, without error
  // (RFC 9113 8.1), so a client that never half-closes does not hold the stream.
  // Submitted only now: a reset queued with the answer would cancel the answer.
  if (s && s->refused && !s->h2Closed) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
  return 0;
}

int H2Connection::onDataChunk(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = findStream(id);
  if (!s || s->refused) {
    nghttp2_session_consume(session_, id, len);  // keeps the connection window open
    return 0;
  }
  // The connection window comes back now unless the process is over its budget
  // (receive_budget.h); the stream's own window only once the app took the bytes.
  s->budgeted += len;
  if (budget().hold(len))
    nghttp2_session_consume_connection(session_, len);
  else
    s->connectionOwed += len;
  if (s->app)
    s->app->received(reinterpret_cast<const char*>(data), len);
  else
    s->held.append(reinterpret_cast<const char*>(data), len);
  if (!s->dirty) {  // written once per burst of records (readTls), not once per frame
    s->dirty = true;
    dirty_.push_back(id);
  }
  return 0;
}

int H2Connection::onStreamClose(int32_t id, uint32_t code) {
  Stream* s = findStream(id);
  if (!s) return 0;
  s->h2Closed = true;
  if (code != NGHTTP2_NO_ERROR) {
    if (s->app) s->app->abort();
    if (s->stats.endReason.empty())
      s->stats.endReason = std::string("reset by peer (") + nghttp2_http2_strerror(code) + ")";
    finishStream(id);
    return 0;
  }
  // NO_ERROR after a complete answer, or both sides ended: deliver what is left.
  if (!s->peerEnded && s->open && s->app) {
    // The peer stopped the stream early without error: nothing more will arrive.
    s->peerEnded = true;
    s->app->end();
    return 0;
  }
  maybeFinishStream(*s);
  return 0;
}

ssize_t H2Connection::readData(int32_t id, uint8_t* buf, size_t length, uint32_t* flags) {
  Stream* s = findStream(id);
  if (!s || !(s->open || s->early) || !s->app) {
    if (s) s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  bool eof = false;
  size_t n = s->app->take(buf, length, &eof);
  s->stats.bytesToPeer += n;
  if (eof) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  } else if (n == 0) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  s->app->resumeReading();  // the send buffer has room again (may reset the stream)
  return static_cast<ssize_t>(n);
}

}  // namespace warren::hbone
