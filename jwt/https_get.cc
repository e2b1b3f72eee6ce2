#include "jwt/https_get.h"

#include "httpclient/connection.h"
#include "httpclient/response_reader.h"

namespace warren::jwt {

Result<std::string> httpGet(const Url& url, const GetOptions& o) {
  const auto deadline = httpclient::Clock::now() + o.timeout;
  httpclient::ConnectOptions connect;
  connect.tls.ca.file = o.caFile;  // "": the system trust store
  auto conn = httpclient::Connection::open(url, connect, deadline);
  if (!conn) return conn.error();

  const std::string request =
      "GET " + url.target + " HTTP/1.1\r\nHost: " + url.hostHeader() +
      "\r\nAccept: application/json\r\nUser-Agent: warren-waypoint\r\nConnection: close\r\n\r\n";
  if (auto s = conn->writeAll(request, deadline); !s) return s.error();

  std::string body;
  httpclient::ResponseReader reader([&](std::string_view piece) -> Status {
    if (body.size() + piece.size() > o.maxBytes)
      return makeError("response body over " + std::to_string(o.maxBytes) + " bytes");
    body.append(piece);
    return okStatus();
  });
  char buf[16384];
  while (!reader.complete()) {
    auto n = conn->read(buf, sizeof(buf), deadline);
    if (!n) return n.error();
    if (auto s = reader.feed(buf, *n); !s) return s.error();
  }
  if (reader.status() < 200 || reader.status() > 299)
    return makeError("answered HTTP " + std::to_string(reader.status()));
  return body;
}

}  // namespace warren::jwt
