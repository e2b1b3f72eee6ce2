// The agent's reading of what a tunnel sends (agent/zds/tunnel_message.h), as a
// table: the protocol state (hello said, request in flight) against each message.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/zds/tunnel_message.h"
#include "zds.pb.h"

namespace warren::zds {
namespace {
namespace pb = warren::zds::v1;

std::string hello(pb::Version v = pb::V1) {
  pb::TunnelMessage m;
  m.mutable_hello()->set_version(v);
  return m.SerializeAsString();
}
std::string ack(const std::string& error = "") {
  pb::TunnelMessage m;
  m.mutable_response()->mutable_ack()->set_error(error);
  return m.SerializeAsString();
}
std::string emptyResponse() {
  pb::TunnelMessage m;
  m.mutable_response();
  return m.SerializeAsString();
}

struct Case {
  const char* name;
  std::string bytes;
  size_t fds;
  bool helloed, inFlight;
  TunnelMessage::Kind kind;
  std::string detailHas;  // Ack: the error exactly; Drop: a part of the reason
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class TunnelMessageTable : public ::testing::TestWithParam<Case> {};

TEST_P(TunnelMessageTable, Verdict) {
  const Case& c = GetParam();
  const TunnelMessage m = judgeTunnelMessage(c.bytes, c.fds, c.helloed, c.inFlight);
  EXPECT_EQ(static_cast<int>(m.kind), static_cast<int>(c.kind));
  if (c.kind == TunnelMessage::Kind::Ack)
    EXPECT_EQ(m.detail, c.detailHas);
  else
    EXPECT_NE(m.detail.find(c.detailHas), std::string::npos) << m.detail;
}

using K = TunnelMessage::Kind;
INSTANTIATE_TEST_SUITE_P(
    Zds, TunnelMessageTable,
    ::testing::Values(Case{"FirstHello", hello(), 0, false, false, K::Hello, ""},
                      Case{"HelloOfAnotherVersion", hello(pb::NOT_USED), 0, false, false, K::Drop, "version 1 hello"},
                      Case{"AckBeforeHello", ack(), 0, false, true, K::Drop, "version 1 hello"},
                      Case{"EmptyMessageBeforeHello", "", 0, false, false, K::Drop, "version 1 hello"},
                      Case{"SecondHello", hello(), 0, true, true, K::Drop, "other than an ack"},
                      Case{"AckOfTheRequestInFlight", ack(), 0, true, true, K::Ack, ""},
                      Case{"NackCarriesTheTunnelsError", ack("netns gone"), 0, true, true, K::Ack, "netns gone"},
                      Case{"AckWithNothingInFlight", ack(), 0, true, false, K::Drop, "never sent"},
                      Case{"ResponseWithoutAck", emptyResponse(), 0, true, true, K::Drop, "other than an ack"},
                      Case{"Garbage", std::string("\xff\xff\xff\xff\x0f", 5), 0, true, true, K::Drop, "unparsable"},
                      Case{"GarbageBeforeHello", std::string("\x0a\x05", 2), 0, false, false, K::Drop, "unparsable"},
                      Case{"AckWithAnFd", ack(), 1, true, true, K::Drop, "1 file descriptor"},
                      Case{"HelloWithFds", hello(), 2, false, false, K::Drop, "2 file descriptor"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace warren::zds
