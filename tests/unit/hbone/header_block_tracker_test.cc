// HeaderBlockTracker: header blocks followed from the received bytes alone.

#include "hbone/header_block_tracker.h"

#include <gtest/gtest.h>

#include "tests/support/raw_h2.h"

namespace warren::hbone {
namespace {

using rawh2::frame;

void feed(HeaderBlockTracker& t, const std::string& bytes) {
  t.feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(HeaderBlockTracker, ABlockIsOpenUntilItsEndHeadersFrameIsWhole) {
  HeaderBlockTracker t(/*expectClientPreface=*/true);
  feed(t, std::string(rawh2::kClientPreface) + rawh2::settings());
  EXPECT_FALSE(t.inProgress());
  feed(t, frame(NGHTTP2_HEADERS, 0, 3, "abc"));
  EXPECT_TRUE(t.inProgress());
  EXPECT_EQ(t.streamId(), 3u);
  feed(t, frame(NGHTTP2_CONTINUATION, 0, 3, "def"));
  EXPECT_TRUE(t.inProgress());
  const std::string last = frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 3, "ghi");
  feed(t, last.substr(0, last.size() - 1));
  EXPECT_TRUE(t.inProgress()) << "END_HEADERS counts once its frame is whole";
  feed(t, last.substr(last.size() - 1));
  EXPECT_FALSE(t.inProgress());
}

TEST(HeaderBlockTracker, ASingleHeadersFrameTrickledByteByByteIsInProgress) {
  HeaderBlockTracker t(false);
  const std::string f = frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, std::string(100, 'x'));
  for (size_t i = 0; i + 1 < f.size(); ++i) {
    feed(t, f.substr(i, 1));
    if (i >= 8) {
      EXPECT_TRUE(t.inProgress()) << "after byte " << i;
    }
  }
  feed(t, f.substr(f.size() - 1));
  EXPECT_FALSE(t.inProgress());
}

// nghttp2 skips the rest of a block for a stream it has reset, with no callback:
// the bytes still say where it ends. Any stream, any content: only framing counts.
TEST(HeaderBlockTracker, EndsBlocksWhateverTheirStreamAndIgnoresOtherFrames) {
  HeaderBlockTracker t(false);
  feed(t, frame(NGHTTP2_DATA, 0, 1, std::string(20000, 'd')) + frame(NGHTTP2_PING, 0, 0, std::string(8, '\0')));
  EXPECT_FALSE(t.inProgress());
  feed(t, frame(NGHTTP2_HEADERS, 0, 99, "x") + frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 99, "y") +
              frame(NGHTTP2_WINDOW_UPDATE, 0, 0, rawh2::u32(1)));
  EXPECT_FALSE(t.inProgress());
  feed(t, frame(NGHTTP2_PUSH_PROMISE, 0, 2, "pp"));
  EXPECT_TRUE(t.inProgress());
  feed(t, frame(NGHTTP2_RST_STREAM, 0, 2, rawh2::u32(0)));  // a protocol error nghttp2 ends the session for
  EXPECT_FALSE(t.inProgress());
}

}  // namespace
}  // namespace warren::hbone
