#include "waypoint/proxy/session_sniffer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

#include "io/tcp.h"

namespace warren::waypoint {

std::optional<DownstreamProtocol> classifyFirstBytes(std::string_view first) {
  const size_t n = std::min(first.size(), kH2Preface.size());
  if (first.substr(0, n) != kH2Preface.substr(0, n)) return DownstreamProtocol::Http1;
  if (n == kH2Preface.size()) return DownstreamProtocol::Http2;
  return std::nullopt;
}

std::shared_ptr<SessionSniffer> SessionSniffer::start(io::EventLoop& loop, io::ByteStreamPtr fd,
                                                      const SessionOptions& options, Decided decided, Gone gone) {
  auto s =
      std::shared_ptr<SessionSniffer>(new SessionSniffer(loop, std::move(fd), std::move(decided), std::move(gone)));
  s->headTimeout_ = options.headTimeout;
  std::weak_ptr<SessionSniffer> weak = s;
  if (auto st = s->fd_->watch(EPOLLIN,
                              [weak](uint32_t) {
                                if (auto self = weak.lock()) self->onReadable();
                              });
      !st) {
    spdlog::error("waypoint: cannot watch a stream: {}", st.error().message);
    s->done_ = true;
    s->fd_.reset();
    loop.post([g = s->gone_] {
      if (g) g();
    });
    return s;
  }
  // Nothing yet: a connection may sit idle as long as any keep-alive connection.
  s->idleTimer_ = loop.addTimer(options.idleTimeout, [weak] {
    if (auto self = weak.lock()) {
      self->idleTimer_ = 0;
      self->end();
    }
  });
  return s;
}

SessionSniffer::SessionSniffer(io::EventLoop& loop, io::ByteStreamPtr fd, Decided decided, Gone gone)
    : loop_(loop), fd_(std::move(fd)), decided_(std::move(decided)), gone_(std::move(gone)) {}

SessionSniffer::~SessionSniffer() { stop(); }

void SessionSniffer::stop() {
  if (idleTimer_) loop_.cancelTimer(idleTimer_);
  if (prefaceTimer_) loop_.cancelTimer(prefaceTimer_);
  idleTimer_ = prefaceTimer_ = 0;
  if (fd_) fd_->unwatch();
}

void SessionSniffer::abort() {
  if (done_) return;
  done_ = true;
  stop();
  if (fd_) fd_->resetOnClose();
  fd_.reset();
}

void SessionSniffer::onReadable() {
  if (done_) return;
  auto keep = shared_from_this();  // decided_/gone_ may drop the owner's reference
  char tmp[4096];
  ssize_t n = fd_->read(tmp, sizeof(tmp));
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    // The client left before it could be told apart: HTTP/1.1 answers a partial
    // request as it would any other; nothing at all is simply a closed stream.
    if (buf_.empty()) return end();
    return decide(DownstreamProtocol::Http1);
  }
  buf_.append(tmp, static_cast<size_t>(n));
  if (auto p = classifyFirstBytes(buf_)) return decide(*p);
  // Part of the preface: the rest must follow promptly (as a request head must).
  if (!prefaceTimer_) {
    std::weak_ptr<SessionSniffer> weak = keep;
    prefaceTimer_ = loop_.addTimer(headTimeout_, [weak] {
      if (auto self = weak.lock()) {
        self->prefaceTimer_ = 0;
        self->end();
      }
    });
  }
}

void SessionSniffer::decide(DownstreamProtocol p) {
  done_ = true;
  stop();
  auto decided = std::move(decided_);
  if (decided) decided(p, std::move(fd_), std::move(buf_));
}

void SessionSniffer::end() {
  if (done_) return;
  done_ = true;
  stop();
  fd_.reset();
  auto gone = std::move(gone_);
  if (gone) gone();
}

}  // namespace warren::waypoint
