// Heads written by the waypoint, from parsed values only.

#include <cstdio>
#include <string>

#include "waypoint/http1/http1_parser.h"

namespace warren::waypoint::http1 {
namespace {

// RFC 9110 7.6.1: headers for one hop only, plus the framing headers the
// waypoint states itself from what it parsed.
bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive", "proxy-connection",  "te",
                                                "trailer",    "upgrade",    "transfer-encoding", "content-length"};
  for (auto n : kNames)
    if (n == name) return true;
  return false;
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// The end-to-end headers, then the framing, then the caller's extras.
void appendFields(std::string& out, const MessageHead& h, const HeaderList& extra, bool framing) {
  for (const auto& [name, value] : h.headers) {
    if (isHopByHop(name) || namedInConnection(h.headers, name)) continue;
    appendHeader(out, name, value);
  }
  if (framing) {
    if (h.chunked)
      appendHeader(out, "transfer-encoding", "chunked");
    else if (h.contentLength)
      appendHeader(out, "content-length", std::to_string(*h.contentLength));
  }
  for (const auto& [name, value] : extra) appendHeader(out, name, value);
  out.append("\r\n");
}

// The origin-form of an absolute-form target ("http://a/b?c" -> "/b?c"): the
// parser's host already holds the authority, and the upstream then sees one
// place to route by instead of two.
std::string originForm(const MessageHead& h) {
  if (h.target.empty() || h.target[0] == '/' || h.target == "*") return h.target;
  const size_t scheme = h.target.find("://");
  if (scheme == std::string::npos) return h.target;
  const size_t start = h.target.find_first_of("/?", scheme + 3);
  if (start == std::string::npos) return "/";
  if (h.target[start] == '?') return "/" + h.target.substr(start);
  return h.target.substr(start);
}

}  // namespace

bool listsToken(std::string_view value, std::string_view lowerToken) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view token = value.substr(pos, comma - pos);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    // "trailers;q=1" is not a TE token a proxy need read: parameters make no match.
    if (token.size() == lowerToken.size()) {
      bool same = true;
      for (size_t i = 0; i < token.size() && same; ++i) {
        char c = token[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        same = c == lowerToken[i];
      }
      if (same) return true;
    }
    pos = comma + 1;
  }
  return false;
}

bool namedInConnection(const HeaderList& headers, std::string_view lowerName) {
  for (const auto& [n, v] : headers)
    if (n == "connection" && listsToken(v, lowerName)) return true;
  return false;
}

std::string serializeRequestHead(const MessageHead& h, const HeaderList& extraHeaders) {
  std::string out;
  out.reserve(256);
  out.append(h.method).append(" ").append(originForm(h)).append(" HTTP/1.1\r\n");
  // Host is written from the parsed value (the absolute-form authority when there
  // was one), first, as RFC 9112 3.2 asks of clients. Always: the head goes out as
  // HTTP/1.1, whose servers answer 400 to a request without Host, so an HTTP/1.0
  // request that had none gets the empty value RFC 9112 3.2 prescribes for a
  // target without an authority (found by tests/fuzz http1).
  appendHeader(out, "host", h.host);
  MessageHead rest = h;
  std::erase_if(rest.headers, [](const auto& kv) { return kv.first == "host"; });
  appendFields(out, rest, extraHeaders, true);
  return out;
}

std::string serializeResponseHead(const MessageHead& h, const HeaderList& extraHeaders) {
  std::string out;
  out.reserve(256);
  out.append("HTTP/1.1 ").append(std::to_string(h.status)).append(" ");
  out.append(h.reason.empty() ? reasonPhrase(h.status) : std::string_view(h.reason)).append("\r\n");
  // 1xx and 204 carry no framing headers (RFC 9110 8.6); 304 and responses to
  // HEAD keep theirs as information about the representation.
  const bool framing = !(h.status / 100 == 1 || h.status == 204);
  appendFields(out, h, extraHeaders, framing);
  return out;
}

std::string chunk(std::string_view data) {
  // An empty chunk would be the last chunk: writing nothing is the only safe
  // encoding of nothing.
  if (data.empty()) return {};
  char size[24];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(static_cast<size_t>(n) + data.size() + 2);
  out.append(size, static_cast<size_t>(n)).append(data).append("\r\n");
  return out;
}

std::string lastChunk() { return "0\r\n\r\n"; }

std::string simpleResponse(int status, std::string_view body, bool close, const HeaderList& extra) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reasonPhrase(status)).append("\r\n");
  appendHeader(out, "content-length", std::to_string(body.size()));
  appendHeader(out, "content-type", "text/plain");
  for (const auto& [name, value] : extra) appendHeader(out, name, value);
  if (close) appendHeader(out, "connection", "close");
  out.append("\r\n").append(body);
  return out;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace warren::waypoint::http1
