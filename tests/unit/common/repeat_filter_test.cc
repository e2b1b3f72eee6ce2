// RepeatFilter: a standing problem is said once, again only after it went away.

#include "common/repeat_filter.h"

#include <gtest/gtest.h>

namespace warren {
namespace {

using Lines = std::vector<std::string>;

TEST(RepeatFilter, AStandingProblemIsSaidOnceAndAgainOnlyAfterItWentAway) {
  RepeatFilter f;
  EXPECT_EQ(f.fresh({"policy a: bad path", "policy b: unknown key"}),
            (Lines{"policy a: bad path", "policy b: unknown key"}));
  EXPECT_EQ(f.standing(), 2u);
  // The next rebuild, the same two: nothing to say.
  EXPECT_EQ(f.fresh({"policy b: unknown key", "policy a: bad path"}), Lines{});
  // One fixed, one new: only the new one.
  EXPECT_EQ(f.fresh({"policy b: unknown key", "pod c: no IP"}), Lines{"pod c: no IP"});
  // Everything fixed, then a's problem back: said again.
  EXPECT_EQ(f.fresh({}), Lines{});
  EXPECT_EQ(f.standing(), 0u);
  EXPECT_EQ(f.fresh({"policy a: bad path"}), Lines{"policy a: bad path"});
}

TEST(RepeatFilter, ALineTwiceInOneRebuildIsSaidOnce) {
  RepeatFilter f;
  EXPECT_EQ(f.fresh({"x", "y", "x"}), (Lines{"x", "y"}));
}

}  // namespace
}  // namespace warren
