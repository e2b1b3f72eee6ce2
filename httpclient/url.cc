#include "httpclient/url.h"

#include <arpa/inet.h>

#include <charconv>
#include <string_view>

namespace warren::httpclient {

std::string Url::hostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  const bool defaultPort = port == (tls ? 443 : 80);
  return (v6 ? "[" + host + "]" : host) + (defaultPort ? "" : ":" + std::to_string(port));
}

Result<Url> parseUrl(const std::string& text) {
  Url u;
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    u.tls = false;
    u.port = 80;
    rest.remove_prefix(7);
  } else {
    return makeError("'" + text + "' is not an http:// or https:// URL");
  }
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view target = rest.substr(slash);
    target = target.substr(0, target.find('#'));
    u.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) return makeError("'" + text + "': user-info is not supported");
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return makeError("'" + text + "': unclosed '[' in the host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return makeError("'" + text + "': junk after the IPv6 host");
      port = after.substr(1);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, u.host.c_str(), &a6) != 1) return makeError("'" + text + "': bad IPv6 literal");
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return makeError("'" + text + "' has no host");
  if (!port.empty() || authority.ends_with(":")) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return makeError("'" + text + "': bad port '" + std::string(port) + "'");
    u.port = static_cast<uint16_t>(value);
  }
  return u;
}

}  // namespace warren::httpclient
