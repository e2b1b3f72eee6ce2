#pragma once
// The seam between an HBONE stream's HTTP/2 side (H2Connection) and its app side:
// what the session asks of whatever consumes a CONNECT stream (StreamEndpoint), and
// what that consumer may ask of the session for its stream (StreamHost). Two
// endpoints: FdStreamBridge (stream_bridge.h), which bridges the stream to a plain
// TCP socket (the tunnel), and ChannelEndpoint (stream_channel.h), which hands it
// to an in-process consumer (the waypoint's HTTP sessions).
//
// End-to-end flow control lives on this seam:
//  - peer -> app: the session hands over DATA (received, then deliver() once per
//    burst); the endpoint calls StreamHost::consumed() only for bytes the app has
//    taken, and only those are acknowledged to the peer (WINDOW_UPDATE). An endpoint
//    that stops taking stops the peer at one stream window.
//  - app -> peer: the session pulls bytes (take()) only as the peer's window allows;
//    the endpoint bounds what it holds (sendBufferBytes for the fd bridge, and never
//    more than StreamHost::peerWindow(): send_allowance.h), stops reading its app
//    while either is full, and calls StreamHost::sendReady() when it has bytes (or
//    its end) again. The session calls windowOpened() when the peer's window grows.
// Half-close: end() forwards the peer's END_STREAM after the bytes before it; take()
// reports eof after the app's last byte, which the session sends as END_STREAM.
//
// Lifetime: the session owns the endpoint. StreamHost::appFailed() and
// StreamHost::delivered() may finish the stream and destroy the endpoint: an
// endpoint returns at once after them, touching none of its members.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace warren::hbone {

// What an endpoint may ask of the session, for the stream it was attached to.
class StreamHost {
 public:
  enum class AppError { Reset, Internal };  // RST_STREAM CONNECT_ERROR / INTERNAL_ERROR

  // n bytes of the peer's DATA reached the app: acknowledge them to the peer.
  virtual void consumed(int32_t id, size_t n) = 0;
  // The endpoint has bytes for the peer, or its end: resume sending if paused.
  virtual void sendReady(int32_t id) = 0;
  // What the peer lets out on this stream now: the smaller of its stream and
  // connection windows (0 or less: closed).
  virtual int64_t peerWindow(int32_t id) const = 0;
  // The app side failed: reset the stream with `reason` as its end. Destroys the
  // endpoint.
  virtual void appFailed(int32_t id, const std::string& reason, AppError error) = 0;
  // The endpoint delivered what it held: the stream finishes if nothing else is
  // left. May destroy the endpoint.
  virtual void delivered(int32_t id) = 0;
  // After the endpoint handled an event of its own (its socket): the session sends
  // what that produced. Called when the endpoint may be gone already.
  virtual void afterAppEvent() = 0;

 protected:
  ~StreamHost() = default;
};

// The app side of one stream, as the session drives it.
class StreamEndpoint {
 public:
  virtual ~StreamEndpoint() = default;

  // The session gives the endpoint its stream: `host` and `id` for the calls above;
  // `guard` is the host's lifetime, to hold while the endpoint calls it from an
  // event of its own. The first call, but for abort() of a stream that never got
  // an id (a queued open whose connection failed).
  virtual void attach(StreamHost& host, int32_t id, std::weak_ptr<void> guard) = 0;
  // The stream is open (2xx sent or received): bytes may flow both ways. Delivers
  // what is held.
  virtual void open() = 0;
  // Client, before open(): the peer takes DATA ahead of its answer
  // (H2Options::earlyData), and the session calls take() from now on: an endpoint
  // that waits for its app to be readable starts watching it (the fd bridge); one
  // whose consumer pushes bytes (the channel) needs nothing more. Delivery still
  // waits for open().
  virtual void sendEarly() {}
  // DATA from the peer, held until deliver().
  virtual void received(const char* data, size_t len) = 0;
  // Hands the app what is held (once per burst of received records); after end(),
  // and once all is taken, ends the app's input.
  virtual void deliver() = 0;
  // The peer ended its direction (END_STREAM): deliver, then end the app's input.
  virtual void end() = 0;
  // Bytes for the peer, moved into buf (at most len). *eof: the app has ended and
  // nothing is left. 0 without eof: nothing now (sendReady() follows later).
  virtual size_t take(uint8_t* buf, size_t len, bool* eof) = 0;
  // After take(), once the bytes are counted: room was made, the app may be read
  // again. May destroy the endpoint (appFailed).
  virtual void resumeReading() = 0;
  // The peer's window grew (WINDOW_UPDATE, or SETTINGS_INITIAL_WINDOW_SIZE): an
  // endpoint that stopped reading its app for the window may read again. May
  // destroy the endpoint (appFailed).
  virtual void windowOpened() = 0;
  // The stream was reset or the connection lost: the app sees a reset, not an end.
  virtual void abort() = 0;
  // The stream is over: stop every I/O and release the app side (before onDone).
  virtual void close() = 0;

  // Received bytes the app has not taken yet.
  virtual size_t undelivered() const = 0;
  // The peer's end has reached the app.
  virtual bool endDelivered() const = 0;
  // Bytes held in user space, both directions.
  virtual size_t bufferedBytes() const = 0;
};

}  // namespace warren::hbone
