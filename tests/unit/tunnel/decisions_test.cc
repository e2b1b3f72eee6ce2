// Where a captured connection goes, without sockets.

#include "ztunnel/proxy/decisions.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "ztunnel/proxy/access_log.h"

namespace warren::proxy {
namespace {

sockaddr_storage v4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& in = reinterpret_cast<sockaddr_in&>(ss);
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, ip, &in.sin_addr);
  return ss;
}

sockaddr_storage v6(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6.sin6_addr);
  return ss;
}

TEST(DecideOutbound, ForwardsToTheOriginalDestination) {
  auto d = decideOutbound(v4("10.0.0.9", 8080));
  ASSERT_EQ(d.action, Decision::Action::Forward);
  const auto& in = reinterpret_cast<const sockaddr_in&>(d.target);
  EXPECT_EQ(ntohs(in.sin_port), 8080);
  char buf[16];
  EXPECT_STREQ(inet_ntop(AF_INET, &in.sin_addr, buf, sizeof(buf)), "10.0.0.9");
}

TEST(DecideOutbound, ForwardsIpv6) { EXPECT_EQ(decideOutbound(v6("fd00::9", 443)).action, Decision::Action::Forward); }

TEST(DecideOutbound, RefusesPortZeroAndNonIp) {
  EXPECT_EQ(decideOutbound(v4("10.0.0.9", 0)).action, Decision::Action::Refuse);
  sockaddr_storage unix{};
  unix.ss_family = AF_UNIX;
  EXPECT_EQ(decideOutbound(unix).action, Decision::Action::Refuse);
}

TEST(DecideInbound, HandsTheConnectionToTheAppOnTheDialedAddress) {
  auto d = decideInbound(v4("10.0.0.2", 8080));
  ASSERT_EQ(d.action, Decision::Action::Forward);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in&>(d.target).sin_port), 8080);
}

TEST(DecideInbound, RefusesTheTunnelsOwnPortsSoNothingLoops) {
  for (uint16_t port : {15001, 15006, 15008}) {
    auto d = decideInbound(v4("10.0.0.2", port));
    EXPECT_EQ(d.action, Decision::Action::Refuse) << port;
    EXPECT_NE(d.reason.find(std::to_string(port)), std::string::npos);
  }
  EXPECT_FALSE(isTunnelPort(8080));
}

TEST(AccessLog, OneJsonObjectWithStableFieldNames) {
  ConnectionRecord r{"outbound", "mesh/a", "10.0.0.1:4000", "10.0.0.2:80", 5, 7, std::chrono::milliseconds(12),
                     "closed"};
  EXPECT_EQ(formatConnection(r),
            R"({"bytes_received":7,"bytes_sent":5,"direction":"outbound","dst":"10.0.0.2:80",)"
            R"("duration_ms":12,"end":"closed","pod":"mesh/a","src":"10.0.0.1:4000"})");
}

}  // namespace
}  // namespace warren::proxy
