#pragma once
// One blocking HTTP GET over TLS (or plain HTTP, which Istio allows for jwksUri)
// with an overall deadline: what the JWKS cache's fetcher thread runs. Never on an
// event loop. The response is parsed by libhttp-parser (Content-Length, chunked,
// or read to close) and its body capped.

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace warren::jwt {

struct Url {
  bool tls = true;   // https
  std::string host;  // a name, an IPv4 literal, or an IPv6 literal without brackets
  uint16_t port = 443;
  std::string target = "/";  // path and query, as sent in the request line
};
// http:// and https:// URLs; no user-info, no fragment sent.
Result<Url> parseUrl(const std::string& text);

struct GetOptions {
  std::string caFile;  // "": the system trust store
  std::chrono::milliseconds timeout{5000};
  size_t maxBytes = 1u << 20;
};

// The body of a 2xx answer; anything else is an error naming what failed (DNS,
// connect, TLS verification with OpenSSL's reason, status, size, timeout).
Result<std::string> httpGet(const Url& url, const GetOptions& options);

}  // namespace warren::jwt
