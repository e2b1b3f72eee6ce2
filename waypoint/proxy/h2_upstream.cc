#include "waypoint/proxy/h2_upstream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

namespace warren::waypoint {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxReadsPerEvent = 4;
constexpr size_t kOutHighWater = 64 * 1024;

nghttp2_nv makeNv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::vector<nghttp2_nv> toNva(const http1::HeaderList& a, const http1::HeaderList& b = {}) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(a.size() + b.size());
  for (const auto& [n, v] : a) nva.push_back(makeNv(n, v));
  for (const auto& [n, v] : b) nva.push_back(makeNv(n, v));
  return nva;
}

}  // namespace

struct H2Upstream::Stream {
  H2Upstream::Sink* sink = nullptr;
  int32_t key = 0;
  http1::HeaderList block;  // the HEADERS block being received
  size_t blockBytes = 0;
  bool gotHead = false, ended = false, canceled = false;
  std::string failReason;  // set when we reset it ourselves
  // Request body, from the sink, until the upstream's window takes it.
  std::string body;
  size_t bodyHead = 0;
  bool bodyEnded = false, deferred = false;
  http1::HeaderList trailers;
  size_t bodyPending() const { return body.size() - bodyHead; }
};

struct H2UpstreamCallbacks {
  static H2Upstream* self(void* u) { return static_cast<H2Upstream*>(u); }
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
  static int streamClose(nghttp2_session*, int32_t id, uint32_t code, void* u) {
    return self(u)->onStreamClose(id, code);
  }
  static ssize_t readBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags, nghttp2_data_source*,
                          void* u) {
    return self(u)->readBody(id, buf, len, flags);
  }
};

// ---- lifecycle ------------------------------------------------------------------

std::shared_ptr<H2Upstream> H2Upstream::create(io::EventLoop& loop, Options options, std::string label) {
  auto up = std::shared_ptr<H2Upstream>(new H2Upstream(loop, options, std::move(label)));
  if (!up->startSession()) up->failed_ = true;
  return up;
}

H2Upstream::H2Upstream(io::EventLoop& loop, Options options, std::string label)
    : loop_(loop), options_(options), label_(std::move(label)) {}

H2Upstream::~H2Upstream() {
  if (fd_ && events_) fd_->unwatch();
  if (h2_) nghttp2_session_del(h2_);
}

bool H2Upstream::startSession() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2UpstreamCallbacks::beginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2UpstreamCallbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2UpstreamCallbacks::frameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2UpstreamCallbacks::dataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2UpstreamCallbacks::streamClose);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return false;
  }
  // Response bytes count as taken only once the client took them (consumed()).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, 8);
  nghttp2_option_set_max_outbound_ack(opt, 100);
  int rv = nghttp2_session_client_new2(&h2_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return false;
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.streamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(options_.maxHeaderListBytes)},
  };
  rv = nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv == 0)
    rv = nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(options_.connectionWindow));
  return rv == 0;
}

void H2Upstream::attach(io::ByteStreamPtr fd) {
  if (closed_ || failed_) return;
  auto keep = shared_from_this();
  fd_ = std::move(fd);
  std::weak_ptr<H2Upstream> weak = weak_from_this();
  events_ = EPOLLIN | EPOLLOUT;
  if (auto st = fd_->watch(events_,
                           [weak](uint32_t ev) {
                             if (auto self = weak.lock()) self->onEvent(ev);
                           });
      !st) {
    events_ = 0;
    return fail("cannot watch the upstream: " + st.error().message);
  }
  pump();
  afterEvent();
}

void H2Upstream::fail(const std::string& why) {
  if (closed_) return;
  auto keep = shared_from_this();
  failAll(why);
  tellSinks();
}

void H2Upstream::close() {
  if (closed_) return;
  closed_ = failed_ = true;
  streams_.clear();
  heard_.clear();
  if (fd_) {
    if (events_) fd_->unwatch();
    events_ = 0;
    fd_.reset();
  }
}

bool H2Upstream::usable() const {
  return !failed_ && !goaway_ && !closed_ && h2_ && nghttp2_session_get_next_stream_id(h2_) < (1u << 30);
}

void H2Upstream::failAll(const std::string& why) {
  failed_ = true;
  // The sink may cancel or submit from its callbacks: they see an empty map.
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams)
    if (!s->ended && !s->canceled) heard(*s).upstreamFailed(s->key, why, !s->gotHead);
  if (fd_) {
    if (events_) fd_->unwatch();
    events_ = 0;
    fd_.reset();
  }
}

// ---- requests -------------------------------------------------------------------

int32_t H2Upstream::submit(Sink& sink, int32_t key, const http1::HeaderList& pseudo, const http1::HeaderList& fields,
                           bool endStream) {
  if (!usable()) return 0;
  auto nva = toNva(pseudo, fields);
  nghttp2_data_provider prd{};
  prd.read_callback = H2UpstreamCallbacks::readBody;
  const int32_t id = nghttp2_submit_request(h2_, nullptr, nva.data(), nva.size(), endStream ? nullptr : &prd, nullptr);
  if (id < 0) {
    spdlog::warn("{}: request: {}", label_, nghttp2_strerror(id));
    return 0;
  }
  auto s = std::make_unique<Stream>();
  s->sink = &sink;
  s->key = key;
  s->bodyEnded = endStream;
  streams_[id] = std::move(s);
  afterSinkCall();
  return id;
}

