#include "hbone/stream_channel.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace warren::hbone {

struct ChannelState : std::enable_shared_from_this<ChannelState> {
  ChannelState(io::EventLoop& l, size_t capacity) : loop(l), capacity(capacity) {}

  io::EventLoop& loop;
  const size_t capacity;

  // The session's side (StreamEndpoint face).
  StreamHost* host = nullptr;
  int32_t id = -1;
  std::weak_ptr<void> guard;
  bool open = false;          // 2xx sent or received: bytes flow
  bool endpointGone = false;  // close(): the stream is over
  bool aborted = false;       // reset, or the connection lost

  // Peer -> consumer.
  std::string in;
  size_t inHead = 0;
  bool peerEnded = false;

  // Consumer -> peer.
  std::string out;
  size_t outHead = 0;
  bool consumerClosed = false;  // the consumer's face is gone: END_STREAM after out
  bool writeShut = false;       // shutdownWrite(): END_STREAM after out, reading goes on
  bool tookFromFull = false;

  // The consumer's watch, emulated level-triggered.
  uint32_t events = 0;
  std::shared_ptr<io::ByteStream::Callback> cb;
  bool notifyQueued = false;

  // Host calls owed, made from a deferred task.
  bool hostQueued = false;
  bool owesDelivered = false, owesSend = false;
  std::string failReason;  // non-empty: appFailed(Reset) owed

  size_t undelivered() const { return in.size() - inHead; }
  size_t outPending() const { return out.size() - outHead; }

  uint32_t ready() const {
    uint32_t r = 0;
    if (undelivered() > 0 || peerEnded || endpointGone) r |= EPOLLIN;
    if (aborted) r |= EPOLLIN | EPOLLHUP | EPOLLERR;
    if (!aborted && !endpointGone && !writeShut && outPending() < capacity) r |= EPOLLOUT;
    return r;
  }

  // Tells the consumer what is ready, at the end of this loop round.
  void notify() {
    if (notifyQueued || !cb || consumerClosed) return;
    if (!(ready() & (events | EPOLLHUP | EPOLLERR))) return;
    notifyQueued = true;
    loop.defer([self = shared_from_this()] { self->runNotify(); });
  }
  void runNotify() {
    notifyQueued = false;
    if (!cb || consumerClosed) return;
    const uint32_t r = ready() & (events | EPOLLHUP | EPOLLERR);
    if (!r) return;
    auto keep = cb;  // the callback may unwatch (and so drop) itself
    (*keep)(r);
    notify();  // level-triggered: still ready, again next round
  }

  // Makes the owed host calls at the end of this loop round.
  void owe() {
    if (hostQueued || !host) return;
    hostQueued = true;
    loop.defer([self = shared_from_this()] { self->runHost(); });
  }
  void runHost() {
    hostQueued = false;
    auto alive = guard.lock();
    if (!alive || !host) return;
    StreamHost& h = *host;
    const int32_t sid = id;
    if (!failReason.empty()) {
      // Ends the stream: the endpoint is closed (host cleared) before it returns.
      h.appFailed(sid, failReason, StreamHost::AppError::Reset);
    } else {
      if (std::exchange(owesSend, false)) h.sendReady(sid);
      if (std::exchange(owesDelivered, false)) h.delivered(sid);  // may finish the stream
    }
    h.afterAppEvent();
  }
};

std::pair<std::unique_ptr<ChannelEndpoint>, std::unique_ptr<ChannelSocket>> makeChannel(io::EventLoop& loop,
                                                                                        size_t sendBufferBytes) {
  auto st = std::make_shared<ChannelState>(loop, std::max<size_t>(sendBufferBytes, 1));
  return {std::make_unique<ChannelEndpoint>(st), std::make_unique<ChannelSocket>(st)};
}

// ---- the consumer's face --------------------------------------------------------

ChannelSocket::~ChannelSocket() {
  ChannelState& s = *st_;
  s.cb.reset();
  s.events = 0;
  s.consumerClosed = true;
  if (s.endpointGone || s.aborted) return;
  // As close(2): unread bytes, or a reset asked for, make it a reset; else the
  // peer gets END_STREAM after what is still buffered.
  if (s.failReason.empty() && s.undelivered() > 0) s.failReason = "the waypoint closed the stream with bytes unread";
  s.owesSend = true;
  s.owe();
}

Status ChannelSocket::watch(uint32_t events, Callback cb) {
  st_->events = events;
  st_->cb = std::make_shared<Callback>(std::move(cb));
  st_->notify();
  return okStatus();
}

Status ChannelSocket::modify(uint32_t events) {
  st_->events = events;
  st_->notify();
  return okStatus();
}

void ChannelSocket::unwatch() {
  st_->cb.reset();
  st_->events = 0;
}

