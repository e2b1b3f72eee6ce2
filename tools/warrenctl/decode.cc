#include "tools/warrenctl/decode.h"

#include <cstring>

#include "common/abi_addr.h"

namespace warren::ctl {

std::string fieldString(const char* data, size_t size) { return std::string(data, strnlen(data, size)); }

std::vector<std::string> podIps(const warren_pod& pod) {
  std::vector<std::string> ips;
  if (pod.flags & WARREN_POD_HAS_IP4) {
    warren_addr a{};
    std::memcpy(a.addr, &pod.ip4, 4);
    ips.push_back(addrToString(WARREN_AF_INET, a));
  }
  if (pod.flags & WARREN_POD_HAS_IP6) ips.push_back(addrToString(WARREN_AF_INET6, pod.ip6));
  return ips;
}

warren_counters sumCounters(const std::vector<warren_counters>& perCpu) {
  warren_counters sum{};
  for (const auto& c : perCpu) {
    sum.captured_out += c.captured_out;
    sum.captured_in += c.captured_in;
    sum.passed += c.passed;
    sum.failed_closed += c.failed_closed;
  }
  return sum;
}

PodView decodePod(uint64_t cookie, const warren_pod& pod, const warren_pod_meta* meta,
                  const std::vector<warren_counters>& perCpu) {
  PodView v;
  v.netnsCookie = cookie;
  v.ips = podIps(pod);
  v.counters = sumCounters(perCpu);
  if (meta) {
    v.uid = fieldString(meta->uid, sizeof(meta->uid));
    v.name = fieldString(meta->name, sizeof(meta->name));
    v.ns = fieldString(meta->namespace_, sizeof(meta->namespace_));
    v.serviceAccount = fieldString(meta->service_account, sizeof(meta->service_account));
  }
  return v;
}

const char* listenerStateName(ListenerState s) {
  switch (s) {
    case ListenerState::Registered: return "up";
    case ListenerState::Missing: return "missing";
    case ListenerState::Unknown: break;
  }
  return "unknown";
}

nlohmann::json podJson(const PodView& p) {
  return {{"netns_cookie", p.netnsCookie},
          {"uid", p.uid},
          {"name", p.name},
          {"namespace", p.ns},
          {"service_account", p.serviceAccount},
          {"ips", p.ips},
          {"counters",
           {{"captured_out", p.counters.captured_out},
            {"captured_in", p.counters.captured_in},
            {"passed", p.counters.passed},
            {"failed_closed", p.counters.failed_closed}}},
          {"inbound_listener", listenerStateName(p.listener)},
          {"sk_lookup_link", p.skLookupLink}};
}

std::vector<std::string> podHeaders() {
  return {"NAMESPACE", "NAME", "IP", "COOKIE", "OUT", "IN", "PASSED", "FAILED_CLOSED", "LISTENER", "SK_LOOKUP"};
}

std::vector<std::string> podRow(const PodView& p) {
  std::string ips;
  for (const auto& ip : p.ips) ips += (ips.empty() ? "" : ",") + ip;
  return {p.ns.empty() ? "?" : p.ns,
          p.name.empty() ? "?" : p.name,
          ips.empty() ? "-" : ips,
          std::to_string(p.netnsCookie),
          std::to_string(p.counters.captured_out),
          std::to_string(p.counters.captured_in),
          std::to_string(p.counters.passed),
          std::to_string(p.counters.failed_closed),
          listenerStateName(p.listener),
          p.skLookupLink ? "attached" : "missing"};
}

}  // namespace warren::ctl
