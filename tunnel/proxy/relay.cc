#include "tunnel/proxy/relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/tcp.h"

namespace warren::proxy {

namespace {

// Reads per pump() call: one busy connection must not starve the others on the
// loop; level-triggered epoll brings it back next round.
constexpr int kReadsPerPump = 4;

const char* name(bool isA) { return isA ? "a" : "b"; }
bool isReset(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED; }

std::string failure(const char* op, bool isA, int err) {
  if (isReset(err)) return std::string("reset by ") + name(isA);
  return std::string("error: ") + op + " " + name(isA) + ": " + std::strerror(err);
}

}  // namespace

Relay::Relay(io::EventLoop& loop, UniqueFd a, UniqueFd b, std::function<void(const RelayStats&)> onDone,
             size_t capacity)
    : loop_(loop),
      capacity_(std::max<size_t>(capacity, 1)),
      onDone_(std::move(onDone)),
      started_(std::chrono::steady_clock::now()) {
  a_.fd = std::move(a);
  b_.fd = std::move(b);
}

std::shared_ptr<Relay> Relay::start(io::EventLoop& loop, UniqueFd a, UniqueFd b,
                                    std::function<void(const RelayStats&)> onDone, size_t bufferBytes) {
  std::shared_ptr<Relay> r(new Relay(loop, std::move(a), std::move(b), std::move(onDone), bufferBytes));
  Status st = okStatus();
  for (End* e : {&r->a_, &r->b_}) {
    if (st) st = io::setNonBlocking(e->fd.get());
    // The relay forwards whatever it has at once; Nagle here would only add latency
    // on top of the application's own choice. Not TCP (tests, unix sockets): ignored.
    int one = 1;
    if (st) ::setsockopt(e->fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (st) st = r->updateInterest();
  if (!st) {
    std::string why = "error: starting relay: " + st.error().message;
    loop.post([r, why] { r->finish(why, true); });
  }
  return r;
}

std::string Relay::pump(Direction& d, Side src) {
  const bool srcIsA = src == Side::A;
  const int from = end(src).fd.get();
  const int to = end(srcIsA ? Side::B : Side::A).fd.get();
  int readsLeft = kReadsPerPump;
  bool sinkBlocked = false;
  for (;;) {
    while (!sinkBlocked && d.pending() > 0) {
      ssize_t n = ::send(to, d.buf.get() + d.head, d.pending(), MSG_NOSIGNAL);
      if (n > 0) {
        d.head += static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        sinkBlocked = true;
      } else if (n < 0 && errno != EINTR) {
        return failure("write to", !srcIsA, errno);
      }
    }
    if (d.pending() == 0) d.head = d.tail = 0;
    if (d.eof) {
      if (d.pending() == 0 && !d.shut) {
        if (::shutdown(to, SHUT_WR) != 0) return failure("shutdown", !srcIsA, errno == ENOTCONN ? ECONNRESET : errno);
        d.shut = true;
        d.buf.reset();
      }
      return "";
    }
    if (d.pending() == capacity_ || readsLeft-- == 0) return "";
    if (!d.buf) d.buf = std::make_unique_for_overwrite<char[]>(capacity_);
    if (d.tail == capacity_) {  // room only at the front: compact (sink blocked mid-buffer)
      std::memmove(d.buf.get(), d.buf.get() + d.head, d.pending());
      d.tail -= d.head;
      d.head = 0;
    }
    ssize_t n = ::recv(from, d.buf.get() + d.tail, capacity_ - d.tail, 0);
    if (n > 0) {
      d.tail += static_cast<size_t>(n);
    } else if (n == 0) {
      d.eof = true;
    } else if (errno == EAGAIN) {
      // The source is drained; if nothing waits for the sink either, give the buffer
      // back: a connection that idles holds no buffer.
      if (d.pending() == 0) d.buf.reset();
      return "";
    } else if (errno != EINTR) {
      return failure("read from", srcIsA, errno);
    }
  }
}

std::string Relay::socketError(Side side) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(end(side).fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  // EPOLLERR without a pending error would be reported again and again: end here
  // rather than spin.
  if (err == 0) return std::string("error: ") + name(side == Side::A) + ": EPOLLERR without a socket error";
  return failure("socket", side == Side::A, err);
}

void Relay::onEvent(Side side, uint32_t events) {
  if (done_) return;
  auto self = shared_from_this();  // finish() destroys the watch callbacks that own us
  const Side other = side == Side::A ? Side::B : Side::A;
  std::string why;
  if (events & EPOLLERR) why = socketError(side);
  // Readable (or EOF/HUP): move this side's bytes on. Writable: flush what waits for
  // it, which may free room to read from the other side at once.
  if (why.empty() && (events & (EPOLLIN | EPOLLHUP))) why = pump(from(side), side);
  if (why.empty() && (events & EPOLLOUT)) why = pump(into(side), other);
  if (!why.empty()) return finish(why, true);
  if (ab_.shut && ba_.shut) return finish("closed", false);
  if (auto st = updateInterest(); !st) finish("error: " + st.error().message, true);
}

Status Relay::setInterest(Side side, uint32_t want) {
  End& e = end(side);
  if (want == e.events) return okStatus();
  if (want == 0) {
    // Unregister rather than watch nothing: epoll reports HUP whatever the mask, and
    // would spin while this side waits (e.g. its FIN is in and the other side's
    // buffer is still draining).
    loop_.unwatch(e.fd.get());
  } else if (e.events == 0) {
    // The watch callbacks own the relay: it lives while the loop watches one of its
    // sockets (or runs one of its callbacks), and finish() unwatches both.
    auto self = shared_from_this();
    if (auto st = loop_.watch(e.fd.get(), want, [self, side](uint32_t ev) { self->onEvent(side, ev); }); !st) return st;
  } else if (auto st = loop_.modify(e.fd.get(), want); !st) {
    return st;
  }
  e.events = want;
  return okStatus();
}

Status Relay::updateInterest() {
  auto want = [this](Side s) {
    uint32_t ev = 0;
    const Direction& out = from(s);
    if (!out.eof && out.pending() < capacity_) ev |= EPOLLIN;  // room to read from s
    if (into(s).pending() > 0) ev |= EPOLLOUT;                 // bytes waiting for s
    return ev;
  };
  if (auto st = setInterest(Side::A, want(Side::A)); !st) return st;
  if (auto st = setInterest(Side::B, want(Side::B)); !st) return st;
  // Every unfinished direction reads its source or writes its sink, so this cannot
  // happen; if it ever did, the relay would be freed without onDone.
  if (a_.events == 0 && b_.events == 0) return makeError("BUG: relay stalled with nothing to wait for");
  return okStatus();
}

void Relay::finish(const std::string& reason, bool abort) {
  if (done_) return;
  done_ = true;
  auto self = shared_from_this();
  for (End* e : {&a_, &b_}) {
    if (e->events) loop_.unwatch(e->fd.get());
    e->events = 0;
    if (abort && e->fd) io::resetOnClose(e->fd.get());  // the peer learns the connection broke
    e->fd.reset();
  }
  for (Direction* d : {&ab_, &ba_}) {
    d->buf.reset();
    d->head = d->tail = 0;
  }
  RelayStats stats{ab_.bytes, ba_.bytes, std::chrono::steady_clock::now() - started_, reason};
  auto cb = std::move(onDone_);
  if (cb) cb(stats);
}

}  // namespace warren::proxy
