// The audit-cost comparison's summary (tools/bench/audit_compare.h): medians per
// configuration, so one disturbed round does not decide, and the differences.

#include "tools/bench/audit_compare.h"

#include <gtest/gtest.h>

namespace warren::bench {
namespace {

TEST(AuditCost, MediansOverRoundsAndTheDifferencesInPercent) {
  // Round 2 of "on" was disturbed (another build): the median leaves it out.
  const std::vector<AuditRound> off = {{200, 900, 4000, 100}, {210, 950, 3900, 104}, {190, 800, 4100, 96}};
  const std::vector<AuditRound> on = {{206, 910, 3920, 103}, {900, 5000, 1000, 400}, {204, 905, 3880, 105}};
  const AuditCost c = auditCost(off, on);
  EXPECT_DOUBLE_EQ(c.off.connP50, 200);
  EXPECT_DOUBLE_EQ(c.on.connP50, 206);
  EXPECT_DOUBLE_EQ(c.p50Percent, 3.0);
  EXPECT_DOUBLE_EQ(c.off.ratePerSecond, 4000);
  EXPECT_DOUBLE_EQ(c.on.ratePerSecond, 3880);
  EXPECT_DOUBLE_EQ(c.ratePercent, 3.0);
  EXPECT_DOUBLE_EQ(c.cpuPercent, 5.0);
  const std::string table = auditCostTable(off, on, c);
  EXPECT_NE(table.find("new conn p50 +3.0%, connection rate +3.0% lost, tunnel CPU per connection +5.0%"),
            std::string::npos)
      << table;
}

TEST(AuditCost, AnEvenNumberOfRoundsTakesTheMiddleTwoAndNoneGivesZeros) {
  const AuditCost c = auditCost({{100, 0, 0, 0}, {300, 0, 0, 0}}, {});
  EXPECT_DOUBLE_EQ(c.off.connP50, 200);
  EXPECT_DOUBLE_EQ(c.on.connP50, 0);
  EXPECT_DOUBLE_EQ(c.ratePercent, 0);
}

}  // namespace
}  // namespace warren::bench
