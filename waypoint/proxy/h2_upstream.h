#pragma once
// One HTTP/2 connection (h2c with prior knowledge) from the waypoint to an
// upstream: the byte stream SessionHost::openUpstream gives (an HBONE stream to the
// app's tunnel, or plain TCP), carrying requests of any of the waypoint's
// downstream sessions to that upstream, multiplexed (H2UpstreamPool shares it);
// each request reports to the Sink that submitted it. What gRPC needs and HTTP/1.1 cannot carry:
// trailers both ways, streaming in both directions at once, and END_STREAM as the
// end of a message rather than the end of a connection.
//
// Flow control is end to end, as in the rest of the waypoint:
//  - response: DATA from the upstream goes to the sink at once; the upstream's
//    window reopens only as the sink reports bytes consumed() (taken by its
//    client), so a slow client stops the upstream at one stream window.
//  - request: the sink hands over request DATA with sendBody(); the upstream takes
//    it as the upstream's window allows and reports each byte taken
//    (Sink::requestBodyTaken), and only then does the sink reopen its client's
//    window.
// A connection that fails, or that the upstream ends with GOAWAY, fails its
// streams (those the upstream never processed say so) and takes no new ones.
// Runs on the event loop thread.

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/byte_stream.h"
#include "io/event_loop.h"
#include "waypoint/http1/http1_parser.h"

namespace warren::waypoint {

class H2Upstream : public std::enable_shared_from_this<H2Upstream> {
 public:
  // What a request on this connection reports to the sink that submitted it,
  // keyed by the sink's own id for it (e.g. the downstream stream id). Calls come
  // from inside the upstream's event handling; afterUpstreamEvent() follows each
  // burst, once for each sink that heard something, for it to send what they
  // produced. A sink must forget() the connection before it goes.
  class Sink {
   public:
    // The final response head (1xx are not relayed). `endStream`: no body, no
    // trailers follow (a gRPC "trailers-only" answer).
    virtual void upstreamHeaders(int32_t key, int status, http1::HeaderList fields, bool endStream) = 0;
    virtual void upstreamData(int32_t key, const uint8_t* data, size_t len) = 0;
    // The response's trailers; the response ends with them.
    virtual void upstreamTrailers(int32_t key, http1::HeaderList trailers) = 0;
    // The response ended (after data, with or without trailers).
    virtual void upstreamEnded(int32_t key) = 0;
    // The request failed before its response ended: reset by the upstream, the
    // connection lost or never made. `beforeHeaders`: no response head came.
    virtual void upstreamFailed(int32_t key, const std::string& why, bool beforeHeaders) = 0;
    // n bytes given to sendBody() have gone to the upstream.
    virtual void requestBodyTaken(int32_t key, size_t n) = 0;
    virtual void afterUpstreamEvent() = 0;

   protected:
    ~Sink() = default;
  };

  struct Options {
    uint32_t streamWindow = 1u << 20;       // what one response may have in flight
    uint32_t connectionWindow = 4u << 20;   // ... all responses together
    size_t maxHeaderListBytes = 64u << 10;  // a response head or trailer block larger fails the stream
  };

  // Not connected yet: requests may be submitted at once and go out once attach()
  // gives the byte stream (or fail with fail()).
  static std::shared_ptr<H2Upstream> create(io::EventLoop& loop, Options options, std::string label);
  ~H2Upstream();

  void attach(io::ByteStreamPtr fd);
  // The byte stream could not be had: every request fails, before headers.
  void fail(const std::string& why);
  // Ends every request (the sink hears nothing more) and the connection.
  void close();

  // A request: `pseudo` (":method", ":scheme", ":authority", ":path") and regular
  // fields, lower-case, no connection-specific ones. `endStream`: no body follows.
  // Returns the upstream stream id, or 0 when this connection takes no more.
  int32_t submit(Sink& sink, int32_t key, const http1::HeaderList& pseudo, const http1::HeaderList& fields,
                 bool endStream);
  // `sink` goes: its streams still running are canceled, and it hears nothing more.
  void forget(Sink& sink);
  // Request body bytes for stream `upId`, and its end (with trailers, if any).
  void sendBody(int32_t upId, const char* data, size_t len);
  void endBody(int32_t upId, http1::HeaderList trailers);
  // n response bytes of `upId` reached the client: the upstream may send more.
  void consumed(int32_t upId, size_t n);
  // The sink no longer wants stream `upId` (its client reset it): RST_STREAM
  // CANCEL; the sink hears nothing more of it.
  void cancel(int32_t upId);

  // Takes new requests: not failed, not told to go away, stream ids left.
  bool usable() const;
  size_t streamCount() const { return streams_.size(); }

 private:
  struct Stream;
  friend struct H2UpstreamCallbacks;
  H2Upstream(io::EventLoop& loop, Options options, std::string label);
  bool startSession();

  void onEvent(uint32_t events);
  void pump();  // nghttp2 output to the socket while it takes it
  bool flush();
  void updateInterest();
  void failAll(const std::string& why);
  void afterEvent();
  Sink& heard(Stream& s);  // s's sink, remembered for afterUpstreamEvent
  void tellSinks();        // afterUpstreamEvent to each sink that heard something
  // After a sink's call (submit, sendBody, ...): output, interest, and the sinks
  // that heard something told at the end of the round.
  void afterSinkCall();

  int onBeginHeaders(const nghttp2_frame* frame);
  int onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int onFrameRecv(const nghttp2_frame* frame);
  int onDataChunk(int32_t id, const uint8_t* data, size_t len);
  int onStreamClose(int32_t id, uint32_t code);
  ssize_t readBody(int32_t id, uint8_t* buf, size_t len, uint32_t* flags);

  io::EventLoop& loop_;
  std::vector<Sink*> heard_;   // sinks told something since the last tellSinks()
  bool tellDeferred_ = false;  // afterSinkCall() has a tellSinks() waiting for the round's end
  Options options_;
  std::string label_;
  nghttp2_session* h2_ = nullptr;
  io::ByteStreamPtr fd_;
  uint32_t events_ = 0;
  std::string out_;
  size_t outHead_ = 0;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;  // by upstream stream id
  bool failed_ = false, goaway_ = false, closed_ = false;
  bool inNghttp2_ = false;  // inside mem_recv/mem_send: no re-entry
};

}  // namespace warren::waypoint
