#include "ztunnel/proxy/relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace warren::proxy {

namespace {
const char* sideName(bool a) { return a ? "a" : "b"; }
bool isReset(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED; }
}  // namespace

Relay::Relay(io::EventLoop& loop, UniqueFd a, UniqueFd b, std::function<void(const RelayStats&)> onDone,
             size_t bytes)
    : loop_(loop), a_(std::move(a)), b_(std::move(b)), onDone_(std::move(onDone)),
      started_(std::chrono::steady_clock::now()) {
  ab_.buf.resize(bytes);
  ba_.buf.resize(bytes);
}

std::shared_ptr<Relay> Relay::start(io::EventLoop& loop, UniqueFd a, UniqueFd b,
                                    std::function<void(const RelayStats&)> onDone, size_t bufferBytes) {
  std::shared_ptr<Relay> r(new Relay(loop, std::move(a), std::move(b), std::move(onDone), bufferBytes));
  r->updateInterest();
  return r;
}

size_t Relay::bufferedBytes() const { return ab_.pending() + ba_.pending(); }

std::string Relay::pump(Direction& d, int from, int to, Side fromSide) {
  const bool fromA = fromSide == Side::A;
  // Read while there is room and the source is open.
  while (!d.eof && d.tail < d.buf.size()) {
    ssize_t n = ::recv(from, d.buf.data() + d.tail, d.buf.size() - d.tail, 0);
    if (n > 0) {
      d.tail += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      d.eof = true;
      break;
    }
    if (errno == EAGAIN || errno == EINTR) break;
    if (isReset(errno)) return std::string("reset by ") + sideName(fromA);
    return std::string("error: read from ") + sideName(fromA) + ": " + std::strerror(errno);
  }
  while (d.pending() > 0) {
    ssize_t n = ::send(to, d.buf.data() + d.head, d.pending(), MSG_NOSIGNAL);
    if (n > 0) {
      d.head += static_cast<size_t>(n);
      d.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    if (n < 0 && isReset(errno)) return std::string("reset by ") + sideName(!fromA);
    return std::string("error: write to ") + sideName(!fromA) + ": " + std::strerror(errno);
  }
  if (d.pending() == 0) d.head = d.tail = 0;
  if (d.eof && d.pending() == 0 && !d.shut) {
    ::shutdown(to, SHUT_WR);  // half-close: the other direction keeps flowing
    d.shut = true;
  }
  return "";
}

void Relay::onEvent(Side side, uint32_t events) {
  if (done_) return;
  auto self = shared_from_this();
  if (events & EPOLLERR) {
    int fd = side == Side::A ? a_.get() : b_.get();
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    const bool a = side == Side::A;
    if (isReset(err) || err == 0) return finish(std::string("reset by ") + sideName(a), a ? b_.get() : a_.get());
    return finish(std::string("error: ") + sideName(a) + ": " + std::strerror(err), a ? b_.get() : a_.get());
  }
  // Either side's readiness can unblock either direction: pump both.
  std::string why = pump(ab_, a_.get(), b_.get(), Side::A);
  if (why.empty()) why = pump(ba_, b_.get(), a_.get(), Side::B);
  if (!why.empty()) {
    // Propagate a reset to the side that did not cause it.
    int other = why == "reset by a" ? b_.get() : why == "reset by b" ? a_.get() : -1;
    if (other < 0) other = a_.get();  // errors: reset both
    return finish(why, other);
  }
  if (ab_.shut && ba_.shut) return finish("closed", -1);
  updateInterest();
}

void Relay::setInterest(int fd, Side side, uint32_t events, uint32_t& current) {
  if (events == current) return;
  if (events == 0) {
    // Unregister rather than watch nothing: epoll would still report HUP level-
    // triggered and spin while this side waits for the other to drain.
    loop_.unwatch(fd);
  } else if (current == 0) {
    // The watch callbacks own the relay: it lives exactly as long as the loop
    // watches one of its sockets, and finish() unwatches both.
    auto self = shared_from_this();
    (void)loop_.watch(fd, events, [self, side](uint32_t ev) { self->onEvent(side, ev); });
  } else {
    (void)loop_.modify(fd, events);
  }
  current = events;
}

void Relay::updateInterest() {
  auto want = [](const Direction& in, const Direction& out) {
    uint32_t ev = 0;
    if (!in.eof && in.tail < in.buf.size()) ev |= EPOLLIN;  // room to read from this side
    if (out.pending() > 0) ev |= EPOLLOUT;                  // bytes waiting to be written to it
    return ev;
  };
  uint32_t aWant = want(ab_, ba_), bWant = want(ba_, ab_);
  setInterest(a_.get(), Side::A, aWant, aEvents_);
  setInterest(b_.get(), Side::B, bWant, bEvents_);
  if (aEvents_ == 0 && bEvents_ == 0 && !done_) {
    // Nothing to wait for but not finished cannot happen: every open direction
    // either reads or writes. Treat it as a BUG-level close rather than leak.
    finish("error: BUG: relay stalled", a_.get());
  }
}

void Relay::finish(const std::string& reason, int resetFd) {
  if (done_) return;
  done_ = true;
  auto self = shared_from_this();
  if (aEvents_) loop_.unwatch(a_.get());
  if (bEvents_) loop_.unwatch(b_.get());
  aEvents_ = bEvents_ = 0;
  if (resetFd >= 0) {
    linger lg{1, 0};  // close with RST: the peer learns the connection broke
    ::setsockopt(resetFd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  if (reason.rfind("error", 0) == 0) {
    linger lg{1, 0};
    ::setsockopt(a_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::setsockopt(b_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  a_.reset();
  b_.reset();
  RelayStats stats{ab_.bytes, ba_.bytes, std::chrono::steady_clock::now() - started_, reason};
  auto cb = std::move(onDone_);
  if (cb) cb(stats);
}

}  // namespace warren::proxy
