// The pull-style Parser over libhttp-parser. Each callback that is an event for
// the caller (head complete, a body piece, message complete) pauses the library,
// so http_parser_execute() returns right there and feed() reports one event. The
// head bytes go through HeadScanner first; only bytes it has passed reach the
// library, and never past the end of the head, so the library cannot accept a
// head shape the scanner refuses. A chunked body's trailer section is a head of
// its own kind: the last chunk's size line pauses the library too (no event for
// the caller), and what follows goes through the scanner the same way.

#include "waypoint/http1/http1_parser.h"

#include <http_parser.h>

#include <algorithm>
#include <climits>

#include "waypoint/http1/head_scanner.h"

namespace warren::waypoint::http1 {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

void toLower(std::string& s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
}

// RFC 9110 5.5: OWS around a field value is not part of it.
std::string trimOws(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::optional<std::string> MessageHead::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers)
    if (name == lowerName) return value;
  return std::nullopt;
}

struct Parser::Impl {
  Impl(Kind k, Limits l) : kind(k), limits(l), scanner(l.maxHeadBytes, l.maxHeaders) {
    http_parser_init(&parser, k == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE);
    parser.data = this;
  }

  Kind kind;
  Limits limits;
  HeadScanner scanner;
  http_parser parser{};

  bool inHead = true;             // bytes go through the scanner
  bool inTrailers = false;        // ... and so do a chunked body's trailer section's
  bool trailersBegin = false;     // paused at the last chunk: not an event for the caller
  bool noBody = false;            // expectNoBody() for the next response
  Event event = Event::NeedMore;  // set by the pausing callbacks
  MessageHead building;           // the head being parsed; moved to `head` when complete
  bool lastWasValue = true;       // the header callbacks: a new field name starts a header
  MessageHead head;
  HeaderList trailerFields;  // the trailer section being parsed
  HeaderList trailers;       // the message's, once it has ended
  std::string_view body;
  bool failed = false;
  ParseError error;

  void fail(int status, std::string reason) {
    if (failed) return;  // the first reason is the one that matters
    failed = true;
    error = {status, std::move(reason)};
  }

  // Judges a complete head; false (with error set) when it must be refused.
  bool finishHead();
  bool checkRequestTarget(MessageHead& h);
  void mapLibraryError();
  Step run(std::string_view data);

  // libhttp-parser callbacks; `data` points at the Impl.
  static Impl& of(http_parser* p) { return *static_cast<Impl*>(p->data); }
  static int onMessageBegin(http_parser* p);
  static int onUrl(http_parser* p, const char* at, size_t len);
  static int onStatus(http_parser* p, const char* at, size_t len);
  static int onHeaderField(http_parser* p, const char* at, size_t len);
  static int onHeaderValue(http_parser* p, const char* at, size_t len);
  static int onHeadersComplete(http_parser* p);
  static int onChunkHeader(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t len);
  static int onMessageComplete(http_parser* p);
  static const http_parser_settings kSettings;
};

int Parser::Impl::onMessageBegin(http_parser* p) {
  auto& s = of(p);
  s.building = {};
  s.trailers.clear();
  s.lastWasValue = true;
  return 0;
}

int Parser::Impl::onUrl(http_parser* p, const char* at, size_t len) {
  of(p).building.target.append(at, len);
  return 0;
}

int Parser::Impl::onStatus(http_parser* p, const char* at, size_t len) {
  of(p).building.reason.append(at, len);
  return 0;
}

// Header callbacks may deliver a name or value in pieces (split input). After the
// head, the same callbacks carry a chunked body's trailer fields.
int Parser::Impl::onHeaderField(http_parser* p, const char* at, size_t len) {
  auto& s = of(p);
  HeaderList* fields = s.inHead ? &s.building.headers : s.inTrailers ? &s.trailerFields : nullptr;
  if (!fields) return 0;
  if (s.lastWasValue) fields->emplace_back();
  fields->back().first.append(at, len);
  s.lastWasValue = false;
  return 0;
}

