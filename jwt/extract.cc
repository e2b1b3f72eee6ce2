#include "jwt/extract.h"

#include "common/text.h"

namespace warren::jwt {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; a '%' not followed by two hex digits is kept as it is.
std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexDigit(s[i + 1]), lo = hexDigit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<std::string> queryParam(std::string_view path, std::string_view name) {
  size_t q = path.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = path.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (percentDecode(key) == name) return percentDecode(value);
  }
  return std::nullopt;
}

// RFC 6265 §4.2.1: "name=value; name2=value2", possibly over several cookie
// headers (HTTP/2 sends one per cookie).
std::optional<std::string> cookie(const RequestView& request, std::string_view name) {
  for (const auto& [header, value] : request.headers) {
    if (header != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
      std::string_view v = trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<ExtractedToken> extractTokens(const JwtRule& rule, const RequestView& request) {
  std::vector<JwtHeaderLocation> headers = rule.fromHeaders;
  std::vector<std::string> params = rule.fromParams;
  if (rule.fromHeaders.empty() && rule.fromParams.empty() && rule.fromCookies.empty()) {
    headers = {{"authorization", "Bearer "}};
    params = {"access_token"};
  }

  std::vector<ExtractedToken> found;
  for (const auto& location : headers) {
    const std::string name = asciiLower(location.name);
    for (const auto& [header, value] : request.headers) {
      if (header != name) continue;
      std::string_view v = value;
      if (!v.starts_with(location.prefix)) continue;
      v.remove_prefix(location.prefix.size());
      found.push_back({std::string(trim(v)), TokenSource::Header, name});
    }
  }
  for (const auto& param : params)
    if (auto v = queryParam(request.path, param)) found.push_back({std::move(*v), TokenSource::QueryParam, param});
  for (const auto& name : rule.fromCookies)
    if (auto v = cookie(request, name)) found.push_back({std::move(*v), TokenSource::Cookie, name});
  return found;
}

std::optional<ExtractedToken> extractToken(const JwtRule& rule, const RequestView& request) {
  auto all = extractTokens(rule, request);
  if (all.empty()) return std::nullopt;
  return std::move(all.front());
}

}  // namespace warren::jwt