void H2Upstream::forget(Sink& sink) {
  std::erase(heard_, &sink);
  bool sent = false;
  for (auto& [id, s] : streams_) {
    if (s->sink != &sink) continue;
    s->sink = nullptr;
    if (s->canceled) continue;
    s->canceled = true;
    if (!closed_ && h2_) sent |= nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) == 0;
  }
  if (sent) afterSinkCall();
}

void H2Upstream::sendBody(int32_t upId, const char* data, size_t len) {
  auto it = streams_.find(upId);
  if (it == streams_.end() || it->second->bodyEnded) return;
  Stream& s = *it->second;
  s.body.append(data, len);
  if (s.deferred) {
    s.deferred = false;
    nghttp2_session_resume_data(h2_, upId);
  }
  afterSinkCall();
}

void H2Upstream::endBody(int32_t upId, http1::HeaderList trailers) {
  auto it = streams_.find(upId);
  if (it == streams_.end() || it->second->bodyEnded) return;
  Stream& s = *it->second;
  s.bodyEnded = true;
  s.trailers = std::move(trailers);
  if (s.deferred) {
    s.deferred = false;
    nghttp2_session_resume_data(h2_, upId);
  }
  afterSinkCall();
}

void H2Upstream::consumed(int32_t upId, size_t n) {
  if (closed_ || !h2_ || n == 0) return;
  // Also for a stream already closed: the connection's window must come back.
  nghttp2_session_consume(h2_, upId, n);
  afterSinkCall();
}

void H2Upstream::cancel(int32_t upId) {
  auto it = streams_.find(upId);
  if (it == streams_.end()) return;
  it->second->canceled = true;
  nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, upId, NGHTTP2_CANCEL);
  afterSinkCall();
}

// ---- I/O -------------------------------------------------------------------------

void H2Upstream::onEvent(uint32_t events) {
  if (closed_ || failed_) return;
  auto keep = shared_from_this();
  if ((events & EPOLLOUT) && !flush()) {
    failAll("upstream write failed");
    return tellSinks();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (int i = 0; i < kMaxReadsPerEvent && !failed_; ++i) {
      char buf[kReadChunk];
      ssize_t n = fd_->read(buf, sizeof(buf));
      if (n > 0) {
        inNghttp2_ = true;
        ssize_t rv = nghttp2_session_mem_recv(h2_, reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n));
        inNghttp2_ = false;
        if (closed_) return;
        if (rv < 0) {
          spdlog::info("{}: HTTP/2: {}", label_, nghttp2_strerror(static_cast<int>(rv)));
          pump();  // the GOAWAY nghttp2 queued, if the socket takes it
          failAll(std::string("upstream HTTP/2 error: ") + nghttp2_strerror(static_cast<int>(rv)));
          break;
        }
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      failAll(n == 0 ? "upstream closed the connection" : std::string("upstream read: ") + std::strerror(errno));
    }
  }
  afterEvent();
}

void H2Upstream::afterEvent() {
  if (closed_) return;
  if (!failed_) {
    pump();
    updateInterest();
  }
  tellSinks();
}

H2Upstream::Sink& H2Upstream::heard(Stream& s) {
  if (std::find(heard_.begin(), heard_.end(), s.sink) == heard_.end()) heard_.push_back(s.sink);
  return *s.sink;
}

void H2Upstream::afterSinkCall() {
  pump();
  updateInterest();
  // What the pump did may concern other sinks (their request bodies taken): they
  // hear of it at the end of this round, not from inside the caller's own call.
  if (heard_.empty() || tellDeferred_) return;
  tellDeferred_ = true;
  loop_.defer([weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->tellDeferred_ = false;
    if (!self->closed_) self->tellSinks();
  });
}

void H2Upstream::tellSinks() {
  // A sink may submit, cancel or forget from its afterUpstreamEvent: work on a copy.
  auto sinks = std::move(heard_);
  heard_.clear();
  for (Sink* sink : sinks) sink->afterUpstreamEvent();
}