int Parser::Impl::onHeaderValue(http_parser* p, const char* at, size_t len) {
  auto& s = of(p);
  HeaderList* fields = s.inHead ? &s.building.headers : s.inTrailers ? &s.trailerFields : nullptr;
  if (!fields || fields->empty()) return 0;  // a value always follows a name
  fields->back().second.append(at, len);
  s.lastWasValue = true;
  return 0;
}

int Parser::Impl::onHeadersComplete(http_parser* p) {
  auto& s = of(p);
  if (!s.finishHead()) return -1;  // the library stops with HPE_CB_headers_complete
  s.inHead = false;
  s.event = Event::Head;
  s.head.wireBytes = s.scanner.bytes();
  http_parser_pause(p, 1);
  // 1: "this message has no body". The library knows 1xx/204/304 need no EOF but
  // still reads a Content-Length body after them; RFC 9112 6.3 says they have none.
  if (s.kind == Kind::Response) {
    const int st = s.head.status;
    if (s.noBody || st / 100 == 1 || st == 204 || st == 304) return 1;
  }
  return 0;
}

// Called after each chunk-size line; the last chunk's (size 0) is followed by
// the trailer section, which must go through the scanner: pause there.
int Parser::Impl::onChunkHeader(http_parser* p) {
  if (p->content_length != 0) return 0;
  auto& s = of(p);
  s.inTrailers = true;
  s.trailersBegin = true;
  s.trailerFields.clear();
  s.lastWasValue = true;
  s.scanner.resetForTrailers();
  http_parser_pause(p, 1);
  return 0;
}

int Parser::Impl::onBody(http_parser* p, const char* at, size_t len) {
  if (len == 0) return 0;
  auto& s = of(p);
  s.body = std::string_view(at, len);
  s.event = Event::BodyChunk;
  http_parser_pause(p, 1);
  return 0;
}

int Parser::Impl::onMessageComplete(http_parser* p) {
  auto& s = of(p);
  s.event = Event::MessageEnd;
  if (s.inTrailers) {
    for (auto& [name, value] : s.trailerFields) {
      toLower(name);
      value = trimOws(value);
    }
    s.trailers = std::move(s.trailerFields);
    s.trailerFields = {};
    s.inTrailers = false;
  }
  // The next bytes are the next message's head. HEAD's no-body applies to its
  // final response, not to an interim 1xx before it.
  s.inHead = true;
  s.scanner.reset();
  if (s.kind == Kind::Response && !(s.head.status / 100 == 1 && s.head.status != 101)) s.noBody = false;
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings Parser::Impl::kSettings = [] {
  http_parser_settings st{};
  st.on_message_begin = onMessageBegin;
  st.on_url = onUrl;
  st.on_status = onStatus;
  st.on_header_field = onHeaderField;
  st.on_header_value = onHeaderValue;
  st.on_headers_complete = onHeadersComplete;
  st.on_chunk_header = onChunkHeader;
  st.on_body = onBody;
  st.on_message_complete = onMessageComplete;
  return st;
}();

bool Parser::Impl::finishHead() {
  MessageHead& h = building;
  for (auto& [name, value] : h.headers) {
    toLower(name);
    value = trimOws(value);
  }
  h.versionMajor = parser.http_major;
  h.versionMinor = parser.http_minor;
  if (h.versionMajor != 1) {
    fail(505, "HTTP version other than 1.x");
    return false;
  }
  if (kind == Kind::Request) {
    h.method = http_method_str(static_cast<http_method>(parser.method));
  } else {
    h.status = static_cast<int>(parser.status_code);
  }

  // Framing. The library has already refused a second Content-Length, a list,
  // and Content-Length with Transfer-Encoding; Transfer-Encoding is judged here.
  size_t teCount = 0, clCount = 0;
  for (const auto& [name, value] : h.headers) {
    if (name == "content-length") ++clCount;
    if (name != "transfer-encoding") continue;
    // Only "chunked", alone, once: anything else (gzip, "gzip, chunked",
    // "chunked, chunked", a second header) is a length two parsers may read
    // differently, and the waypoint re-frames bodies without other codings.
    if (++teCount > 1) {
      fail(400, "Transfer-Encoding header repeated");
      return false;
    }
    if (!iequals(value, "chunked")) {
      fail(400, "Transfer-Encoding other than a single chunked: " + value);
      return false;
    }
  }
  if (teCount && h.versionMinor == 0) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing
    // (1.0 recipients do not know chunked and read to the close instead).
    fail(400, "Transfer-Encoding in an HTTP/1.0 message");
    return false;
  }
  if (clCount > 1) {
    fail(400, "more than one Content-Length header");
    return false;
  }
  if (clCount && teCount) {
    fail(400, "Content-Length together with Transfer-Encoding");
    return false;
  }
  h.chunked = (parser.flags & F_CHUNKED) != 0;
  if (teCount && !h.chunked) {  // cannot happen after the check above; belt and braces
    fail(400, "Transfer-Encoding not understood");
    return false;
  }
  if (clCount && parser.content_length != ULLONG_MAX) h.contentLength = parser.content_length;
  h.keepAlive = http_should_keep_alive(&parser) != 0;
  // The library sets upgrade for CONNECT and for Upgrade + Connection: upgrade and
  // would then stop parsing ("the rest is another protocol"). The waypoint does
  // not tunnel: it reports the flag and keeps parsing HTTP, so the caller can
  // refuse the upgrade or forward the request without it.
  h.upgrade = parser.upgrade != 0;
  parser.upgrade = 0;

  if (kind == Kind::Request && !checkRequestTarget(h)) return false;
  head = std::move(building);
  building = {};
  return true;
}

