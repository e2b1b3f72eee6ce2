// The HBONE server's first decision on a stream (hbone/connect_request.h) and the
// SPIFFE id parser both proxies trust for peer identities. Input: lines; the
// first is the pod's IPs (comma-separated), each other "name:value" is a header
// (the name may start with ':'), and every line is also tried as a SPIFFE id.
// Invariants: 200 only for CONNECT to one of the pod's IPs on a port that is not
// the tunnel's; an id that parses prints back to the same text and parses again
// to the same id.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/include/warren_abi.h"
#include "hbone/connect_request.h"
#include "identity/identity.h"
#include "io/tcp.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

void checkSpiffe(std::string_view text) {
  auto id = identity::SpiffeId::parse(text);
  if (!id) return;
  FUZZ_CHECK(id->uri() == text);
  auto again = identity::SpiffeId::parse(id->uri());
  FUZZ_CHECK(again.ok() && *again == *id);
}

}  // namespace

int hboneConnectEntry(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto lines = split(input, '\n');
  std::vector<std::string> podIps;
  for (auto ip : split(lines[0], ',')) podIps.emplace_back(ip);
  hbone::Headers headers;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto line = lines[i];
    checkSpiffe(line);
    const size_t colon = line.find(':', 1);
    if (colon == std::string_view::npos) continue;
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  checkSpiffe(lines[0]);

  const auto verdict = hbone::judgeConnectRequest(headers, podIps);
  FUZZ_CHECK(verdict.status == 200 || verdict.status == 400);
  if (verdict.status == 200) {
    const std::string ip = io::formatIp(verdict.target);
    FUZZ_CHECK(std::find(podIps.begin(), podIps.end(), ip) != podIps.end());
    const uint16_t port = io::portOf(verdict.target);
    FUZZ_CHECK(port != 0 && port != WARREN_OUTBOUND_PORT && port != WARREN_INBOUND_PORT && port != WARREN_HBONE_PORT);
    bool connect = false;
    for (const auto& [n, v] : headers)
      if (n == ":method") {
        connect = v == "CONNECT";
        break;
      }
    FUZZ_CHECK(connect);
  } else {
    FUZZ_CHECK(!verdict.reason.empty());
  }
  for (const auto& [n, v] : headers)
    if (n == "forwarded") (void)hbone::forwardedFor(v);
  return 0;
}

}  // namespace warren::fuzz
