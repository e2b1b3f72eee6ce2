#include "io/fd_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include "io/tcp.h"

namespace warren::io {

FdStream::~FdStream() { unwatch(); }

Status FdStream::watch(uint32_t events, Callback cb) {
  auto st = loop_.watch(fd_.get(), events, std::move(cb));
  if (st) watched_ = true;
  return st;
}

Status FdStream::modify(uint32_t events) { return loop_.modify(fd_.get(), events); }

void FdStream::unwatch() {
  if (watched_) loop_.unwatch(fd_.get());
  watched_ = false;
}

ssize_t FdStream::read(void* buf, size_t len) { return ::read(fd_.get(), buf, len); }

ssize_t FdStream::send(const void* buf, size_t len) { return ::send(fd_.get(), buf, len, MSG_NOSIGNAL); }

void FdStream::shutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }

void FdStream::resetOnClose() { io::resetOnClose(fd_.get()); }

}  // namespace warren::io