bool Parser::Impl::checkRequestTarget(MessageHead& h) {
  if (h.method == "CONNECT") {
    fail(501, "CONNECT is not supported by the waypoint");
    return false;
  }
  size_t hostCount = 0;
  for (const auto& [name, value] : h.headers) {
    if (name != "host") continue;
    if (++hostCount > 1) {  // RFC 9112 3.2: two Hosts are two possible routes
      fail(400, "more than one Host header");
      return false;
    }
    h.host = value;
  }
  if (hostCount == 0 && h.versionMinor >= 1) {
    fail(400, "HTTP/1.1 request without Host");
    return false;
  }
  const std::string& t = h.target;
  if (t.empty()) {
    fail(400, "empty request target");
    return false;
  }
  if (t.find('#') != std::string::npos) {
    // A fragment is never sent (RFC 9110 4.2.5); a policy matching "/admin"
    // exactly must not be dodged with "/admin#x".
    fail(400, "fragment in request target");
    return false;
  }
  std::string_view rest;  // path and query
  if (t == "*") {
    if (h.method != "OPTIONS") {
      fail(400, "asterisk-form target for a method other than OPTIONS");
      return false;
    }
    rest = t;
  } else if (t[0] == '/') {
    rest = t;
  } else {
    // absolute-form (RFC 9112 3.2.2): its authority replaces Host.
    const size_t colon = t.find("://");
    const std::string_view scheme = colon == std::string::npos ? "" : std::string_view(t).substr(0, colon);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
      fail(400, "request target neither origin-form nor an http(s) absolute URI");
      return false;
    }
    const std::string_view afterScheme = std::string_view(t).substr(colon + 3);
    const size_t end = afterScheme.find_first_of("/?");
    const std::string_view authority = afterScheme.substr(0, end);
    if (authority.empty()) {
      fail(400, "absolute URI without a host");
      return false;
    }
    if (authority.find('@') != std::string_view::npos) {
      fail(400, "userinfo in request target");
      return false;
    }
    h.host = std::string(authority);
    rest = end == std::string_view::npos ? std::string_view("/") : afterScheme.substr(end);
    if (rest[0] == '?') {
      h.path = "/";
      return true;
    }
  }
  h.path = std::string(rest.substr(0, rest.find('?')));
  return true;
}

