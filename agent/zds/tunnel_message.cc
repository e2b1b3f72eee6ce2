#include "agent/zds/tunnel_message.h"

#include "common/zds/seqpacket.h"
#include "zds.pb.h"

namespace warren::zds {

namespace pb = warren::zds::v1;

TunnelMessage judgeTunnelMessage(const std::string& bytes, size_t fdCount, bool helloed, bool requestInFlight) {
  auto drop = [](std::string why) { return TunnelMessage{TunnelMessage::Kind::Drop, std::move(why)}; };
  // The agent hands netns fds to tunnels, never the other way round.
  if (fdCount > 0) return drop("sent " + std::to_string(fdCount) + " file descriptor(s), which it never should");
  pb::TunnelMessage tm;
  if (!parseProto(bytes, tm)) return drop("unparsable message (" + std::to_string(bytes.size()) + " bytes)");
  if (!helloed) {
    if (!tm.has_hello() || tm.hello().version() != pb::V1) return drop("did not start with a version 1 hello");
    return {TunnelMessage::Kind::Hello, {}};
  }
  if (!tm.has_response() || !tm.response().has_ack()) return drop("sent something other than an ack");
  // One request is in flight at a time, so an ack needs no id; one with nothing
  // pending is a confused or hostile peer.
  if (!requestInFlight) return drop("acked a request it was never sent");
  return {TunnelMessage::Kind::Ack, tm.response().ack().error()};
}

}  // namespace warren::zds
