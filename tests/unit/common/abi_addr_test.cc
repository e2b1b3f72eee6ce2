#include "common/abi_addr.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(IpKey, ParsesBothFamiliesAndRejectsGarbage) {
  auto v4 = ipKeyFromString("10.1.2.3");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->family, WARREN_AF_INET);
  EXPECT_EQ(addrToString(WARREN_AF_INET, v4->ip), "10.1.2.3");
  // Bytes past an IPv4 address are zero: the BPF side hashes all 16.
  for (int i = 4; i < 16; ++i) EXPECT_EQ(v4->ip.addr[i], 0);

  auto v6 = ipKeyFromString("fd00::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family, WARREN_AF_INET6);
  EXPECT_EQ(addrPortToString(WARREN_AF_INET6, v6->ip, 443), "[fd00::1]:443");

  EXPECT_FALSE(ipKeyFromString("10.1.2").ok());
  EXPECT_FALSE(ipKeyFromString("").ok());
  EXPECT_NE(ipKeyFromString("nope").error().message.find("nope"), std::string::npos);
}

TEST(SockaddrToAbi, V4MappedIpv6IsKeyedAsIpv4LikeTheBpfSide) {
  sockaddr_storage ss{};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(5000);
  inet_pton(AF_INET6, "::ffff:10.0.0.7", &in6.sin6_addr);
  uint16_t family = 0, port = 0;
  warren_addr addr{};
  ASSERT_TRUE(sockaddrToAbi(ss, &family, &addr, &port));
  EXPECT_EQ(family, WARREN_AF_INET);
  EXPECT_EQ(port, 5000);
  EXPECT_EQ(addrToString(family, addr), "10.0.0.7");
}

TEST(SockaddrToAbi, RoundTrips) {
  auto key = ipKeyFromString("192.168.7.9");
  ASSERT_TRUE(key.ok());
  sockaddr_storage ss = abiToSockaddr(WARREN_AF_INET, key->ip, 8080);
  uint16_t family = 0, port = 0;
  warren_addr addr{};
  ASSERT_TRUE(sockaddrToAbi(ss, &family, &addr, &port));
  EXPECT_EQ(addrPortToString(family, addr, port), "192.168.7.9:8080");
  sockaddr_storage unix{};
  unix.ss_family = AF_UNIX;
  EXPECT_FALSE(sockaddrToAbi(unix, &family, &addr, &port));
}

}  // namespace
}  // namespace warren