void Parser::Impl::mapLibraryError() {
  const auto err = HTTP_PARSER_ERRNO(&parser);
  int status = 400;
  std::string reason;
  switch (err) {
    case HPE_HEADER_OVERFLOW:
      status = 431;
      reason = "message head larger than the parser's limit";
      break;
    case HPE_UNEXPECTED_CONTENT_LENGTH: {
      // Raised at a second Content-Length and at Content-Length with
      // Transfer-Encoding: tell which from what was collected.
      bool te = false;
      for (const auto& [name, value] : building.headers) te = te || iequals(name, "transfer-encoding");
      reason = te ? "Content-Length together with Transfer-Encoding" : "more than one Content-Length header";
      break;
    }
    case HPE_INVALID_CONTENT_LENGTH:
      // The library reports an overflowing chunk size with this code too.
      reason = inHead ? "invalid Content-Length (not a single decimal number)" : "invalid chunk size (too large)";
      break;
    case HPE_INVALID_TRANSFER_ENCODING: reason = "Transfer-Encoding whose final coding is not chunked"; break;
    case HPE_INVALID_CHUNK_SIZE: reason = "invalid chunk size"; break;
    case HPE_INVALID_EOF_STATE: reason = "connection closed in the middle of a message"; break;
    default: reason = std::string("malformed message: ") + http_errno_description(err); break;
  }
  fail(status, std::move(reason));
}

Parser::Step Parser::Impl::run(std::string_view data) {
  if (failed) return {Event::Error, 0};
  size_t total = 0;  // bytes the library has taken in this call
  for (;;) {
    const std::string_view rest = data.substr(total);
    if (rest.empty()) return {Event::NeedMore, total};  // execute(0 bytes) would mean EOF
    size_t give = rest.size();
    bool sectionEnds = false;
    if (inHead || inTrailers) {
      const auto out = scanner.scan(rest);
      if (out.result == HeadScanner::Result::Error) {
        fail(scanner.errorStatus(), (inTrailers ? "in the trailers: " : "") + scanner.errorReason());
        return {Event::Error, total};
      }
      give = out.scanned;
      sectionEnds = out.result == HeadScanner::Result::Done;
    }
    event = Event::NeedMore;
    trailersBegin = false;
    http_parser_pause(&parser, 0);
    const size_t used = http_parser_execute(&parser, &kSettings, rest.data(), give);
    const auto err = HTTP_PARSER_ERRNO(&parser);
    if (failed) return {Event::Error, total};  // a callback refused the head
    if (err != HPE_OK && err != HPE_PAUSED) {
      mapLibraryError();
      return {Event::Error, total};
    }
    total += used;
    // At the last chunk: the trailer section that follows is scanned first.
    if (event == Event::NeedMore && trailersBegin) continue;
    if (event == Event::NeedMore && (used != rest.size() || sectionEnds)) {
      // The scanner and the library disagree on where the head ends, or the
      // library stopped for no event: refuse rather than guess.
      fail(400, "internal: parser stopped unexpectedly");
      return {Event::Error, total};
    }
    return {event, total};
  }
}

Parser::Parser(Kind kind, Limits limits) : impl_(std::make_unique<Impl>(kind, limits)) {}
Parser::~Parser() = default;

Parser::Step Parser::feed(std::string_view data) { return impl_->run(data); }

const MessageHead& Parser::head() const { return impl_->head; }
const HeaderList& Parser::trailers() const { return impl_->trailers; }
std::string_view Parser::bodyChunk() const { return impl_->body; }
const ParseError& Parser::error() const { return impl_->error; }
void Parser::expectNoBody() { impl_->noBody = true; }

Parser::Step Parser::finish() {
  Impl& s = *impl_;
  if (s.failed) return {Event::Error, 0};
  s.event = Event::NeedMore;
  http_parser_pause(&s.parser, 0);
  // Zero bytes tell the library the peer closed: a close-delimited body ends
  // (on_message_complete), a message cut short is HPE_INVALID_EOF_STATE.
  http_parser_execute(&s.parser, &Impl::kSettings, nullptr, 0);
  const auto err = HTTP_PARSER_ERRNO(&s.parser);
  if (err != HPE_OK && err != HPE_PAUSED) {
    s.mapLibraryError();
    return {Event::Error, 0};
  }
  // NeedMore here: the peer closed cleanly between messages.
  return {s.event, 0};
}

}  // namespace warren::waypoint::http1
