#pragma once
// "Is this text an IP address, and which?" — answered once for every parser that
// takes addresses from operators (pod IPs, CIDRs, warrenctl arguments).

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace warren {

struct IpLiteral {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 in the first 4, the rest 0
};

// A dotted IPv4 or a textual IPv6 address (inet_pton's grammar); nullopt for
// anything else, a host name or a CIDR included.
std::optional<IpLiteral> parseIpLiteral(std::string_view text);
inline bool isIpLiteral(std::string_view text) { return parseIpLiteral(text).has_value(); }
// ip:port as a sockaddr_in or sockaddr_in6.
sockaddr_storage toSockaddr(const IpLiteral& ip, uint16_t port);

}  // namespace warren
