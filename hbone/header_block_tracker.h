#pragma once
// Follows the frame boundaries of what an HTTP/2 endpoint receives, for one
// question only: is a header block in progress (a HEADERS or PUSH_PROMISE frame
// begun, and no frame of that block with END_HEADERS complete yet)? A peer that
// leaves one open holds the connection (nothing else may arrive until it ends,
// RFC 9113 6.10) and, through its stream, keeps the idle timeout away: slowloris.
//
// Read from the bytes themselves rather than from nghttp2's callbacks: once
// nghttp2 has reset a stream (or gets HEADERS for one already closed) it skips the
// rest of that block without any callback, so the callbacks cannot say when such a
// block ends. Pure; no validation (nghttp2 does that on the same bytes).

#include <cstddef>
#include <cstdint>

namespace warren::hbone {

class HeaderBlockTracker {
 public:
  // A server first receives the client's 24-byte connection preface, not a frame.
  explicit HeaderBlockTracker(bool expectClientPreface);

  void feed(const uint8_t* data, size_t len);
  bool inProgress() const { return open_; }
  uint32_t streamId() const { return stream_; }  // of the block in progress

 private:
  void frameComplete();

  size_t prefaceLeft_;
  uint8_t header_[9] = {};
  size_t headerHave_ = 0;
  size_t payloadLeft_ = 0;
  bool inFrame_ = false;    // a frame header was read, its payload is arriving
  bool endsBlock_ = false;  // the current frame carries END_HEADERS of a block
  bool open_ = false;
  uint32_t stream_ = 0;
};

}  // namespace warren::hbone
