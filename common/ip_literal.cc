#include "common/ip_literal.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <string>

namespace warren {

std::optional<IpLiteral> parseIpLiteral(std::string_view text) {
  // inet_pton stops at a NUL, so "10.0.0.1\0junk" would pass for an address.
  if (text.size() > INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string s(text);  // inet_pton wants a terminated string
  IpLiteral ip;
  for (int family : {AF_INET, AF_INET6})
    if (::inet_pton(family, s.c_str(), ip.bytes.data()) == 1) {
      ip.family = family;
      return ip;
    }
  return std::nullopt;
}

}  // namespace warren
