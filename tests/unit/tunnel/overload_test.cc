// The overload decision alone: which samples shed new connections.

#include "tunnel/proxy/overload.h"

#include <gtest/gtest.h>

namespace warren::proxy {
namespace {

TEST(Overload, PastEitherWatermarkTheTunnelIsOverloadedAndAZeroWatermarkIsOff) {
  struct Case {
    const char* what;
    LoadSample sample;
    Watermarks marks;
    LoadState want;
  };
  const Case cases[] = {
      {"idle", {.openFds = 10, .fdLimit = 1024, .heldBytes = 0}, {}, LoadState::Normal},
      {"just under 90%", {.openFds = 921, .fdLimit = 1024}, {.fdPercent = 90}, LoadState::Normal},
      {"at 90%", {.openFds = 922, .fdLimit = 1024}, {.fdPercent = 90}, LoadState::Overloaded},
      {"all descriptors", {.openFds = 1048576, .fdLimit = 1048576}, {.fdPercent = 90}, LoadState::Overloaded},
      {"fd watermark off", {.openFds = 1024, .fdLimit = 1024}, {.fdPercent = 0}, LoadState::Normal},
      {"limit unknown", {.openFds = 1024, .fdLimit = 0}, {.fdPercent = 90}, LoadState::Normal},
      {"bytes under", {.heldBytes = (64u << 20) - 1}, {.fdPercent = 0, .heldBytes = 64u << 20}, LoadState::Normal},
      {"bytes at", {.heldBytes = 64u << 20}, {.fdPercent = 0, .heldBytes = 64u << 20}, LoadState::Overloaded},
      {"bytes off", {.heldBytes = 1u << 30}, {.fdPercent = 0, .heldBytes = 0}, LoadState::Normal},
      {"fds alone suffice",
       {.openFds = 1000, .fdLimit = 1024, .heldBytes = 0},
       {.fdPercent = 90, .heldBytes = 1},
       LoadState::Overloaded},
  };
  for (const auto& c : cases) EXPECT_EQ(judgeLoad(c.sample, c.marks), c.want) << c.what;
}

}  // namespace
}  // namespace warren::proxy
