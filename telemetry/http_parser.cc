#include "telemetry/http_parser.h"

#include <cctype>
#include <cstdint>

#include "common/text.h"

namespace warren::telemetry {
namespace {

using State = ParseOutcome::State;

ParseOutcome fail(int status, std::string message) { return ParseOutcome{State::kError, status, std::move(message)}; }

// RFC 9110 tchar: what methods and header names are made of.
bool isTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isTokenChar(c)) return false;
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "METHOD SP target SP HTTP/1.x". Fills method/path/query; an error outcome otherwise.
std::optional<ParseOutcome> parseRequestLine(std::string_view line, HttpRequest& out) {
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method)) return fail(400, "malformed method");
  // Origin form only: these endpoints are never proxied to, so absolute-form and '*'
  // can only be mistakes or probes.
  if (target.empty() || target.front() != '/') return fail(400, "request target must start with '/'");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(400, "control character in request target");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    const bool looksLikeHttp = version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
                               std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
                               std::isdigit(static_cast<unsigned char>(version[7]));
    if (looksLikeHttp) return fail(505, "only HTTP/1.1 is supported");
    return fail(400, "malformed HTTP version");
  }

  out.method = std::string(method);
  const auto q = target.find('?');
  out.path = std::string(target.substr(0, q));
  out.query.clear();
  if (q != std::string_view::npos) {
    auto query = parseQuery(target.substr(q + 1));
    if (!query) return fail(400, "malformed percent-encoding in query string");
    out.query = std::move(*query);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;  // needs two hex digits after '%'
      const int hi = hexValue(text[i + 1]), lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    const auto eq = pair.find('=');
    auto key = percentDecode(pair.substr(0, eq), true);
    auto value =
        eq == std::string_view::npos ? std::optional<std::string>("") : percentDecode(pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out[std::move(*key)] = std::move(*value);
  }
  return out;
}

ParseOutcome parseRequest(std::string_view buffer, const ParseLimits& limits, HttpRequest& out) {
  const auto headEnd = buffer.find("\r\n\r\n");
  if (headEnd == std::string_view::npos) {
    // Judge the request line as soon as it is whole, so garbage is refused at once
    // rather than after the deadline.
    const auto lineEnd = buffer.find("\r\n");
    if (lineEnd != std::string_view::npos) {
      HttpRequest scratch;
      if (auto err = parseRequestLine(buffer.substr(0, lineEnd), scratch)) return *err;
    }
    if (buffer.size() > limits.maxHeadBytes) return fail(431, "request head larger than the limit");
    return {};
  }
  if (headEnd + 4 > limits.maxHeadBytes) return fail(431, "request head larger than the limit");

  const std::string_view head = buffer.substr(0, headEnd + 2);  // every line with its CRLF
  auto lineEnd = head.find("\r\n");
  if (auto err = parseRequestLine(head.substr(0, lineEnd), out)) return *err;

  out.headers.clear();
  std::optional<uint64_t> contentLength;
  for (size_t pos = lineEnd + 2; pos < head.size();) {
    const auto end = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete header line folding");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) return fail(400, "malformed header");
    const std::string_view value = trimOws(line.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "control character in header value");
    std::string name = asciiLower(line.substr(0, colon));
    if (name == "content-length") {
      uint64_t n = 0;
      if (value.empty()) return fail(400, "malformed Content-Length");
      for (char c : value) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return fail(400, "malformed Content-Length");
        // Saturate instead of overflowing: anything this big is refused below anyway.
        n = n > limits.maxBodyBytes ? n : n * 10 + static_cast<uint64_t>(c - '0');
      }
      // Two different lengths is the request-smuggling classic: refuse it.
      if (contentLength && *contentLength != n) return fail(400, "conflicting Content-Length headers");
      contentLength = n;
    } else if (name == "transfer-encoding") {
      return fail(501, "Transfer-Encoding is not supported; send Content-Length");
    }
    out.headers[std::move(name)] = std::string(value);
  }

  const uint64_t bodyLen = contentLength.value_or(0);
  if (bodyLen > limits.maxBodyBytes) return fail(413, "request body larger than the limit");
  const size_t bodyStart = headEnd + 4;
  if (buffer.size() - bodyStart < bodyLen) return {};
  out.body = std::string(buffer.substr(bodyStart, bodyLen));
  return ParseOutcome{State::kComplete, 0, {}};
}

}  // namespace warren::telemetry
