#pragma once
// One blocking HTTP GET over TLS (or plain HTTP, which Istio allows for jwksUri)
// with an overall deadline: what the JWKS cache's fetcher thread runs. Never on an
// event loop. Built on the shared HTTP client (httpclient/): the response is
// parsed incrementally (Content-Length, chunked, or read to close) and its body
// capped.

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "httpclient/url.h"

namespace warren::jwt {

// URLs are the shared HTTP client's (httpclient/url.h).
using httpclient::parseUrl;
using httpclient::Url;

struct GetOptions {
  std::string caFile;  // "": the system trust store
  std::chrono::milliseconds timeout{5000};
  size_t maxBytes = 1u << 20;
};

// The body of a 2xx answer; anything else is an error naming what failed (DNS,
// connect, TLS verification with OpenSSL's reason, status, size, timeout).
Result<std::string> httpGet(const Url& url, const GetOptions& options);

}  // namespace warren::jwt
