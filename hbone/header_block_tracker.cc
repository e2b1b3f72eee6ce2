#include "hbone/header_block_tracker.h"

#include <algorithm>

namespace warren::hbone {

namespace {
// RFC 9113 6: frame types and the flag this tracker reads.
constexpr uint8_t kHeaders = 0x1, kPushPromise = 0x5, kContinuation = 0x9;
constexpr uint8_t kEndHeaders = 0x4;
constexpr size_t kClientPrefaceBytes = 24;  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
}  // namespace

HeaderBlockTracker::HeaderBlockTracker(bool expectClientPreface)
    : prefaceLeft_(expectClientPreface ? kClientPrefaceBytes : 0) {}

void HeaderBlockTracker::feed(const uint8_t* data, size_t len) {
  while (len > 0) {
    if (prefaceLeft_ > 0) {
      const size_t k = std::min(len, prefaceLeft_);
      prefaceLeft_ -= k;
      data += k;
      len -= k;
      continue;
    }
    if (inFrame_) {
      const size_t k = std::min(len, payloadLeft_);
      payloadLeft_ -= k;
      data += k;
      len -= k;
      if (payloadLeft_ == 0) frameComplete();
      continue;
    }
    const size_t k = std::min(len, sizeof(header_) - headerHave_);
    std::copy(data, data + k, header_ + headerHave_);
    headerHave_ += k;
    data += k;
    len -= k;
    if (headerHave_ < sizeof(header_)) return;
    headerHave_ = 0;
    const uint8_t type = header_[3], flags = header_[4];
    payloadLeft_ = (size_t(header_[0]) << 16) | (size_t(header_[1]) << 8) | header_[2];
    inFrame_ = true;
    if (type == kHeaders || type == kPushPromise || type == kContinuation) {
      // Open from the first byte of the block until its END_HEADERS frame is whole,
      // so a single HEADERS frame trickled byte by byte counts too.
      open_ = true;
      endsBlock_ = (flags & kEndHeaders) != 0;
      stream_ = ((uint32_t(header_[5]) & 0x7f) << 24) | (uint32_t(header_[6]) << 16) | (uint32_t(header_[7]) << 8) |
                header_[8];
    } else {
      // Any other frame ends a block (inside one it is a protocol error, and
      // nghttp2 ends the session).
      open_ = false;
      endsBlock_ = false;
    }
    if (payloadLeft_ == 0) frameComplete();
  }
}

void HeaderBlockTracker::frameComplete() {
  inFrame_ = false;
  if (endsBlock_) open_ = false;
  endsBlock_ = false;
}

}  // namespace warren::hbone
