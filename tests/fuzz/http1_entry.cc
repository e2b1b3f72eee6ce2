// HTTP/1.1 as the waypoint reads it from a client (requests) or an upstream
// (responses). Input: one mode byte, then the bytes on the wire.
//   bit 0: responses (else requests); bit 1: responses to HEAD (expectNoBody);
//   bits 2-7: bytes per read (0: everything at once), as a socket hands them over.
// Invariants: NeedMore means every byte offered was used; an error is one of the
// statuses the header documents; and each accepted head, serialised as the
// waypoint writes it upstream (or downstream), parses again to the same fields:
// what the waypoint judged is what the next hop reads.
#include <algorithm>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_entries.h"
#include "waypoint/http1/http1_parser.h"

namespace warren::fuzz {
namespace {

using namespace warren::waypoint::http1;

bool framingOrHost(std::string_view name) {
  return name == "transfer-encoding" || name == "content-length" || name == "host";
}

// The end-to-end headers of a head as the serialiser keeps them.
HeaderList endToEnd(const MessageHead& h) {
  HeaderList out;
  for (const auto& [n, v] : h.headers) {
    if (n == "connection" || n == "keep-alive" || n == "proxy-connection" || n == "te" || n == "trailer" ||
        n == "upgrade" || framingOrHost(n) || namedInConnection(h.headers, n))
      continue;
    out.emplace_back(n, v);
  }
  return out;
}

// Parses `wire` (one head, nothing after it) to its Head event.
const MessageHead* reparse(Parser& p, const std::string& wire) {
  std::string_view rest = wire;
  for (int i = 0; i < 8; ++i) {
    auto st = p.feed(rest);
    rest.remove_prefix(st.consumed);
    if (st.event == Parser::Event::Head) return &p.head();
    if (st.event == Parser::Event::Error) return nullptr;
  }
  return nullptr;
}

void checkRequestRoundTrip(const MessageHead& h) {
  const std::string wire = serializeRequestHead(h);
  // The serializer always writes Host (HTTP/1.1 requires it), so a request that had
  // none and sat at the header limit goes out one header over it: that one is ours.
  Limits limits;
  if (std::none_of(h.headers.begin(), h.headers.end(), [](const auto& kv) { return kv.first == "host"; }))
    limits.maxHeaders += 1;
  Parser again(Parser::Kind::Request, limits);
  const MessageHead* r = reparse(again, wire);
  if (!r) std::fprintf(stderr, "re-parse failed: %s\nhead:\n%s", again.error().reason.c_str(), wire.c_str());
  FUZZ_CHECK(r != nullptr);
  FUZZ_CHECK(r->method == h.method);
  FUZZ_CHECK(r->host == h.host);
  if (!h.target.empty() && h.target[0] == '/') {
    FUZZ_CHECK(r->target == h.target);
    FUZZ_CHECK(r->path == h.path);
  }
  FUZZ_CHECK(endToEnd(*r) == endToEnd(h));
  FUZZ_CHECK(r->chunked == h.chunked);
  if (!h.chunked) FUZZ_CHECK(r->contentLength.value_or(0) == h.contentLength.value_or(0));
}

void checkResponseRoundTrip(const MessageHead& h) {
  const std::string wire = serializeResponseHead(h);
  Parser again(Parser::Kind::Response);
  const MessageHead* r = reparse(again, wire);
  if (!r) std::fprintf(stderr, "re-parse failed: %s\nhead:\n%s", again.error().reason.c_str(), wire.c_str());
  FUZZ_CHECK(r != nullptr);
  FUZZ_CHECK(r->status == h.status);
  if (!h.reason.empty()) FUZZ_CHECK(r->reason == h.reason);
  FUZZ_CHECK(endToEnd(*r) == endToEnd(h));
  const bool framing = !(h.status / 100 == 1 || h.status == 204);
  if (framing) {
    FUZZ_CHECK(r->chunked == h.chunked);
    if (!h.chunked) FUZZ_CHECK(r->contentLength == h.contentLength);
  }
}

}  // namespace

int http1Entry(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const bool response = mode & 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t piece = (mode >> 2) == 0 ? input.size() : (mode >> 2);

  Parser p(response ? Parser::Kind::Response : Parser::Kind::Request);
  if (response && (mode & 2)) p.expectNoBody();
  std::string pending;
  size_t offered = 0;
  // Every step consumes a byte or reports an event; a parser that does neither
  // forever is a hang, and this bound turns it into a finding.
  for (size_t steps = 0;; ++steps) {
    FUZZ_CHECK(steps < 16 * input.size() + 64);
    const auto st = p.feed(pending);
    FUZZ_CHECK(st.consumed <= pending.size());
    pending.erase(0, st.consumed);
    switch (st.event) {
      case Parser::Event::NeedMore:
        FUZZ_CHECK(pending.empty());
        if (offered == input.size()) {
          const auto end = p.finish();
          FUZZ_CHECK(end.event != Parser::Event::Head && end.event != Parser::Event::BodyChunk);
          return 0;
        }
        pending.append(input.substr(offered, piece));
        offered += std::min(piece, input.size() - offered);
        break;
      case Parser::Event::Head:
        if (response)
          checkResponseRoundTrip(p.head());
        else
          checkRequestRoundTrip(p.head());
        break;
      case Parser::Event::BodyChunk: FUZZ_CHECK(p.bodyChunk().size() <= input.size()); break;
      case Parser::Event::MessageEnd: break;
      case Parser::Event::Error: {
        const int s = p.error().status;
        FUZZ_CHECK(s == 400 || s == 431 || s == 501 || s == 505);
        FUZZ_CHECK(p.feed("x").event == Parser::Event::Error);
        return 0;
      }
    }
  }
}

}  // namespace warren::fuzz
