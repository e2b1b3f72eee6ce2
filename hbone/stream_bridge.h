#pragma once
// The app side of an HBONE stream as a plain TCP socket: the captured app
// connection on the client side, the connection to the app on the server side. A
// StreamEndpoint (stream_endpoint.h) that moves the stream's bytes to and from the
// socket on the event loop, keeping the guarantees stated there:
//  - TCP -> HTTP/2: the socket is read (at most kMaxReadsPerEvent read(2) per event)
//    only while the send buffer (sendBufferBytes) has room and holds less than the
//    peer's window (send_allowance.h); the session takes from that buffer as the
//    peer's window allows. Otherwise the socket is not watched for reading at all
//    (epoll is level-triggered: a readable socket left watched would wake the loop
//    on every round), until take() makes room or windowOpened() says the window grew.
//  - HTTP/2 -> TCP: DATA is written with send(2) once per burst (deliver()), and
//    each byte the socket took is reported consumed, so only those are acknowledged
//    to the peer.
// Half-close: TCP EOF becomes the stream's end (take() eof), the peer's end becomes
// shutdown(SHUT_WR) after the bytes before it. A TCP error or reset resets the
// stream (CONNECT_ERROR); abort() makes close(2) send a TCP reset. Every send uses
// MSG_NOSIGNAL.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "hbone/stream_endpoint.h"
#include "io/byte_buffer.h"
#include "io/event_loop.h"

namespace warren::hbone {

class FdStreamBridge final : public StreamEndpoint {
 public:
  FdStreamBridge(io::EventLoop& loop, UniqueFd tcp, size_t sendBufferBytes);

  void attach(StreamHost& host, int32_t id, std::weak_ptr<void> guard) override;
  void open() override;
  void sendEarly() override;
  void received(const char* data, size_t len) override;
  void deliver() override;
  void end() override;
  size_t take(uint8_t* buf, size_t len, bool* eof) override;
  void resumeReading() override;
  void windowOpened() override;
  void abort() override;
  void close() override;
  size_t undelivered() const override { return in_.size() - inHead_; }
  // What the receive buffer holds, the delivered prefix not yet dropped included:
  // its memory, at most about twice undelivered().
  size_t receiveBufferBytes() const { return in_.size(); }
  // The TCP -> HTTP/2 buffer's storage: allocated while it holds bytes, none once
  // drained (an idle open connection holds no buffer).
  size_t sendBufferMemory() const { return out_.allocatedBytes(); }
  bool endDelivered() const override { return tcpShut_; }
  size_t bufferedBytes() const override { return out_.pending() + undelivered(); }

 private:
  void onEvent(uint32_t events);
  bool readTcp();                // false: the stream was reset (this is gone)
  size_t readAllowance() const;  // bytes the app may be read for now (send_allowance.h)
  bool updateInterest();         // false: the stream was reset (this is gone)

  io::EventLoop& loop_;
  UniqueFd tcp_;
  uint32_t tcpEvents_ = 0;  // what epoll watches on tcp_; 0 = not registered
  StreamHost* host_ = nullptr;
  int32_t id_ = -1;
  std::weak_ptr<void> guard_;
  bool open_ = false;   // data may flow: 2xx sent (server) or received (client)
  bool early_ = false;  // client: the app may be read before open_ (sendEarly)
  // TCP -> HTTP/2
  io::ByteBuffer out_;
  bool tcpEof_ = false;               // the TCP side sent FIN
  bool tookWhileNotReading_ = false;  // take() made room while reading had stopped: read again
  // HTTP/2 -> TCP
  std::string in_;
  size_t inHead_ = 0;
  bool peerEnded_ = false;  // END_STREAM received
  bool tcpShut_ = false;    // ... and forwarded as shutdown(SHUT_WR)
};

}  // namespace warren::hbone
