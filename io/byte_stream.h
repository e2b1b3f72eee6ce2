#pragma once
// A connected byte stream as the waypoint's sessions drive it: a socket
// (FdStream) or an in-process HBONE stream (hbone::ChannelSocket), behind one
// interface with socket semantics, so that a session does not care which. read()
// and send() return as read(2) and send(2) do (-1 with errno EAGAIN when nothing
// can be done now, 0 from read() at the peer's end); readiness comes through
// watch() as epoll reports it: level-triggered, EPOLLHUP/EPOLLERR always.
// Destroying the stream closes it (a reset after resetOnClose()). Loop thread only.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "common/result.h"

namespace warren::io {

class ByteStream {
 public:
  using Callback = std::function<void(uint32_t events)>;
  virtual ~ByteStream() = default;

  virtual Status watch(uint32_t events, Callback cb) = 0;
  virtual Status modify(uint32_t events) = 0;
  virtual void unwatch() = 0;
  virtual ssize_t read(void* buf, size_t len) = 0;
  virtual ssize_t send(const void* buf, size_t len) = 0;
  // No more bytes from us (the peer reads its end); reading goes on.
  virtual void shutdownWrite() = 0;
  // The close that follows is a reset (TCP RST, or RST_STREAM), not an end.
  virtual void resetOnClose() = 0;
};

using ByteStreamPtr = std::unique_ptr<ByteStream>;

}  // namespace warren::io
