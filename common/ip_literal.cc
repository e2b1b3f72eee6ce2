#include "common/ip_literal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
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

sockaddr_storage toSockaddr(const IpLiteral& ip, uint16_t port) {
  sockaddr_storage ss{};
  if (ip.family == AF_INET6) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&in6.sin6_addr, ip.bytes.data(), sizeof(in6.sin6_addr));
  } else {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, ip.bytes.data(), sizeof(in.sin_addr));
  }
  return ss;
}

}  // namespace warren
