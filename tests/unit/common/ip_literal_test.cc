#include "common/ip_literal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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
  for (const char* text :
       {"", "10.1.2", "10.1.2.3/24", "10.1.2.3 ", "host.example", "::1%lo", "256.1.1.1", "fd00::1::2"})
    EXPECT_FALSE(isIpLiteral(text)) << text;
  // A string_view that stops before a terminator: only the viewed part counts.
  std::string_view prefix("10.1.2.3999", 8);
  EXPECT_TRUE(isIpLiteral(prefix));
  EXPECT_FALSE(isIpLiteral(std::string(1000, '1')));
  // An embedded NUL must not cut the text short into a valid address.
  EXPECT_FALSE(isIpLiteral(std::string_view("10.1.2.3\0garbage", 16)));
}

TEST(IpLiteral, BecomesASockaddrOfItsFamily) {
  auto v4 = toSockaddr(*parseIpLiteral("10.244.2.20"), 8080);
  ASSERT_EQ(v4.ss_family, AF_INET);
  const auto& in = reinterpret_cast<const sockaddr_in&>(v4);
  EXPECT_EQ(ntohs(in.sin_port), 8080);
  EXPECT_EQ(ntohl(in.sin_addr.s_addr), 0x0af40214u);

  auto v6 = toSockaddr(*parseIpLiteral("fd00::7"), 443);
  ASSERT_EQ(v6.ss_family, AF_INET6);
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(v6);
  EXPECT_EQ(ntohs(in6.sin6_port), 443);
  EXPECT_EQ(in6.sin6_addr.s6_addr[0], 0xfd);
  EXPECT_EQ(in6.sin6_addr.s6_addr[15], 7);
}

}  // namespace
}  // namespace warren
