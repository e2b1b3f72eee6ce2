#pragma once
// HTTP/1.1 message parsing for the waypoint, on libhttp-parser (Debian's
// libhttp-parser-dev), never a hand-written parser. Pull-style: feed() stops at
// each event so the caller acts in order — judge a request at its head, before
// any of its body is read; handle pipelined requests one at a time.
//
// Request smuggling shapes are errors (400, and the connection must be closed):
// Content-Length together with Transfer-Encoding, more than one Content-Length
// (or a list), a Transfer-Encoding other than one "chunked" (requests and
// responses alike, and none in HTTP/1.0), obs-fold (a header line starting with
// SP/HTAB), a bare LF line ending anywhere in the head, NUL/CR/control characters
// in a header, whitespace before a header's colon, a non-token header name, two
// Host headers or none in HTTP/1.1, a fragment or a non-http(s) absolute target.
// CONNECT is 501, an HTTP version other than 1.x 505, oversized heads 431. The
// head, and a chunked body's trailer section, are checked byte by byte
// (head_scanner.h) before libhttp-parser, which is lenient on several of these,
// sees them. For responses the caller answers 502
// whatever the status here.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::waypoint::http1 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;  // names lower-case

struct MessageHead {
  // Requests.
  std::string method;
  std::string target;  // the request-target as sent ("/a/b?x=1")
  std::string path;    // target without the query string ("*" for OPTIONS *)
  std::string host;    // the Host header, or an absolute-form target's authority
  // Responses.
  int status = 0;
  std::string reason;
  // Both.
  int versionMajor = 1, versionMinor = 1;
  HeaderList headers;  // in order, names lower-case, values trimmed; no trailers (Parser::trailers())
  std::optional<uint64_t> contentLength;
  bool chunked = false;
  bool keepAlive = true;  // http_should_keep_alive()
  // Upgrade + Connection: upgrade (or a 101). Not proxied by the waypoint: the
  // parser goes on reading HTTP after it, so the caller refuses or strips it.
  bool upgrade = false;
  // The head's bytes on the wire, start line (and any empty lines before it)
  // through the empty line: what a request rejected at its head was sent.
  size_t wireBytes = 0;
  std::optional<std::string> header(std::string_view lowerName) const;  // first value
};

struct ParseError {
  int status = 400;    // 400, 431, 501, 505
  std::string reason;  // for the access log
};

struct Limits {
  size_t maxHeadBytes = 60 * 1024;  // Envoy's default max_request_headers_kb
  size_t maxHeaders = 100;
};

class Parser {
 public:
  enum class Kind { Request, Response };
  enum class Event { NeedMore, Head, BodyChunk, MessageEnd, Error };
  struct Step {
    Event event = Event::NeedMore;
    size_t consumed = 0;  // bytes of the input used by this step
  };

  explicit Parser(Kind kind, Limits limits = {});
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Consumes input up to the next event; call again with the unconsumed rest
  // (and whatever arrived since) until NeedMore: all of it was used and more is
  // needed. After Error every call returns Error. `consumed` is the library's
  // count and need not match the message's bytes: Head may leave the head's
  // final LF, and the BodyChunk ending a Content-Length body its last byte, to
  // be offered again (the library re-reads it to end the message). Nothing past
  // a message's end is read before its MessageEnd.
  Step feed(std::string_view data);
  // Valid from Head until the next message's Head.
  const MessageHead& head() const;
  // A chunked message's trailer fields (names lower-case, values trimmed, in
  // order), scanned with the head's checks and limits: valid from MessageEnd
  // until the next feed(); empty for a message without any.
  const HeaderList& trailers() const;
  // Valid after BodyChunk until the next feed(): a view into feed()'s input.
  std::string_view bodyChunk() const;
  const ParseError& error() const;
  // Responses: the request was HEAD (the response has no body even with a length).
  // Applies to the next final response (1xx interim responses keep it pending).
  void expectNoBody();
  // The peer closed: ends a response delimited by connection close (MessageEnd), is
  // an error if a message was incomplete, and NeedMore between messages.
  Step finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the waypoint writes: heads built from parsed values, never the bytes
// received, so the upstream parses exactly what the waypoint judged.
// Hop-by-hop headers (connection, keep-alive, proxy-connection, te, trailer,
// upgrade, transfer-encoding, content-length, and names listed in Connection) are
// dropped and the framing re-stated. Requests go out as origin-form with the
// parsed host as the first header; 1xx/204 responses carry no framing headers.
// A close-delimited response has neither length nor chunked: set chunked on a
// copy of the head to keep the downstream connection.
std::string serializeRequestHead(const MessageHead& h, const HeaderList& extraHeaders = {});
std::string serializeResponseHead(const MessageHead& h, const HeaderList& extraHeaders = {});
// Chunked body framing. chunk("") is "" (never a premature last chunk).
std::string chunk(std::string_view data);
std::string lastChunk();
// A complete small response (403 RBAC: access denied, 400, 503 ...), with
// content-type text/plain, content-length, and "connection: close" when close.
// A comma-separated header value (Connection, TE) lists `lowerToken`, compared
// case-insensitively.
bool listsToken(std::string_view value, std::string_view lowerToken);
// `lowerName` is listed in one of the headers' Connection fields: hop-by-hop too
// (RFC 9110 7.6.1: "connection: close, x-internal" makes x-internal this hop's).
bool namedInConnection(const HeaderList& headers, std::string_view lowerName);
std::string simpleResponse(int status, std::string_view body, bool close, const HeaderList& extra = {});
std::string_view reasonPhrase(int status);

}  // namespace warren::waypoint::http1
