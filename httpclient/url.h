#pragma once
// http:// and https:// URLs as an HTTP client needs them: where to connect and
// what to put in the request line.

#include <cstdint>
#include <string>

#include "common/result.h"

namespace warren::httpclient {

struct Url {
  bool tls = true;   // https
  std::string host;  // a name, an IPv4 literal, or an IPv6 literal without brackets
  uint16_t port = 443;
  std::string target = "/";  // path and query, as sent in the request line

  // The Host header's value: brackets around an IPv6 literal, the port unless it
  // is the scheme's default.
  std::string hostHeader() const;
};

// http:// and https:// URLs; no user-info, no fragment sent.
Result<Url> parseUrl(const std::string& text);

}  // namespace warren::httpclient
