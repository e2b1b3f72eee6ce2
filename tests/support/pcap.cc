#include "tests/support/pcap.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace warren::e2e {

namespace {

// Bounds-checked reads over a byte string.
struct Bytes {
  const std::string& s;
  bool has(size_t off, size_t n) const { return off <= s.size() && n <= s.size() - off; }
  uint8_t u8(size_t off) const { return static_cast<uint8_t>(s[off]); }
  uint16_t be16(size_t off) const { return static_cast<uint16_t>(u8(off) << 8 | u8(off + 1)); }
  uint32_t be24(size_t off) const { return uint32_t{u8(off)} << 16 | uint32_t{u8(off + 1)} << 8 | u8(off + 2); }
  uint32_t be32(size_t off) const { return uint32_t{be16(off)} << 16 | be16(off + 2); }
  uint32_t le32(size_t off) const {
    return uint32_t{u8(off)} | uint32_t{u8(off + 1)} << 8 | uint32_t{u8(off + 2)} << 16 | uint32_t{u8(off + 3)} << 24;
  }
};

constexpr uint32_t kMagicMicro = 0xa1b2c3d4, kMagicNano = 0xa1b23c4d;
constexpr uint32_t kLinkEthernet = 1, kLinkRaw = 101, kLinkRawAlt = 12, kLinkSll = 113, kLinkSll2 = 276;
constexpr uint16_t kEtherIpv4 = 0x0800, kEtherVlan = 0x8100;

std::string endpoint(const Bytes& b, size_t ipOff, size_t portOff) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, b.s.data() + ipOff, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(b.be16(portOff));
}

// Offset of the IPv4 header inside one frame, or npos when it carries something else.
size_t ipv4Offset(const Bytes& f, uint32_t linkType) {
  constexpr size_t npos = std::string::npos;
  switch (linkType) {
    case kLinkEthernet: {
      size_t off = 12;
      if (!f.has(off, 2)) return npos;
      uint16_t type = f.be16(off);
      while (type == kEtherVlan && f.has(off + 4, 2)) {
        off += 4;
        type = f.be16(off);
      }
      return type == kEtherIpv4 ? off + 2 : npos;
    }
    case kLinkSll: return f.has(14, 2) && f.be16(14) == kEtherIpv4 ? 16 : npos;
    case kLinkSll2: return f.has(0, 2) && f.be16(0) == kEtherIpv4 ? 20 : npos;
    case kLinkRaw:
    case kLinkRawAlt: return f.has(0, 1) && (f.u8(0) >> 4) == 4 ? 0 : npos;
    default: return npos;
  }
}

}  // namespace

Result<std::vector<TcpSegment>> parsePcapTcp(const std::string& pcap) {
  Bytes b{pcap};
  if (!b.has(0, 24)) return makeError("pcap: " + std::to_string(pcap.size()) + " bytes, shorter than its header");
  bool little;
  uint32_t magicLe = b.le32(0), magicBe = b.be32(0);
  if (magicLe == kMagicMicro || magicLe == kMagicNano)
    little = true;
  else if (magicBe == kMagicMicro || magicBe == kMagicNano)
    little = false;
  else
    return makeError("pcap: not a classic pcap file (pcapng is not supported)");
  auto u32 = [&](size_t off) { return little ? b.le32(off) : b.be32(off); };
  const uint32_t linkType = u32(20) & 0x0fffffff;

  std::vector<TcpSegment> out;
  size_t off = 24;
  while (off < pcap.size()) {
    if (!b.has(off, 16)) return makeError("pcap: truncated record header at offset " + std::to_string(off));
    const uint32_t caplen = u32(off + 8);
    off += 16;
    if (!b.has(off, caplen)) return makeError("pcap: truncated record at offset " + std::to_string(off));
    const std::string frame = pcap.substr(off, caplen);
    off += caplen;

    Bytes f{frame};
    size_t ip = ipv4Offset(f, linkType);
    if (ip == std::string::npos || !f.has(ip, 20) || (f.u8(ip) >> 4) != 4) continue;
    const size_t ihl = size_t{f.u8(ip) & 0x0fu} * 4;
    const size_t total = f.be16(ip + 2);
    const uint16_t frag = f.be16(ip + 6);
    if (f.u8(ip + 9) != IPPROTO_TCP || ihl < 20 || total < ihl || (frag & 0x3fff) != 0) continue;
    const size_t tcp = ip + ihl;
    if (!f.has(tcp, 20)) continue;
    const size_t doff = (size_t{f.u8(tcp + 12)} >> 4) * 4;
    if (doff < 20 || total < ihl + doff) continue;
    // The IP length, not the frame's, bounds the payload (Ethernet pads short frames).
    size_t len = total - ihl - doff;
    const size_t start = tcp + doff;
    if (!f.has(start, 0)) continue;
    len = std::min(len, frame.size() - start);  // a short snaplen truncates

    TcpSegment seg;
    seg.src = endpoint(f, ip + 12, tcp);
    seg.dst = endpoint(f, ip + 16, tcp + 2);
    seg.seq = f.be32(tcp + 4);
    seg.flags = f.u8(tcp + 13);
    seg.payload = frame.substr(start, len);
    out.push_back(std::move(seg));
  }
  return out;
}

