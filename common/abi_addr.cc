#include "common/abi_addr.h"

#include "common/ip_literal.h"

#include <arpa/inet.h>

#include <cstring>

namespace warren {

Result<warren_ip_key> ipKeyFromString(const std::string& ip) {
  auto parsed = parseIpLiteral(ip);
  if (!parsed) return makeError("not an IP address: '" + ip + "'");
  warren_ip_key key{};
  key.family = parsed->family == AF_INET6 ? WARREN_AF_INET6 : WARREN_AF_INET;
  static_assert(sizeof(key.ip.addr) == sizeof(parsed->bytes));
  std::memcpy(key.ip.addr, parsed->bytes.data(), sizeof(key.ip.addr));
  return key;
}

std::string addrToString(uint16_t family, const warren_addr& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  int af = family == WARREN_AF_INET6 ? AF_INET6 : AF_INET;
  if (!::inet_ntop(af, addr.addr, buf, sizeof(buf))) return "?";
  return buf;
}

std::string addrPortToString(uint16_t family, const warren_addr& addr, uint16_t port) {
  if (family == WARREN_AF_INET6) return "[" + addrToString(family, addr) + "]:" + std::to_string(port);
  return addrToString(family, addr) + ":" + std::to_string(port);
}

bool sockaddrToAbi(const sockaddr_storage& sa, uint16_t* family, warren_addr* addr, uint16_t* port) {
  *addr = warren_addr{};
  if (sa.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    *family = WARREN_AF_INET;
    std::memcpy(addr->addr, &in->sin_addr, 4);
    *port = ntohs(in->sin_port);
    return true;
  }
  if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    *port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      *family = WARREN_AF_INET;
      std::memcpy(addr->addr, &in6->sin6_addr.s6_addr[12], 4);
    } else {
      *family = WARREN_AF_INET6;
      std::memcpy(addr->addr, &in6->sin6_addr, 16);
    }
    return true;
  }
  return false;
}

sockaddr_storage abiToSockaddr(uint16_t family, const warren_addr& addr, uint16_t port) {
  IpLiteral ip;
  ip.family = family == WARREN_AF_INET6 ? AF_INET6 : AF_INET;
  static_assert(sizeof(addr.addr) == sizeof(ip.bytes));
  std::memcpy(ip.bytes.data(), addr.addr, sizeof(addr.addr));
  return toSockaddr(ip, port);
}

}  // namespace warren
