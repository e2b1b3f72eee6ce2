// Istio's string and CIDR matching, the building blocks of every L4 rule.

#include "state/policy_types.h"

#include <gtest/gtest.h>

namespace warren::state {
namespace {

TEST(StringMatch, IstioPatterns) {
  EXPECT_TRUE(StringMatch::parse("a/b").matches("a/b"));
  EXPECT_FALSE(StringMatch::parse("a/b").matches("a/bc"));
  EXPECT_TRUE(StringMatch::parse("a/*").matches("a/bc"));
  EXPECT_FALSE(StringMatch::parse("a/*").matches("b/a"));
  EXPECT_TRUE(StringMatch::parse("*/sa/x").matches("td/ns/n/sa/x"));
  EXPECT_FALSE(StringMatch::parse("*/sa/x").matches("td/ns/n/sa/y"));
  EXPECT_TRUE(StringMatch::parse("*").matches("anything"));
  EXPECT_FALSE(StringMatch::parse("*").matches(""));
  EXPECT_EQ(StringMatch::parse("a*").text(), "a*");
  EXPECT_EQ(StringMatch::parse("*a").text(), "*a");
  EXPECT_EQ(StringMatch::parse("*").text(), "*");
}

TEST(IpBlock, CidrsAndBareAddresses) {
  auto b = IpBlock::parse("10.1.0.0/16");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->contains("10.1.255.3"));
  EXPECT_FALSE(b->contains("10.2.0.1"));
  EXPECT_FALSE(b->contains("fd00::1"));  // another family never matches
  EXPECT_FALSE(b->contains("not-an-ip"));
  auto host = IpBlock::parse("10.1.2.3");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->text(), "10.1.2.3/32");
  EXPECT_TRUE(host->contains("10.1.2.3"));
  EXPECT_FALSE(host->contains("10.1.2.4"));
  auto odd = IpBlock::parse("10.1.2.3/20");  // host bits are dropped, as Istio does
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->text(), "10.1.0.0/20");
  auto v6 = IpBlock::parse("fd00:1::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains("fd00:1::9"));
  EXPECT_FALSE(v6->contains("fd00:2::9"));
  auto all = IpBlock::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains("192.0.2.1"));
  for (const char* bad : {"10.1.0.0/33", "10.1.0.0/", "10.1.0.0/x", "300.1.1.1", "", "fd00::/129"})
    EXPECT_FALSE(IpBlock::parse(bad)) << bad;
}

}  // namespace
}  // namespace warren::state
