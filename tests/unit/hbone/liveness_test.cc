// The PING liveness decision (hbone/liveness.h), over a hand-driven clock.

#include "hbone/liveness.h"

#include <gtest/gtest.h>

namespace warren::hbone {
namespace {

using namespace std::chrono_literals;
using Kind = LivenessStep::Kind;

const LivenessOptions kOpts{10s, 20s};
const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;

TEST(Liveness, ASilentConnectionWithStreamsIsPingedAfterTheInterval) {
  LivenessClock c{t0, std::nullopt};
  auto early = nextLivenessStep(kOpts, c, true, t0 + 4s);
  EXPECT_EQ(early.kind, Kind::Wait);
  EXPECT_EQ(early.checkAgainIn, 6s) << "decide again exactly when the interval is up";
  auto due = nextLivenessStep(kOpts, c, true, t0 + 10s);
  EXPECT_EQ(due.kind, Kind::SendPing);
  EXPECT_EQ(due.checkAgainIn, 20s) << "then look again when the answer is due";
}

TEST(Liveness, AConnectionWithoutStreamsIsNotPinged) {
  LivenessClock c{t0, std::nullopt};
  auto step = nextLivenessStep(kOpts, c, false, t0 + 1h);
  EXPECT_EQ(step.kind, Kind::Wait) << "the idle timeout closes it; no PINGs keep it busy";
}

TEST(Liveness, AnUnansweredPingClosesAfterTheTimeout) {
  LivenessClock c{t0, t0 + 10s};
  auto waiting = nextLivenessStep(kOpts, c, true, t0 + 25s);
  EXPECT_EQ(waiting.kind, Kind::Wait);
  EXPECT_EQ(waiting.checkAgainIn, 5s);
  EXPECT_EQ(nextLivenessStep(kOpts, c, true, t0 + 30s).kind, Kind::Close);
  EXPECT_EQ(nextLivenessStep(kOpts, c, false, t0 + 30s).kind, Kind::Close)
      << "an unanswered PING is fatal even once the streams are gone";
}

TEST(Liveness, AnythingReceivedAfterThePingAnswersIt) {
  LivenessClock c{t0 + 12s, t0 + 10s};  // bytes (the ack, or any frame) 2 s after the PING
  auto step = nextLivenessStep(kOpts, c, true, t0 + 21s);
  EXPECT_EQ(step.kind, Kind::Wait);
  EXPECT_EQ(step.checkAgainIn, 1s) << "the next PING is due 10 s after those bytes";
  EXPECT_EQ(nextLivenessStep(kOpts, c, true, t0 + 22s).kind, Kind::SendPing);
  EXPECT_EQ(nextLivenessStep(kOpts, c, true, t0 + 31s).kind, Kind::SendPing) << "answered: never Close";
}

TEST(Liveness, IntervalZeroTurnsPingsOff) {
  LivenessClock c{t0, std::nullopt};
  auto step = nextLivenessStep({0ms, 20s}, c, true, t0 + 1h);
  EXPECT_EQ(step.kind, Kind::Wait);
  EXPECT_EQ(step.checkAgainIn, 0ms) << "0: no timer at all";
}

}  // namespace
}  // namespace warren::hbone
