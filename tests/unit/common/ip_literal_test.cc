#include "common/ip_literal.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(IpLiteral, ParsesBothFamiliesIntoSixteenBytes) {
  auto v4 = parseIpLiteral("10.244.1.7");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(v4->bytes[0], 10);
  EXPECT_EQ(v4->bytes[3], 7);
  for (int i = 4; i < 16; ++i) EXPECT_EQ(v4->bytes[i], 0) << i;

  auto v6 = parseIpLiteral("fd00::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->bytes[0], 0xfd);
  EXPECT_EQ(v6->bytes[15], 1);
}

TEST(IpLiteral, RejectsWhatIsNotOneAddress) {
  for (const char* text : {"", "10.1.2", "10.1.2.3/24", "10.1.2.3 ", "host.example", "::1%lo", "256.1.1.1",
                           "fd00::1::2"})
    EXPECT_FALSE(isIpLiteral(text)) << text;
  // A string_view that stops before a terminator: only the viewed part counts.
  std::string_view prefix("10.1.2.3999", 8);
  EXPECT_TRUE(isIpLiteral(prefix));
  EXPECT_FALSE(isIpLiteral(std::string(1000, '1')));
  // An embedded NUL must not cut the text short into a valid address.
  EXPECT_FALSE(isIpLiteral(std::string_view("10.1.2.3\0garbage", 16)));
}

}  // namespace
}  // namespace warren
