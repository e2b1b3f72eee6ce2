#pragma once
// An HBONE stream handed to a consumer in the same process (the waypoint's HTTP
// sessions) without a socketpair: two faces on one shared state. The
// StreamEndpoint face is what H2Connection drives (stream_endpoint.h); the
// ChannelSocket face is an io::ByteStream with socket semantics for the consumer.
// A socketpair cost a send(2) and a read(2) per hop and direction plus an epoll
// wake-up; here bytes are copied once between the two buffers and readiness is
// handed over with EventLoop::defer.
//
// The guarantees of FdStreamBridge hold, with the consumer in the place of the
// TCP socket:
//  - peer -> consumer: DATA is held until the consumer reads it, and only what it
//    has read is acknowledged to the peer (StreamHost::consumed), so a consumer
//    that stops reading stops the peer at one stream window.
//  - consumer -> peer: send() takes at most `sendBufferBytes` ahead of the peer's
//    window (then EAGAIN; EPOLLOUT once the session has taken bytes).
// Ends: the peer's END_STREAM is read as 0 once the bytes before it are read; the
// consumer closing its face is END_STREAM after its last bytes (a reset after
// resetOnClose(), or when it leaves unread bytes behind, as close(2) does); a
// reset stream is ECONNRESET to the consumer.
//
// Calls into the session (StreamHost) that may end the stream, or that make it
// send, run deferred on the loop, never from inside the consumer's read or send.

#include <cstddef>
#include <memory>
#include <utility>

#include "hbone/stream_endpoint.h"
#include "io/byte_stream.h"
#include "io/event_loop.h"

namespace warren::hbone {

struct ChannelState;

class ChannelSocket final : public io::ByteStream {
 public:
  explicit ChannelSocket(std::shared_ptr<ChannelState> st) : st_(std::move(st)) {}
  ~ChannelSocket() override;

  Status watch(uint32_t events, Callback cb) override;
  Status modify(uint32_t events) override;
  void unwatch() override;
  ssize_t read(void* buf, size_t len) override;
  ssize_t send(const void* buf, size_t len) override;
  void shutdownWrite() override;
  void resetOnClose() override;

 private:
  std::shared_ptr<ChannelState> st_;
};

class ChannelEndpoint final : public StreamEndpoint {
 public:
  explicit ChannelEndpoint(std::shared_ptr<ChannelState> st) : st_(std::move(st)) {}
  ~ChannelEndpoint() override;

  void attach(StreamHost& host, int32_t id, std::weak_ptr<void> guard) override;
  void open() override;
  void received(const char* data, size_t len) override;
  void deliver() override;
  void end() override;
  size_t take(uint8_t* buf, size_t len, bool* eof) override;
  void resumeReading() override;
  // The consumer's writes are bounded by sendBufferBytes alone: nothing to resume.
  void windowOpened() override {}
  void abort() override;
  void close() override;
  size_t undelivered() const override;
  bool endDelivered() const override;
  size_t bufferedBytes() const override;

 private:
  std::shared_ptr<ChannelState> st_;
};

// A connected pair: give the endpoint to H2Connection (respond / openStream, or
// Pool::send), the socket to the consumer.
std::pair<std::unique_ptr<ChannelEndpoint>, std::unique_ptr<ChannelSocket>> makeChannel(io::EventLoop& loop,
                                                                                        size_t sendBufferBytes);

}  // namespace warren::hbone
