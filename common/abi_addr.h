#pragma once
// Conversions between textual IPs / sockaddrs and the BPF ABI's address structs,
// written once for the agent, the tunnel and warrenctl.

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "common/result.h"
#include "warren_abi.h"

namespace warren {

Result<warren_ip_key> ipKeyFromString(const std::string& ip);
std::string addrToString(uint16_t family, const warren_addr& addr);
// "10.0.0.1:80" / "[fd00::1]:80"
std::string addrPortToString(uint16_t family, const warren_addr& addr, uint16_t port);

// The address part of a sockaddr as the ABI stores it; v4-mapped IPv6 becomes IPv4
// (that is how the BPF side keys a dual-stack socket talking IPv4).
bool sockaddrToAbi(const sockaddr_storage& sa, uint16_t* family, warren_addr* addr, uint16_t* port);
sockaddr_storage abiToSockaddr(uint16_t family, const warren_addr& addr, uint16_t port);

}  // namespace warren