Result<std::map<std::string, std::string>> tcpPayloadsByDirection(const std::string& pcap) {
  auto segments = parsePcapTcp(pcap);
  if (!segments) return segments.error();
  struct Flow {
    bool started = false;
    uint32_t next = 0;
  };
  std::map<std::string, Flow> flows;
  std::map<std::string, std::string> out;
  for (const auto& seg : *segments) {
    const std::string key = seg.src + ">" + seg.dst;
    Flow& flow = flows[key];
    if (seg.flags & 0x02) {  // SYN takes one sequence number
      flow.started = true;
      flow.next = seg.seq + 1;
    }
    if (seg.payload.empty()) continue;
    if (!flow.started) {  // the capture began mid-connection
      flow.started = true;
      flow.next = seg.seq;
    }
    const auto ahead = static_cast<int32_t>(seg.seq - flow.next);
    size_t skip = 0;
    if (ahead < 0) {
      skip = static_cast<size_t>(-static_cast<int64_t>(ahead));
      if (skip >= seg.payload.size()) continue;  // a retransmission of what we have
    }
    out[key] += seg.payload.substr(skip);
    flow.next = seg.seq + static_cast<uint32_t>(seg.payload.size());
  }
  return out;
}

bool startsWithTlsHandshake(const std::string& stream) {
  Bytes b{stream};
  return b.has(0, 5) && b.u8(0) == 0x16 && b.u8(1) == 0x03 && (b.u8(2) == 0x01 || b.u8(2) == 0x03);
}

bool serverHelloSelectsTls13(const std::string& stream) {
  // Gather the handshake bytes of the leading handshake records: a message may span records.
  std::string hs;
  Bytes s{stream};
  for (size_t off = 0; s.has(off, 5) && s.u8(off) == 0x16;) {
    const size_t len = s.be16(off + 3);
    if (!s.has(off + 5, len)) break;
    hs += stream.substr(off + 5, len);
    off += 5 + len;
  }
  Bytes h{hs};
  if (!h.has(0, 4) || h.u8(0) != 0x02) return false;  // ServerHello
  const size_t end = 4 + h.be24(1);
  if (!h.has(0, end)) return false;
  size_t p = 4 + 2 + 32;  // legacy_version, random
  if (!h.has(p, 1)) return false;
  p += 1 + h.u8(p);  // legacy_session_id_echo
  p += 2 + 1;        // cipher_suite, legacy_compression_method
  if (p + 2 > end) return false;
  const size_t extEnd = std::min(end, p + 2 + h.be16(p));
  for (p += 2; p + 4 <= extEnd;) {
    const uint16_t type = h.be16(p), len = h.be16(p + 2);
    p += 4;
    if (p + len > extEnd) return false;
    if (type == 0x002b) return len == 2 && h.be16(p) == 0x0304;  // supported_versions
    p += len;
  }
  return false;
}

bool hasTlsRecords(const std::string& stream) {
  return startsWithTlsHandshake(stream) && serverHelloSelectsTls13(stream);
}

size_t countOccurrences(const std::string& haystack, const std::string& needle) {
  if (needle.empty()) return 0;
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace warren::e2e
