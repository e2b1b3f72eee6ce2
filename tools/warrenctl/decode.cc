#include "tools/warrenctl/decode.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <tuple>

#include "common/abi_addr.h"

namespace warren::ctl {

std::string fieldString(const char* data, size_t size) { return std::string(data, strnlen(data, size)); }

std::vector<warren_ip_key> podIpKeys(const warren_pod& pod) {
  std::vector<warren_ip_key> keys;
  if (pod.flags & WARREN_POD_HAS_IP4) {
    warren_ip_key k{};
    k.family = WARREN_AF_INET;
    std::memcpy(k.ip.addr, &pod.ip4, sizeof(pod.ip4));
    keys.push_back(k);
  }
  if (pod.flags & WARREN_POD_HAS_IP6) {
    warren_ip_key k{};
    k.family = WARREN_AF_INET6;
    k.ip = pod.ip6;
    keys.push_back(k);
  }
  return keys;
}

std::string ipKeyString(const warren_ip_key& key) {
  if (key.family != WARREN_AF_INET && key.family != WARREN_AF_INET6) return "?";
  return addrToString(static_cast<uint16_t>(key.family), key.ip);
}

std::vector<std::string> podIps(const warren_pod& pod) {
  std::vector<std::string> ips;
  for (const auto& k : podIpKeys(pod)) ips.push_back(ipKeyString(k));
  return ips;
}

PodView decodePod(uint64_t cookie, const warren_pod& pod, const warren_pod_meta* meta,
                  const std::vector<warren_counters>* perCpu) {
  PodView v;
  v.netnsCookie = cookie;
  v.ips = podIps(pod);
  if (perCpu) v.counters = sumCounters(*perCpu);
  if (meta) {
    v.hasMeta = true;
    v.uid = fieldString(meta->uid, sizeof(meta->uid));
    v.name = fieldString(meta->name, sizeof(meta->name));
    v.ns = fieldString(meta->namespace_, sizeof(meta->namespace_));
    v.serviceAccount = fieldString(meta->service_account, sizeof(meta->service_account));
  }
  return v;
}

ListenerState listenerStateFromLookup(int rc, int err) {
  if (rc == 0) return ListenerState::Up;
  return err == ENOENT ? ListenerState::Missing : ListenerState::Unknown;
}

const char* listenerStateName(ListenerState s) {
  switch (s) {
    case ListenerState::Up: return "up";
    case ListenerState::Missing: return "missing";
    case ListenerState::Unknown: break;
  }
  return "unknown";
}

std::string listenerSummary(const std::vector<IpListener>& listeners) {
  // A pod without IPs cannot have its inbound steered anywhere.
  if (listeners.empty()) return "missing";
  size_t up = 0, unknown = 0;
  for (const auto& l : listeners) {
    up += l.state == ListenerState::Up;
    unknown += l.state == ListenerState::Unknown;
  }
  if (unknown) return "unknown";
  if (up == listeners.size()) return "up";
  return up ? "partial" : "missing";
}

const char* linkStateName(LinkState s) {
  switch (s) {
    case LinkState::Attached: return "attached";
    case LinkState::Detached: return "detached";
    case LinkState::Missing: return "missing";
    case LinkState::Unknown: break;
  }
  return "unknown";
}

void sortPods(std::vector<PodView>& pods) {
  std::sort(pods.begin(), pods.end(), [](const PodView& a, const PodView& b) {
    return std::tie(a.ns, a.name, a.netnsCookie) < std::tie(b.ns, b.name, b.netnsCookie);
  });
}

nlohmann::ordered_json podJson(const PodView& p) {
  nlohmann::ordered_json counters = nullptr;
  if (p.counters) {
    counters = nlohmann::ordered_json::object();
    for (const auto& f : kCounterFields) counters[f.name] = (*p.counters).*f.field;
  }
  nlohmann::ordered_json listeners = nlohmann::ordered_json::array();
  for (const auto& l : p.listeners)
    listeners.push_back({{"ip", l.ip}, {"state", listenerStateName(l.state)}, {"socket_cookie", l.socketCookie}});
  return {{"netns_cookie", p.netnsCookie},
          {"namespace", p.ns},
          {"name", p.name},
          {"service_account", p.serviceAccount},
          {"uid", p.uid},
          {"ips", p.ips},
          {"counters", counters},
          {"inbound_listener", listenerSummary(p.listeners)},
          {"listeners", listeners},
          {"sk_lookup_link", linkStateName(p.skLookup)},
          {"sk_lookup_link_id", p.skLookupLinkId}};
}

std::vector<std::string> counterColumns() {
  std::vector<std::string> columns;
  for (const auto& f : kCounterFields) {
    std::string name = f.name;
    if (name.rfind("captured_", 0) == 0) name.erase(0, 9);  // captured_out -> OUT: the short, known headers
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::toupper(ch); });
    columns.push_back(name);
  }
  return columns;
}

std::vector<std::string> counterCells(const warren_counters& c) {
  std::vector<std::string> cells;
  for (const auto& f : kCounterFields) cells.push_back(std::to_string(c.*f.field));
  return cells;
}

bool anyCounted(const warren_counters& c) {
  return std::any_of(std::begin(kCounterFields), std::end(kCounterFields),
                     [&](const CounterField& f) { return c.*f.field != 0; });
}

std::vector<std::string> podHeaders() {
  std::vector<std::string> h = {"NAMESPACE", "NAME", "IP", "COOKIE"};
  for (auto& c : counterColumns()) h.push_back(c);
  h.insert(h.end(), {"LISTENER", "SK_LOOKUP"});
  return h;
}

std::vector<std::string> podRow(const PodView& p) {
  std::string ips;
  for (const auto& ip : p.ips) ips += (ips.empty() ? "" : ",") + ip;
  std::vector<std::string> row = {p.ns.empty() ? "?" : p.ns, p.name.empty() ? "?" : p.name, ips.empty() ? "-" : ips,
                                  std::to_string(p.netnsCookie)};
  if (p.counters)
    for (auto& c : counterCells(*p.counters)) row.push_back(c);
  else
    row.insert(row.end(), kCounterFieldCount, "-");
  row.insert(row.end(), {listenerSummary(p.listeners), linkStateName(p.skLookup)});
  return row;
}

}  // namespace warren::ctl
