// The drain's pure decisions (tunnel/drain/drain.h): the deadline from the flag or
// the pod's grace period (Istio's rule), and when a draining tunnel may exit.

#include "tunnel/drain/drain.h"

#include <gtest/gtest.h>

namespace warren::tunnel {
namespace {

using namespace std::chrono_literals;

DrainProgress progress(std::chrono::milliseconds elapsed, size_t active,
                       std::optional<std::chrono::milliseconds> sinceNotice = std::nullopt) {
  DrainProgress p;
  p.elapsed = elapsed;
  p.activeConnections = active;
  p.sinceLastNotice = sinceNotice;
  return p;
}

TEST(DrainDeadline, TheFlagWins) {
  EXPECT_EQ(drainDeadline(12, "30"), 12s);
  EXPECT_EQ(drainDeadline(0, "30"), 0s);  // 0: close at once
}

TEST(DrainDeadline, FromTheGracePeriodAsZtunnel) {
  struct Case {
    const char* grace;
    std::chrono::seconds want;
  } cases[] = {
      {"30", 25s},                         // the DaemonSet's: 5 s left to close before SIGKILL
      {"11", 6s},  {"10", 9s},             // 10 s or less: 1 s kept
      {"2", 1s},   {"1", 1s},  {"0", 1s},  // never below 1 s
  };
  for (const auto& c : cases) EXPECT_EQ(drainDeadline(std::nullopt, c.grace), c.want) << c.grace;
}

TEST(DrainDeadline, WithoutEitherFiveSeconds) {
  EXPECT_EQ(drainDeadline(std::nullopt, nullptr), 5s);
  EXPECT_EQ(drainDeadline(std::nullopt, ""), 5s);
}

TEST(DrainDeadline, AnUnreadableGracePeriodIsSaidAndIgnored) {
  std::string note;
  EXPECT_EQ(drainDeadline(std::nullopt, "30s", &note), 5s);
  EXPECT_NE(note.find("TERMINATION_GRACE_PERIOD_SECONDS=30s"), std::string::npos) << note;
  note.clear();
  EXPECT_EQ(drainDeadline(std::nullopt, "-3", &note), 5s);
  EXPECT_FALSE(note.empty());
}

TEST(JudgeDrain, Table) {
  const DrainLimits limits{.deadline = 10s, .noticeQuiet = 500ms};
  struct Case {
    const char* what;
    DrainProgress p;
    DrainStep want;
  } cases[] = {
      {"nothing open, nobody told", progress(0ms, 0), DrainStep::Done},
      {"connections open", progress(3s, 2), DrainStep::Wait},
      {"a notice just sent: a stream may still come", progress(100ms, 0, 100ms), DrainStep::Wait},
      {"the notice has had its time", progress(1s, 0, 500ms), DrainStep::Done},
      {"deadline with connections open", progress(10s, 7), DrainStep::Deadline},
      {"deadline beats a fresh notice", progress(11s, 0, 0ms), DrainStep::Deadline},
  };
  for (const auto& c : cases) EXPECT_EQ(judgeDrain(c.p, limits), c.want) << c.what;
}

TEST(JudgeDrain, ZeroDeadlineStopsAtOnce) {
  EXPECT_EQ(judgeDrain(progress(0ms, 3), DrainLimits{.deadline = 0s, .noticeQuiet = 500ms}), DrainStep::Deadline);
}

}  // namespace
}  // namespace warren::tunnel
