#pragma once
// HTTP/1.1 message parsing for the waypoint, on libhttp-parser (Debian's
// libhttp-parser-dev), never a hand-written parser. Pull-style: feed() stops at
// each event so the caller acts in order — judge a request at its head, before
// any of its body is read; handle pipelined requests one at a time.
//
// Request smuggling shapes are errors (400, and the connection must be closed):
// Content-Length together with Transfer-Encoding, more than one Content-Length,
// a Transfer-Encoding other than a final "chunked", obs-fold (a header line
// starting with SP/HTAB), a bare LF line ending, NUL/CR in a header value.
// Oversized heads are 431.

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
  std::string path;    // target without the query string
  std::string host;    // the Host header ("" if none)
  // Responses.
  int status = 0;
  std::string reason;
  // Both.
  int versionMajor = 1, versionMinor = 1;
  HeaderList headers;                    // in order, names lower-case, values trimmed
  std::optional<uint64_t> contentLength;
  bool chunked = false;
  bool keepAlive = true;  // http_should_keep_alive()
  bool upgrade = false;   // Upgrade / CONNECT: not proxied by the waypoint
  std::optional<std::string> header(std::string_view lowerName) const;  // first value
};

struct ParseError {
  int status = 400;    // 400, 413, 431, 501
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

  // Consumes input up to and including the next event. NeedMore: all of it was
  // used and more is needed. After Error every call returns Error.
  Step feed(std::string_view data);
  // Valid from Head until the next message's Head.
  const MessageHead& head() const;
  // Valid after BodyChunk until the next feed().
  std::string_view bodyChunk() const;
  const ParseError& error() const;
  // Responses: the request was HEAD (the response has no body even with a length).
  void expectNoBody();
  // The peer closed: ends a response delimited by connection close (MessageEnd), or
  // is an error if a message was incomplete.
  Step finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the waypoint writes: heads built from parsed values, never the bytes
// received, so the upstream parses exactly what the waypoint judged.
// Hop-by-hop headers (connection, keep-alive, proxy-connection, te, upgrade,
// transfer-encoding, content-length) are dropped and the framing re-stated.
std::string serializeRequestHead(const MessageHead& h, const HeaderList& extraHeaders = {});
std::string serializeResponseHead(const MessageHead& h, const HeaderList& extraHeaders = {});
// Chunked body framing.
std::string chunk(std::string_view data);
std::string lastChunk();
// A complete small response (403 RBAC: access denied, 400, 503 ...), with
// content-type text/plain, content-length, and "connection: close" when close.
std::string simpleResponse(int status, std::string_view body, bool close);
std::string_view reasonPhrase(int status);

}  // namespace warren::waypoint::http1
