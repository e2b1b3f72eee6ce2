#pragma once
// A minimal reader for what tcpdump -w writes: the classic pcap format (either
// byte order, micro- or nanosecond stamps), Ethernet / Linux cooked / raw IP
// link types, IPv4 + TCP. Enough for the e2e tests to ask "which bytes crossed
// this wire, per direction" without trusting tcpdump's own dissectors.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace warren::e2e {

struct TcpSegment {
  std::string src, dst;  // "10.244.1.5:41234"
  uint32_t seq = 0;
  uint8_t flags = 0;  // TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10)
  std::string payload;
};

// Every IPv4 TCP segment in the capture, in capture order. Other packets are skipped.
Result<std::vector<TcpSegment>> parsePcapTcp(const std::string& pcap);

// The TCP payload bytes per direction ("src>dst" as in TcpSegment), in sequence
// order: retransmitted bytes are counted once, a gap is left as is.
Result<std::map<std::string, std::string>> tcpPayloadsByDirection(const std::string& pcap);

// Whether `stream` begins with a TLS handshake record header (0x16 0x03 0x01|0x03).
bool startsWithTlsHandshake(const std::string& stream);

// Whether the first handshake message of `stream` is a ServerHello whose
// supported_versions extension selects TLS 1.3 (0x0304).
bool serverHelloSelectsTls13(const std::string& stream);

// A server-to-client stream of a TLS 1.3 connection: begins with a handshake
// record and its ServerHello selects TLS 1.3.
bool hasTlsRecords(const std::string& stream);

// How many times `needle` occurs in `haystack` (overlaps counted; 0 for an empty needle).
size_t countOccurrences(const std::string& haystack, const std::string& needle);

}  // namespace warren::e2e