void H2Upstream::pump() {
  if (inNghttp2_ || !fd_ || failed_ || closed_) return;
  for (;;) {
    bool drained = false;
    while (out_.size() - outHead_ < kOutHighWater) {
      const uint8_t* data = nullptr;
      inNghttp2_ = true;
      ssize_t n = nghttp2_session_mem_send(h2_, &data);
      inNghttp2_ = false;
      if (closed_ || failed_) return;
      if (n < 0) return failAll(std::string("upstream HTTP/2 send: ") + nghttp2_strerror(static_cast<int>(n)));
      if (n == 0) {
        drained = true;
        break;
      }
      out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (!flush()) return failAll("upstream write failed");
    if (out_.size() > outHead_ || drained) return;
  }
}

bool H2Upstream::flush() {
  while (outHead_ < out_.size()) {
    ssize_t n = fd_->send(out_.data() + outHead_, out_.size() - outHead_);
    if (n > 0) {
      outHead_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  if (outHead_ == out_.size()) {
    out_.clear();
    outHead_ = 0;
  } else if (outHead_ > (64u << 10)) {
    out_.erase(0, outHead_);
    outHead_ = 0;
  }
  return true;
}

void H2Upstream::updateInterest() {
  if (!fd_ || failed_ || closed_ || inNghttp2_) return;
  const bool pending = out_.size() > outHead_;
  if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_) && !pending) {
    // Both sides said GOAWAY and every stream is done.
    return failAll("connection ended");
  }
  uint32_t want = EPOLLIN;  // the window bounds what the upstream can send
  if (pending) want |= EPOLLOUT;
  if (want == events_) return;
  if (fd_->modify(want)) events_ = want;
}

// ---- nghttp2 callbacks ------------------------------------------------------------

int H2Upstream::onBeginHeaders(const nghttp2_frame* frame) {
  auto it = streams_.find(frame->hd.stream_id);
  if (it == streams_.end()) return 0;
  it->second->block.clear();
  it->second->blockBytes = 0;
  return 0;
}

int H2Upstream::onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
  auto it = streams_.find(frame->hd.stream_id);
  if (it == streams_.end()) return 0;
  Stream& s = *it->second;
  s.blockBytes += name.size() + value.size() + 32;  // RFC 9113's accounting
  if (s.blockBytes > options_.maxHeaderListBytes) {
    s.failReason = "upstream header block over " + std::to_string(options_.maxHeaderListBytes) + " bytes";
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream
  }
  s.block.emplace_back(name, value);
  return 0;
}

int H2Upstream::onFrameRecv(const nghttp2_frame* frame) {
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    goaway_ = true;  // streams above its last id are closed (refused) by nghttp2
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  auto it = streams_.find(frame->hd.stream_id);
  if (it == streams_.end() || it->second->canceled) return 0;
  Stream& s = *it->second;
  const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS) {
    auto block = std::move(s.block);
    s.block.clear();
    if (!s.gotHead) {
      int status = 0;
      http1::HeaderList fields;
      for (auto& [n, v] : block) {
        if (n == ":status")
          std::from_chars(v.data(), v.data() + v.size(), status);
        else if (n.empty() || n.front() != ':')
          fields.emplace_back(std::move(n), std::move(v));
      }
      if (status < 200) return 0;  // interim (nghttp2 has checked :status is there and valid)
      s.gotHead = true;
      s.ended = end;
      heard(s).upstreamHeaders(s.key, status, std::move(fields), end);
    } else {
      s.ended = true;  // trailers always end the stream (nghttp2 enforces it)
      heard(s).upstreamTrailers(s.key, std::move(block));
    }
  } else if (end) {
    s.ended = true;
  }
  // The sink may have canceled the stream meanwhile.
  if (end && (it = streams_.find(frame->hd.stream_id)) != streams_.end() && !it->second->canceled)
    heard(*it->second).upstreamEnded(it->second->key);
  return 0;
}

int H2Upstream::onDataChunk(int32_t id, const uint8_t* data, size_t len) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second->canceled) {
    nghttp2_session_consume(h2_, id, len);  // nobody will take it: window back at once
    return 0;
  }
  heard(*it->second).upstreamData(it->second->key, data, len);
  return 0;
}

int H2Upstream::onStreamClose(int32_t id, uint32_t code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  auto s = std::move(it->second);
  streams_.erase(it);
  if (s->ended || s->canceled) return 0;
  std::string why = !s->failReason.empty() ? s->failReason
                    : code == NGHTTP2_REFUSED_STREAM
                        ? "upstream refused the stream"
                        : std::string("reset by upstream (") + nghttp2_http2_strerror(code) + ")";
  heard(*s).upstreamFailed(s->key, why, !s->gotHead);
  return 0;
}

ssize_t H2Upstream::readBody(int32_t id, uint8_t* buf, size_t len, uint32_t* flags) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Stream& s = *it->second;
  const size_t n = std::min(len, s.bodyPending());
  if (n) {
    std::memcpy(buf, s.body.data() + s.bodyHead, n);
    s.bodyHead += n;
    if (s.bodyHead == s.body.size()) {
      s.body.clear();
      s.bodyHead = 0;
    }
    // Heard, so that the sink's afterUpstreamEvent sends the window it gives back
    // to its client: taken here after the upstream's WINDOW_UPDATE, with nothing
    // else to tell it, the sink would otherwise hold that window until some other
    // event, and a client streaming up would stall (a forgotten stream's body is
    // dropped with it).
    if (s.sink) heard(s).requestBodyTaken(s.key, n);
  }
  if (s.bodyPending() == 0 && s.bodyEnded) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!s.trailers.empty()) {
      // nghttp2 copies the block: the trailers may go with the stream.
      auto nva = toNva(s.trailers);
      if (nghttp2_submit_trailer(h2_, id, nva.data(), nva.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  } else if (n == 0) {
    s.deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
}

}  // namespace warren::waypoint
