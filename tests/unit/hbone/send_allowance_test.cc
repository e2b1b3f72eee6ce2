// How much of its app a stream may read (hbone/send_allowance.h): never past the
// send buffer's room, never more than the peer's window lets out.

#include "hbone/send_allowance.h"

#include <gtest/gtest.h>

namespace warren::hbone {
namespace {

struct Case {
  const char* what;
  size_t buffered, capacity;
  int64_t peerWindow;
  size_t allowed;
};

TEST(AppReadAllowance, TheSmallerOfTheBuffersRoomAndThePeersWindowLessWhatIsHeld) {
  const Case cases[] = {
      {"a zero window: nothing, however empty the buffer", 0, 256 << 10, 0, 0},
      {"a window shrunk below 0 by SETTINGS: closed", 0, 256 << 10, -4096, 0},
      {"a wide window: the buffer's room", 0, 256 << 10, 4 << 20, 256 << 10},
      {"a wide window, part held: the rest of the room", 100 << 10, 256 << 10, 4 << 20, 156 << 10},
      {"a full buffer: nothing", 256 << 10, 256 << 10, 4 << 20, 0},
      {"a narrow window: the window", 0, 256 << 10, 1000, 1000},
      {"a narrow window, part held: what the window has left", 600, 256 << 10, 1000, 400},
      {"as much held as the window: nothing", 1000, 256 << 10, 1000, 0},
      {"more held than the window (it shrank): nothing", 5000, 256 << 10, 1000, 0},
  };
  for (const auto& c : cases) EXPECT_EQ(appReadAllowance(c.buffered, c.capacity, c.peerWindow), c.allowed) << c.what;
}

}  // namespace
}  // namespace warren::hbone
