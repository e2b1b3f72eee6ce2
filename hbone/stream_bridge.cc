#include "hbone/stream_bridge.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "hbone/send_allowance.h"
#include "io/tcp.h"

namespace warren::hbone {

namespace {

constexpr int kMaxReadsPerEvent = 4;  // read(2) per event before yielding to other sockets

}  // namespace

FdStreamBridge::FdStreamBridge(io::EventLoop& loop, UniqueFd tcp, size_t sendBufferBytes)
    : loop_(loop), tcp_(std::move(tcp)), out_(sendBufferBytes) {}

void FdStreamBridge::attach(StreamHost& host, int32_t id, std::weak_ptr<void> guard) {
  host_ = &host;
  id_ = id;
  guard_ = std::move(guard);
}

void FdStreamBridge::open() {
  open_ = true;
  deliver();
}

void FdStreamBridge::sendEarly() {
  early_ = true;
  updateInterest();  // the app's first bytes go out behind the CONNECT
}

void FdStreamBridge::received(const char* data, size_t len) { in_.append(data, len); }

void FdStreamBridge::end() {
  peerEnded_ = true;
  deliver();
}

// Called with the host alive (guard held). `this` is alive too: it is watched only
// between attach and close(), and the session closes it before destroying it.
void FdStreamBridge::onEvent(uint32_t events) {
  StreamHost& host = *host_;  // outlives this when the stream ends below
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(tcp_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    host.appFailed(id_, std::string("TCP reset: ") + std::strerror(err ? err : ECONNRESET),
                   StreamHost::AppError::Reset);
  } else {
    bool alive = true;
    if (events & (EPOLLIN | EPOLLHUP)) alive = readTcp();
    if (alive && (events & (EPOLLOUT | EPOLLHUP))) deliver();
  }
  host.afterAppEvent();
}

bool FdStreamBridge::readTcp() {
  for (int i = 0; i < kMaxReadsPerEvent && !tcpEof_; ++i) {
    const size_t allowed = readAllowance();
    if (allowed == 0) break;
    char* dst = out_.writePtr();
    size_t room = std::min(out_.writable(), allowed);
    ssize_t n = ::read(tcp_.get(), dst, room);
    if (n > 0) {
      out_.commit(n);
      if (static_cast<size_t>(n) < room) break;
      continue;
    }
    if (n == 0) {
      tcpEof_ = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    host_->appFailed(id_, std::string("TCP read: ") + std::strerror(errno), StreamHost::AppError::Reset);
    return false;
  }
  if (out_.pending() > 0 || tcpEof_) host_->sendReady(id_);
  return updateInterest();
}

void FdStreamBridge::deliver() {
  if (!open_ || !tcp_) return;
  while (undelivered() > 0) {
    ssize_t n = ::send(tcp_.get(), in_.data() + inHead_, undelivered(), MSG_NOSIGNAL);
    if (n > 0) {
      inHead_ += n;
      host_->consumed(id_, n);  // only now may the peer send more (WINDOW_UPDATE)
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    host_->appFailed(id_, std::string("TCP write: ") + std::strerror(errno), StreamHost::AppError::Reset);
    return;
  }
  if (undelivered() == 0) {
    in_.clear();
    inHead_ = 0;
    if (peerEnded_ && !tcpShut_) {
      ::shutdown(tcp_.get(), SHUT_WR);
      tcpShut_ = true;
    }
  } else if (inHead_ >= undelivered()) {
    // An app that is always a little behind never empties the buffer: drop the
    // delivered prefix once it is at least as large as what is left, so memory
    // stays within twice the undelivered bytes (themselves bounded by the stream
    // window) and each byte is moved at most once on average.
    in_.erase(0, inHead_);
    inHead_ = 0;
  }
  if (!updateInterest()) return;
  host_->delivered(id_);
}

size_t FdStreamBridge::take(uint8_t* buf, size_t len, bool* eof) {
  tookWhileNotReading_ = readAllowance() == 0;
  size_t n = std::min(len, out_.pending());
  if (n) {
    std::memcpy(buf, out_.readPtr(), n);
    out_.consume(n);
  }
  *eof = out_.pending() == 0 && tcpEof_;
  // Drained: give the buffer back. An open connection that is idle between
  // messages (most of them) then holds no buffer; kept, the page each one touched
  // cost 4 KiB per held connection (8 of the ~10 KiB measured at 10,000 held).
  if (out_.pending() == 0) out_.release();
  return n;
}

void FdStreamBridge::resumeReading() {
  if (std::exchange(tookWhileNotReading_, false)) updateInterest();
}

void FdStreamBridge::windowOpened() { updateInterest(); }

size_t FdStreamBridge::readAllowance() const {
  return host_ ? appReadAllowance(out_.pending(), out_.pending() + out_.room(), host_->peerWindow(id_)) : 0;
}

bool FdStreamBridge::updateInterest() {
  uint32_t want = 0;
  if ((open_ || early_) && tcp_) {
    if (!tcpEof_ && readAllowance() > 0) want |= EPOLLIN;
    if (open_ && undelivered() > 0) want |= EPOLLOUT;
  }
  if (want == tcpEvents_) return true;
  int fd = tcp_.get();
  if (want == 0) {
    loop_.unwatch(fd);
  } else if (tcpEvents_ == 0) {
    std::weak_ptr<void> weak = guard_;
    if (!loop_.watch(fd, want, [weak, this](uint32_t ev) {
          if (auto keep = weak.lock()) onEvent(ev);
        })) {
      host_->appFailed(id_, "cannot watch the TCP socket", StreamHost::AppError::Internal);
      return false;
    }
  } else if (!loop_.modify(fd, want)) {
    host_->appFailed(id_, "cannot watch the TCP socket", StreamHost::AppError::Internal);
    return false;
  }
  tcpEvents_ = want;
  return true;
}

void FdStreamBridge::abort() {
  if (tcp_) io::resetOnClose(tcp_.get());
}

void FdStreamBridge::close() {
  if (tcpEvents_) loop_.unwatch(tcp_.get());
  tcpEvents_ = 0;
  tcp_.reset();
}

}  // namespace warren::hbone
