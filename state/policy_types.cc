#include "state/policy_types.h"

#include <arpa/inet.h>

#include <charconv>

#include "common/ip_literal.h"

namespace warren::state {

StringMatch StringMatch::parse(std::string_view p) {
  if (p == "*") return {Kind::Presence, ""};
  if (p.size() > 1 && p.back() == '*') return {Kind::Prefix, std::string(p.substr(0, p.size() - 1))};
  if (p.size() > 1 && p.front() == '*') return {Kind::Suffix, std::string(p.substr(1))};
  return {Kind::Exact, std::string(p)};
}

bool StringMatch::matches(std::string_view s) const {
  switch (kind) {
    case Kind::Exact: return s == value;
    case Kind::Prefix: return s.starts_with(value);
    case Kind::Suffix: return s.ends_with(value);
    case Kind::Presence: return !s.empty();
  }
  return false;
}

std::string StringMatch::text() const {
  switch (kind) {
    case Kind::Exact: return value;
    case Kind::Prefix: return value + "*";
    case Kind::Suffix: return "*" + value;
    case Kind::Presence: return "*";
  }
  return value;
}

std::optional<IpBlock> IpBlock::parse(std::string_view cidr) {
  IpBlock b;
  auto slash = cidr.find('/');
  auto ip = parseIpLiteral(cidr.substr(0, slash));
  if (!ip) return std::nullopt;
  b.family = ip->family;
  b.addr = ip->bytes;
  const unsigned maxLen = b.family == AF_INET ? 32 : 128;
  unsigned len = maxLen;
  if (slash != std::string_view::npos) {
    auto digits = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || len > maxLen)
      return std::nullopt;
  }
  b.prefixLen = static_cast<uint8_t>(len);
  // Normalise the host bits away, as Istio does, so text() shows the network.
  for (unsigned bit = len; bit < maxLen; ++bit) b.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return b;
}

bool IpBlock::contains(std::string_view ip) const {
  auto parsed = parseIpLiteral(ip);
  if (!parsed || parsed->family != family) return false;
  const auto& a = parsed->bytes;
  unsigned full = prefixLen / 8, rest = prefixLen % 8;
  for (unsigned i = 0; i < full; ++i)
    if (a[i] != addr[i]) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFFu << (8 - rest));
  return (a[full] & mask) == (addr[full] & mask);
}

std::string IpBlock::text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, addr.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(prefixLen);
}

const char* actionName(PolicyAction a) {
  switch (a) {
    case PolicyAction::Allow: return "ALLOW";
    case PolicyAction::Deny: return "DENY";
    case PolicyAction::Audit: return "AUDIT";
  }
  return "?";
}

const char* scopeName(PolicyScope s) {
  switch (s) {
    case PolicyScope::Global: return "GLOBAL";
    case PolicyScope::Namespace: return "NAMESPACE";
    case PolicyScope::WorkloadSelector: return "WORKLOAD_SELECTOR";
  }
  return "?";
}

const char* mtlsModeName(MtlsMode m) { return m == MtlsMode::Strict ? "STRICT" : "PERMISSIVE"; }

}  // namespace warren::state
