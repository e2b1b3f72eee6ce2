#include "waypoint/proxy/h1_h2_translate.h"

#include <algorithm>
#include <charconv>
#include <iterator>

namespace warren::waypoint {

bool connectionSpecific(std::string_view name, const http1::HeaderList& fields) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                                "upgrade",    "te",         "trailer"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames) ||
         http1::namedInConnection(fields, name);
}

bool acceptsTrailers(const http1::HeaderList& fields) {
  for (const auto& [n, v] : fields)
    if (n == "te" && http1::listsToken(v, "trailers")) return true;
  return false;
}

H2UpstreamRequest h2UpstreamRequest(const http1::MessageHead& h, bool teTrailers) {
  H2UpstreamRequest r;
  r.pseudo = {{":method", h.method}, {":scheme", "http"}, {":authority", h.host}, {":path", h.target}};
  for (const auto& [n, v] : h.headers) {
    if (n == "host" || connectionSpecific(n, h.headers)) continue;
    r.fields.emplace_back(n, v);
  }
  if (teTrailers) r.fields.emplace_back("te", "trailers");
  return r;
}

bool expectsContinue(const http1::MessageHead& h) {
  if (h.versionMajor != 1 || h.versionMinor < 1) return false;  // HTTP/1.0 has no 100 Continue
  for (const auto& [n, v] : h.headers)
    if (n == "expect" && http1::listsToken(v, "100-continue")) return true;
  return false;
}

H2UpstreamRequest h2RequestForHttp1(const http1::MessageHead& h) {
  H2UpstreamRequest r = h2UpstreamRequest(h, acceptsTrailers(h.headers));
  std::erase_if(r.fields,
                [](const auto& f) { return f.first == "expect" && http1::listsToken(f.second, "100-continue"); });
  return r;
}

namespace {

// Nothing may follow the head (RFC 9110 6.4.1): a response to HEAD, 1xx, 204, 304.
bool bodylessResponse(int status, bool headRequest) {
  return headRequest || status < 200 || status == 204 || status == 304;
}

// How the connection goes on after a response, said in its head.
void addConnectionField(const Http1ResponseHead& r, bool http10Client, bool keepAlive, http1::HeaderList& extra) {
  if (r.closeDelimited || !keepAlive)
    extra.emplace_back("connection", "close");
  else if (http10Client)
    extra.emplace_back("connection", "keep-alive");
}

}  // namespace

Http1ResponseHead http1ResponseHead(int status, const http1::HeaderList& fields, bool endStream, bool headRequest,
                                    bool http10Client, bool keepAlive) {
  Http1ResponseHead r;
  http1::MessageHead h;
  h.status = status;
  for (const auto& [n, v] : fields) {
    if (n.empty() || n.front() == ':' || connectionSpecific(n, fields)) continue;
    if (n == "content-length") {
      // One value (nghttp2 has checked it against DATA); the serializer states it.
      uint64_t len = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
      if (!h.contentLength && ec == std::errc() && end == v.data() + v.size()) h.contentLength = len;
      continue;
    }
    h.headers.emplace_back(n, v);
  }
  r.bodyless = bodylessResponse(status, headRequest);
  http1::HeaderList extra;
  if (r.bodyless) {
    // A length stays as information about the representation (HEAD, 304).
  } else if (h.contentLength) {
    // The upstream's length frames the body to the client too.
  } else if (endStream) {
    h.contentLength = 0;  // ended with its head: an empty body, stated
  } else if (!http10Client) {
    h.chunked = r.chunked = true;
  } else {
    // HTTP/1.0 knows no chunks: the body ends with the connection.
    r.closeDelimited = true;
  }
  addConnectionField(r, http10Client, keepAlive, extra);
  r.head = http1::serializeResponseHead(h, extra);
  return r;
}

Http1ResponseHead relayedHttp1ResponseHead(const http1::MessageHead& upstream, bool headRequest, bool http10Client,
                                           bool keepAlive) {
  Http1ResponseHead r;
  const int status = upstream.status;
  r.bodyless = bodylessResponse(status, headRequest);
  http1::MessageHead h = upstream;
  http1::HeaderList extra;
  if (r.bodyless) {
    // Framing headers stay as information about the representation (HEAD, 304).
  } else if (h.chunked && http10Client) {
    h.chunked = false;
    r.closeDelimited = true;
  } else if (!h.chunked && !h.contentLength) {
    r.closeDelimited = true;
  }
  r.chunked = h.chunked && !r.bodyless;
  addConnectionField(r, http10Client, keepAlive, extra);
  r.head = http1::serializeResponseHead(h, extra);
  return r;
}

http1::HeaderList forwardableTrailers(const http1::HeaderList& trailers) {
  http1::HeaderList out;
  for (const auto& [n, v] : trailers) {
    // RFC 9110 6.5.1: no framing, routing or connection fields in trailers.
    if (n.empty() || n.front() == ':' || connectionSpecific(n, trailers) || n == "content-length" || n == "host")
      continue;
    out.emplace_back(n, v);
  }
  return out;
}

std::string lastChunkWithTrailers(const http1::HeaderList& trailers) {
  const http1::HeaderList fields = forwardableTrailers(trailers);
  if (fields.empty()) return http1::lastChunk();
  std::string out = "0\r\n";
  for (const auto& [n, v] : fields) out.append(n).append(": ").append(v).append("\r\n");
  return out.append("\r\n");
}

}  // namespace warren::waypoint
