#include "tools/warrenctl/events.h"

#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/abi_addr.h"
#include "tools/warrenctl/maps.h"
#include "tools/warrenctl/select.h"
#include "tools/warrenctl/table.h"

namespace warren::ctl {

namespace {

// Digits only, within the type: "--port 80x" or "--count -1" is refused, not half-read.
Result<uint64_t> number(const std::string& opt, const std::string& text, uint64_t max) {
  if (text.empty() || text.size() > 19) return makeError(opt + " needs a number, got '" + text + "'");
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return makeError(opt + " needs a number, got '" + text + "'");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return makeError(opt + " is at most " + std::to_string(max) + ", got " + text);
  return v;
}

// A pod IP, or "" when the event carries none (an all-zero address).
std::string addrOrEmpty(uint32_t family, const warren_addr& a) {
  static const warren_addr zero{};
  if (std::memcmp(&a, &zero, sizeof(a)) == 0) return "";
  if (family != WARREN_AF_INET && family != WARREN_AF_INET6) return "?";
  return addrToString(static_cast<uint16_t>(family), a);
}

std::string ipPort(const std::string& ip, uint16_t port) {
  if (ip.empty()) return "-";
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size() + 1, ' ');
}

}  // namespace

Result<TraceOptions> parseTraceOptions(const std::vector<std::string>& args) {
  TraceOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string opt = args[i], value;
    if (auto eq = opt.find('='); opt.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = opt.substr(eq + 1);
      opt = opt.substr(0, eq);
    } else if (opt == "--pod" || opt == "--port" || opt == "--count" || opt == "--timeout") {
      if (i + 1 >= args.size()) return makeError("option " + opt + " needs a value");
      value = args[++i];
    }
    if (opt == "--pod") {
      if (value.empty()) return makeError("--pod needs NAMESPACE/NAME, NAME, IP or netns cookie");
      o.pod = value;
    } else if (opt == "--port") {
      auto v = number(opt, value, 65535);
      if (!v) return v.error();
      o.port = static_cast<uint16_t>(*v);
    } else if (opt == "--count") {
      auto v = number(opt, value, UINT32_MAX);
      if (!v) return v.error();
      if (*v == 0) return makeError("--count must be at least 1");
      o.count = *v;
    } else if (opt == "--timeout") {
      auto v = number(opt, value, 86400 * 365);
      if (!v) return v.error();
      o.timeoutMs = *v * 1000;
    } else {
      return makeError("unexpected argument '" + args[i] +
                       "' for 'trace' (options: --pod, --port, --count, --timeout)");
    }
  }
  return o;
}

std::string eventKindLabel(uint32_t kind) {
#define WARREN_EVENT_LABEL(name, value, label) \
  if (kind == (value)) return label;
  WARREN_EVENT_KINDS(WARREN_EVENT_LABEL)
#undef WARREN_EVENT_LABEL
  return "kind " + std::to_string(kind);
}

std::string eventReason(uint32_t kind) {
  switch (kind) {
    case WARREN_EVENT_CAPTURED_OUT: return "redirected to the tunnel's outbound listener";
    case WARREN_EVENT_CAPTURED_IN: return "steered to the tunnel's inbound listener";
    case WARREN_EVENT_FAIL_CLOSED_OUT: return "connect refused: the tunnel could not take it (fail closed)";
    case WARREN_EVENT_FAIL_CLOSED_IN: return "connection refused: no tunnel inbound listener for the pod IP";
    case WARREN_EVENT_ORIG_DST_FULL: return "warren_orig_dst is full: the tunnel will refuse this connection";
    case WARREN_EVENT_ORIG_DST_QUOTA:
      return "the pod holds its quota of warren_orig_dst entries (--conns-per-pod): connect refused";
    default: return "";
  }
}

EventView decodeEvent(const warren_event& e, int64_t monoToUnixNs, const PodView* pod) {
  EventView v;
  v.tsNs = e.ts_ns;
  int64_t unix = static_cast<int64_t>(e.ts_ns) + monoToUnixNs;
  v.unixNs = unix > 0 ? static_cast<uint64_t>(unix) : 0;
  v.netnsCookie = e.netns_cookie;
  v.kind = e.kind;
  v.family = e.family;
  if (pod && pod->hasMeta) {
    v.ns = pod->ns;
    v.name = pod->name;
  }
  v.srcIp = addrOrEmpty(e.family, e.src);
  v.srcPort = v.srcIp.empty() ? 0 : e.src_port;
  v.dstIp = addrOrEmpty(e.family, e.dst);
  v.dstPort = e.dst_port;
  return v;
}

bool eventMatches(const TraceOptions& o, const warren_event& e, const PodView* pod) {
  if (o.port && e.dst_port != *o.port) return false;
  if (!o.pod.empty() && (!pod || !podMatches(*pod, o.pod))) return false;
  return true;
}

std::string formatEventTime(uint64_t unixNs) {
  if (unixNs == 0) return "-";
  time_t secs = static_cast<time_t>(unixNs / 1000000000u);
  tm utc{};
  char buf[40];
  if (!gmtime_r(&secs, &utc) || std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc) == 0)
    return std::to_string(unixNs);
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%06lluZ", static_cast<unsigned long long>(unixNs % 1000000000u / 1000));
  return std::string(buf) + frac;
}

nlohmann::ordered_json eventJson(const EventView& e) {
  return {{"time", formatEventTime(e.unixNs)},
          {"ts_ns", e.tsNs},
          {"kind", eventKindLabel(e.kind)},
          {"kind_id", e.kind},
          {"netns_cookie", e.netnsCookie},
          {"namespace", e.ns},
          {"name", e.name},
          {"family", familyName(e.family)},
          {"src_ip", e.srcIp},
          {"src_port", e.srcPort},
          {"dst_ip", e.dstIp},
          {"dst_port", e.dstPort},
          {"reason", eventReason(e.kind)}};
}

// Fixed widths: a stream cannot be aligned after the fact as a table is.
std::string eventHeaderLine() {
  return pad("TIME", 27) + pad("KIND", 22) + pad("POD", 32) + pad("SRC", 22) + pad("ORIG_DST", 22) + "REASON";
}

std::string eventLine(const EventView& e) {
  std::string pod = e.name.empty() ? "cookie:" + std::to_string(e.netnsCookie) : e.ns + "/" + e.name;
  return printable(pad(formatEventTime(e.unixNs), 27) + pad(eventKindLabel(e.kind), 22) + pad(pod, 32) +
                   pad(ipPort(e.srcIp, e.srcPort), 22) + pad(ipPort(e.dstIp, e.dstPort), 22) + eventReason(e.kind));
}

}  // namespace warren::ctl
