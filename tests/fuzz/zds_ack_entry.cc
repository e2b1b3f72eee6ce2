// What a tunnel sends the agent on the ZDS socket (hello, then one ack per request),
// through the agent's decoder (agent/zds/tunnel_message.h), one connection's
// messages in order, as the agent's server keeps the state between them.
// Input: messages, each one byte (bits 0-1: fds attached, 0-3; bit 2: the agent had
// sent a request before this message), two bytes of length (big-endian), then the
// message's bytes (a TunnelMessage).
// Invariants: a hello is taken only as the first message and only as a version-1
// hello; an ack only after it, with no fd, while a request is in flight, and with
// the tunnel's error as it was sent; every drop says why, and ends the connection.
#include <string>

#include "agent/zds/tunnel_message.h"
#include "tests/fuzz/fuzz_entries.h"
#include "zds.pb.h"

namespace warren::fuzz {

int zdsAckEntry(const uint8_t* data, size_t size) {
  namespace pb = warren::zds::v1;
  using Kind = zds::TunnelMessage::Kind;
  bool helloed = false;
  bool inFlight = false;
  size_t at = 0;
  while (at + 3 <= size) {
    const uint8_t flags = data[at];
    const size_t len = (static_cast<size_t>(data[at + 1]) << 8) | data[at + 2];
    at += 3;
    const std::string bytes(reinterpret_cast<const char*>(data + at), std::min(len, size - at));
    at += bytes.size();
    const size_t fds = flags & 3;
    if (flags & 4) inFlight = true;

    const zds::TunnelMessage m = zds::judgeTunnelMessage(bytes, fds, helloed, inFlight);
    pb::TunnelMessage parsed;
    const bool parses = parsed.ParseFromString(bytes);
    switch (m.kind) {
      case Kind::Hello:
        FUZZ_CHECK(!helloed && fds == 0 && parses && parsed.has_hello() && parsed.hello().version() == pb::V1);
        helloed = true;
        break;
      case Kind::Ack:
        FUZZ_CHECK(helloed && inFlight && fds == 0 && parses && parsed.has_response() && parsed.response().has_ack());
        FUZZ_CHECK(m.detail == parsed.response().ack().error());
        inFlight = false;
        break;
      case Kind::Drop: FUZZ_CHECK(!m.detail.empty()); return 0;  // the agent closes the connection
    }
  }
  return 0;
}

}  // namespace warren::fuzz