ssize_t ChannelSocket::read(void* buf, size_t len) {
  ChannelState& s = *st_;
  if (s.undelivered() > 0 && len > 0) {
    const size_t n = std::min(len, s.undelivered());
    std::memcpy(buf, s.in.data() + s.inHead, n);
    s.inHead += n;
    if (s.inHead == s.in.size()) {
      s.in.clear();
      s.inHead = 0;
      s.owesDelivered = true;  // all read: with the peer's end, the stream may finish
    }
    // Only what the consumer took is acknowledged to the peer.
    if (s.host && !s.guard.expired()) s.host->consumed(s.id, n);
    s.owe();
    return static_cast<ssize_t>(n);
  }
  if (s.aborted) {
    errno = ECONNRESET;
    return -1;
  }
  if (s.peerEnded || s.endpointGone) return 0;
  errno = EAGAIN;
  return -1;
}

ssize_t ChannelSocket::send(const void* buf, size_t len) {
  ChannelState& s = *st_;
  if (s.aborted) {
    errno = ECONNRESET;
    return -1;
  }
  if (s.endpointGone || s.writeShut) {
    errno = EPIPE;
    return -1;
  }
  const size_t room = s.capacity - std::min(s.capacity, s.outPending());
  if (room == 0) {
    errno = EAGAIN;
    return -1;
  }
  const size_t n = std::min(len, room);
  if (s.outHead > 0 && s.outHead == s.out.size()) {
    s.out.clear();
    s.outHead = 0;
  }
  s.out.append(static_cast<const char*>(buf), n);
  s.owesSend = true;
  s.owe();
  return static_cast<ssize_t>(n);
}

void ChannelSocket::shutdownWrite() {
  if (st_->writeShut) return;
  st_->writeShut = true;
  st_->owesSend = true;
  st_->owe();
}

void ChannelSocket::resetOnClose() {
  if (st_->failReason.empty()) st_->failReason = "reset by the waypoint";
}

// ---- the session's face ------------------------------------------------------------

ChannelEndpoint::~ChannelEndpoint() {
  // Gone without close() (a stream that never got an id): the consumer sees a reset.
  if (!st_->endpointGone) {
    st_->aborted = true;
    st_->endpointGone = true;
    st_->host = nullptr;
    st_->notify();
  }
}

void ChannelEndpoint::attach(StreamHost& host, int32_t id, std::weak_ptr<void> guard) {
  st_->host = &host;
  st_->id = id;
  st_->guard = std::move(guard);
  // The consumer may have finished (or reset) before the stream had an id.
  if (!st_->failReason.empty() || st_->consumerClosed || st_->writeShut) {
    st_->owesSend = true;
    st_->owe();
  }
}

void ChannelEndpoint::open() {
  st_->open = true;
  deliver();
  if (st_->outPending() > 0 || st_->consumerClosed || st_->writeShut) {
    st_->owesSend = true;
    st_->owe();
  }
}

void ChannelEndpoint::received(const char* data, size_t len) { st_->in.append(data, len); }

void ChannelEndpoint::deliver() {
  ChannelState& s = *st_;
  if (!s.open) return;
  if (s.consumerClosed && s.undelivered() > 0 && s.failReason.empty()) {
    // Bytes for a consumer that has gone: as a closed socket answers them.
    s.failReason = "the waypoint closed the stream with bytes unread";
    s.owe();
    return;
  }
  if (s.undelivered() == 0) {
    // Nothing left for the consumer to read (an END_STREAM alone): delivered.
    s.owesDelivered = true;
    s.owe();
  }
  s.notify();
}

void ChannelEndpoint::end() {
  st_->peerEnded = true;
  deliver();
}

size_t ChannelEndpoint::take(uint8_t* buf, size_t len, bool* eof) {
  ChannelState& s = *st_;
  s.tookFromFull = s.outPending() >= s.capacity;
  const size_t n = std::min(len, s.outPending());
  if (n) {
    std::memcpy(buf, s.out.data() + s.outHead, n);
    s.outHead += n;
    if (s.outHead == s.out.size()) {
      s.out.clear();
      s.outHead = 0;
    }
  }
  *eof = s.outPending() == 0 && (s.consumerClosed || s.writeShut);
  return n;
}

void ChannelEndpoint::resumeReading() {
  if (std::exchange(st_->tookFromFull, false)) st_->notify();  // room again: EPOLLOUT
}

void ChannelEndpoint::abort() {
  st_->aborted = true;
  st_->notify();
}

void ChannelEndpoint::close() {
  ChannelState& s = *st_;
  s.endpointGone = true;
  s.host = nullptr;
  s.guard.reset();
  s.notify();
}

size_t ChannelEndpoint::undelivered() const { return st_->undelivered(); }

bool ChannelEndpoint::endDelivered() const { return st_->peerEnded && st_->undelivered() == 0; }

size_t ChannelEndpoint::bufferedBytes() const { return st_->outPending() + st_->undelivered(); }

}  // namespace warren::hbone
