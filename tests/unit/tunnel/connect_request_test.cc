// The HBONE CONNECT request: what the client sends, what the server accepts.

#include "hbone/connect_request.h"

#include <gtest/gtest.h>

#include "io/tcp.h"

namespace warren::hbone {
namespace {

const std::vector<std::string> kPod = {"10.244.2.5", "fd00::5"};

Headers connect(const std::string& authority) { return {{":method", "CONNECT"}, {":authority", authority}}; }

TEST(BuildConnectRequest, CarriesAuthorityAndIstiosOptionalHeaders) {
  auto h = buildConnectRequest("10.244.2.5:80", {"10.244.1.4", "mesh", "client", "sa-client"}, "00-abc-def-00");
  EXPECT_EQ(findHeader(h, ":method"), "CONNECT");
  EXPECT_EQ(findHeader(h, ":authority"), "10.244.2.5:80");
  EXPECT_EQ(findHeader(h, "forwarded"), "for=10.244.1.4");
  EXPECT_EQ(findHeader(h, "traceparent"), "00-abc-def-00");
  auto baggage = findHeader(h, "baggage");
  ASSERT_TRUE(baggage);
  EXPECT_NE(baggage->find("k8s.namespace.name=mesh"), std::string::npos);
  EXPECT_FALSE(findHeader(h, ":path"));  // plain CONNECT has neither :path nor :scheme
  EXPECT_FALSE(findHeader(h, ":scheme"));
}

TEST(BuildConnectRequest, QuotesIpv6InForwarded) {
  auto h = buildConnectRequest("[fd00::5]:80", {"fd00::4", "", "", ""}, "");
  EXPECT_EQ(findHeader(h, "forwarded"), "for=\"[fd00::4]\"");
  EXPECT_EQ(forwardedFor(*findHeader(h, "forwarded")), "fd00::4");
  EXPECT_FALSE(findHeader(h, "baggage"));
  EXPECT_FALSE(findHeader(h, "traceparent"));
}

TEST(NewTraceparent, IsW3cShaped) {
  auto t = newTraceparent();
  ASSERT_EQ(t.size(), 55u);
  EXPECT_EQ(t.substr(0, 3), "00-");
  EXPECT_EQ(t[35], '-');
  EXPECT_EQ(t.substr(52), "-00");
  EXPECT_NE(newTraceparent(), t);
}

TEST(ForwardedFor, ReadsTheForPairOfTheFirstElement) {
  EXPECT_EQ(forwardedFor("for=10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(forwardedFor("proto=https; for=10.0.0.1;by=x"), "10.0.0.1");
  EXPECT_EQ(forwardedFor("for=10.0.0.1, for=10.0.0.2"), "10.0.0.1");
  EXPECT_EQ(forwardedFor("by=x"), "");
  EXPECT_EQ(forwardedFor(""), "");
}

TEST(JudgeConnectRequest, AcceptsThisPodsAddresses) {
  auto v = judgeConnectRequest(connect("10.244.2.5:8080"), kPod);
  ASSERT_EQ(v.status, 200) << v.reason;
  EXPECT_EQ(io::formatSockaddr(v.target), "10.244.2.5:8080");
  v = judgeConnectRequest(connect("[fd00::5]:443"), kPod);
  ASSERT_EQ(v.status, 200) << v.reason;
  EXPECT_EQ(io::formatSockaddr(v.target), "[fd00::5]:443");
}

TEST(JudgeConnectRequest, PassesOnTheForwardedSource) {
  auto req = connect("10.244.2.5:80");
  req.emplace_back("forwarded", "for=10.244.1.4");
  EXPECT_EQ(judgeConnectRequest(req, kPod).forwardedFor, "10.244.1.4");
}

TEST(JudgeConnectRequest, RefusesWith400) {
  struct Case {
    const char* what;
    Headers request;
  } cases[] = {
      {"GET", {{":method", "GET"}, {":authority", "10.244.2.5:80"}, {":path", "/"}, {":scheme", "https"}}},
      {"no method", {{":authority", "10.244.2.5:80"}}},
      {"no authority", {{":method", "CONNECT"}}},
      {"name", connect("server.mesh:80")},
      {"no port", connect("10.244.2.5")},
      {"port 0", connect("10.244.2.5:0")},
      {"port too big", connect("10.244.2.5:70000")},
      {"another pod", connect("10.244.2.6:80")},
      {"loopback", connect("127.0.0.1:80")},
      {"unbracketed v6", connect("fd00::5:80")},
      {"tunnel outbound port", connect("10.244.2.5:15001")},
      {"tunnel inbound port", connect("10.244.2.5:15006")},
      {"tunnel hbone port", connect("10.244.2.5:15008")},
  };
  for (const auto& c : cases) {
    auto v = judgeConnectRequest(c.request, kPod);
    EXPECT_EQ(v.status, 400) << c.what;
    EXPECT_FALSE(v.reason.empty()) << c.what;
  }
}

}  // namespace
}  // namespace warren::hbone
