#pragma once
// A ByteStream over a connected socket, watched on an event loop.

#include "common/unique_fd.h"
#include "io/byte_stream.h"
#include "io/event_loop.h"

namespace warren::io {

class FdStream final : public ByteStream {
 public:
  FdStream(EventLoop& loop, UniqueFd fd) : loop_(loop), fd_(std::move(fd)) {}
  ~FdStream() override;

  Status watch(uint32_t events, Callback cb) override;
  Status modify(uint32_t events) override;
  void unwatch() override;
  ssize_t read(void* buf, size_t len) override;
  ssize_t send(const void* buf, size_t len) override;
  void shutdownWrite() override;
  void resetOnClose() override;

 private:
  EventLoop& loop_;
  UniqueFd fd_;
  bool watched_ = false;
};

}  // namespace warren::io
