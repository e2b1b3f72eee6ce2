#pragma once
// Parsing of one HTTP/1.1 request from the bytes received so far, for HttpServer.
// Stateless: the server calls it again after every read (heads are at most a few KiB,
// so re-parsing is cheaper than the bookkeeping of an incremental parser).

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "telemetry/http_server.h"

namespace warren::telemetry {

struct ParseLimits {
  size_t maxHeadBytes = 8 * 1024;
  size_t maxBodyBytes = 64 * 1024;
};

struct ParseOutcome {
  enum class State { kIncomplete, kComplete, kError };
  State state = State::kIncomplete;
  int errorStatus = 0;       // kError: 400, 413, 431, 501 or 505
  std::string errorMessage;  // kError: a short sentence for the response body
};

// Fills `out` when the whole request (head and Content-Length body) is in `buffer`.
// Lines must end in CRLF. Errors are decided as early as possible: a malformed request
// line as soon as it is complete, an oversized Content-Length before its body arrives,
// a head past the limit before its end is seen.
ParseOutcome parseRequest(std::string_view buffer, const ParseLimits& limits, HttpRequest& out);

// Percent-decoding ("%2F" -> "/"); with plusIsSpace, '+' -> ' ' (query strings).
// nullopt on a malformed escape ("%", "%zz").
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace);

// "a=1&b=x%20y&c" -> {a:1, b:"x y", c:""}. nullopt on a malformed escape.
std::optional<std::map<std::string, std::string>> parseQuery(std::string_view query);

}  // namespace warren::telemetry
