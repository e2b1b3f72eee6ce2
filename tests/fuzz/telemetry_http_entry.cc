// The telemetry ports' HTTP/1.1 request parser (telemetry/http_parser.h), which
// every client of 15000, 15020 and 15021 reaches before any authentication.
// Input: the bytes a client sent, parsed with small limits so they are reached.
// Invariants: an error is one of the statuses the parser documents, with a
// message, and stays an error whatever follows (it is decided as early as
// possible); no prefix of a complete request is an error, and
// its body is exactly its Content-Length; a query value re-encoded byte by byte
// decodes to itself.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "telemetry/http_parser.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {
namespace {

using State = telemetry::ParseOutcome::State;

std::string percentEncodeAll(std::string_view s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof buf, "%%%02X", c);
    out += buf;
  }
  return out;
}

}  // namespace

int telemetryHttpEntry(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const telemetry::ParseLimits limits{256, 128};
  telemetry::HttpRequest request;
  const auto outcome = telemetry::parseRequest(input, limits, request);

  if (outcome.state == State::kError) {
    static const std::set<int> kStatuses = {400, 413, 431, 501, 505};
    FUZZ_CHECK(kStatuses.count(outcome.errorStatus) == 1);
    FUZZ_CHECK(!outcome.errorMessage.empty());
    telemetry::HttpRequest more;
    const std::string extended = std::string(input) + "\r\n\r\nX";
    FUZZ_CHECK(telemetry::parseRequest(extended, limits, more).state == State::kError);
    return 0;
  }
  if (outcome.state == State::kIncomplete) return 0;

  // Complete: a server reading it in pieces saw no error on the way (a prefix
  // may be complete already: bytes after the body belong to the next request).
  const size_t step = std::max<size_t>(1, size / 16);
  for (size_t cut = 0; cut < size; cut += step) {
    telemetry::HttpRequest partial;
    FUZZ_CHECK(telemetry::parseRequest(input.substr(0, cut), limits, partial).state != State::kError);
  }
  const auto length = request.headers.find("content-length");
  FUZZ_CHECK(request.body.size() == (length == request.headers.end() ? 0 : std::stoull(length->second)));
  FUZZ_CHECK(request.body.size() <= limits.maxBodyBytes);
  FUZZ_CHECK(!request.method.empty() && !request.path.empty() && request.path.front() == '/');
  for (const auto& [name, value] : request.headers)
    FUZZ_CHECK(std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
  for (const auto& [key, value] : request.query) {
    auto again = telemetry::percentDecode(percentEncodeAll(value), true);
    FUZZ_CHECK(again && *again == value);
  }
  return 0;
}

}  // namespace warren::fuzz
