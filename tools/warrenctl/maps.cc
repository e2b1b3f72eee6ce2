#include "tools/warrenctl/maps.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "common/abi_addr.h"

namespace warren::ctl {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string ipOf(uint32_t family, const warren_addr& addr) {
  if (family != WARREN_AF_INET && family != WARREN_AF_INET6) return "?";
  return addrToString(static_cast<uint16_t>(family), addr);
}

std::string ipPort(uint32_t family, const warren_addr& addr, uint16_t port) {
  if (family != WARREN_AF_INET && family != WARREN_AF_INET6) return "?:" + std::to_string(port);
  return addrPortToString(static_cast<uint16_t>(family), addr, port);
}

std::string joinOr(const std::vector<std::string>& items, const std::string& none) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ",") + i;
  return s.empty() ? none : s;
}

OJson ipKeyJson(const warren_ip_key& key) {
  return {{"family", familyName(key.family)}, {"ip", ipOf(key.family, key.ip)}};
}

}  // namespace

// ---- map show ---------------------------------------------------------------------

bool countableMapType(uint32_t type) {
  return type != BPF_MAP_TYPE_RINGBUF && type != BPF_MAP_TYPE_SK_STORAGE && type != BPF_MAP_TYPE_USER_RINGBUF;
}

MapInfoView decodeMapInfo(const std::string& pin, const bpf_map_info& info) {
  MapInfoView m;
  m.name = pin;
  m.id = info.id;
  const char* t = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(info.type));
  m.type = t ? t : "type " + std::to_string(info.type);
  m.keySize = info.key_size;
  m.valueSize = info.value_size;
  m.maxEntries = info.max_entries;
  m.flags = info.map_flags;
  return m;
}

std::vector<std::string> mapFlagNames(uint32_t flags) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {BPF_F_NO_PREALLOC, "no_prealloc"}, {BPF_F_NO_COMMON_LRU, "no_common_lru"},
      {BPF_F_NUMA_NODE, "numa_node"},     {BPF_F_RDONLY, "rdonly"},
      {BPF_F_WRONLY, "wronly"},           {BPF_F_STACK_BUILD_ID, "stack_build_id"},
      {BPF_F_ZERO_SEED, "zero_seed"},     {BPF_F_RDONLY_PROG, "rdonly_prog"},
      {BPF_F_WRONLY_PROG, "wronly_prog"}, {BPF_F_CLONE, "clone"},
      {BPF_F_MMAPABLE, "mmapable"},       {BPF_F_PRESERVE_ELEMS, "preserve_elems"},
      {BPF_F_INNER_MAP, "inner_map"},
  };
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) names.push_back(name);
    flags &= ~bit;
  }
  if (flags) names.push_back(hex(flags));  // a bit newer than these headers
  return names;
}

OJson mapInfoJson(const MapInfoView& m) {
  return {{"name", m.name},
          {"id", m.id},
          {"type", m.type},
          {"key_size", m.keySize},
          {"value_size", m.valueSize},
          {"max_entries", m.maxEntries},
          {"entries", m.entries ? OJson(*m.entries) : OJson(nullptr)},
          {"flags", m.flags},
          {"flag_names", mapFlagNames(m.flags)}};
}

std::vector<std::string> mapInfoHeaders() {
  return {"NAME", "ID", "TYPE", "KEY", "VALUE", "MAX_ENTRIES", "ENTRIES", "FLAGS"};
}

std::vector<std::string> mapInfoRow(const MapInfoView& m) {
  return {m.name,
          std::to_string(m.id),
          m.type,
          std::to_string(m.keySize),
          std::to_string(m.valueSize),
          std::to_string(m.maxEntries),
          m.entries ? std::to_string(*m.entries) : "-",
          joinOr(mapFlagNames(m.flags), "-")};
}

// ---- map dump ----------------------------------------------------------------------

const std::vector<std::string>& dumpableMaps() {
  static const std::vector<std::string> names = {WARREN_MAP_ENROLLED, WARREN_MAP_POD_IPS,  WARREN_MAP_INBOUND,
                                                 WARREN_MAP_HBONE,    WARREN_MAP_ORIG_DST, WARREN_MAP_POD_CONNS,
                                                 WARREN_MAP_COUNTERS, WARREN_MAP_POD_META};
  return names;
}

std::vector<std::string> dumpHeaders(const std::string& map) {
  if (map == WARREN_MAP_ENROLLED) return {"COOKIE", "FLAGS", "IP4", "IP6"};
  if (map == WARREN_MAP_POD_IPS) return {"IP", "COOKIE"};
  if (map == WARREN_MAP_INBOUND || map == WARREN_MAP_HBONE) return {"IP", "LISTENER", "SOCKET_COOKIE"};
  if (map == WARREN_MAP_POD_CONNS) return {"COOKIE", "HELD"};
  if (map == WARREN_MAP_ORIG_DST) return {"COOKIE", "SRC", "ORIG_DST"};
  if (map == WARREN_MAP_COUNTERS) {
    std::vector<std::string> h = {"COOKIE", "CPU"};
    for (auto& c : counterColumns()) h.push_back(c);
    return h;
  }
  if (map == WARREN_MAP_POD_META) return {"COOKIE", "NAMESPACE", "NAME", "SERVICE_ACCOUNT", "UID"};
  return {};
}

std::optional<std::string> whyNotDumpable(const std::string& map, const std::vector<std::string>& pinnedMaps) {
  if (!dumpHeaders(map).empty()) return std::nullopt;
  if (map == WARREN_MAP_EVENTS)
    return std::string(WARREN_MAP_EVENTS) +
           " is a ring buffer: its records are consumed, not looked up; read them with 'warrenctl trace'";
  if (map == "warren_sk_state")
    return std::string(
        "warren_sk_state is per-socket storage: its entries are keyed by socket and cannot be "
        "listed from userspace (see 'warrenctl conn list' for captured connections)");
  std::string pinned = std::find(pinnedMaps.begin(), pinnedMaps.end(), map) != pinnedMaps.end()
                           ? "'" + map + "' is pinned but warrenctl has no decoder for it"
                           : "unknown map '" + map + "'";
  return pinned + " (maps: " + joinOr(dumpableMaps(), "") + ")";
}

std::string familyName(uint32_t family) {
  if (family == WARREN_AF_INET) return "ipv4";
  if (family == WARREN_AF_INET6) return "ipv6";
  return "family " + std::to_string(family);
}

std::vector<std::string> podFlagNames(uint32_t flags) {
  std::vector<std::string> names;
  if (flags & WARREN_POD_HAS_IP4) names.push_back("has_ip4");
  if (flags & WARREN_POD_HAS_IP6) names.push_back("has_ip6");
  flags &= ~uint32_t{WARREN_POD_HAS_IP4 | WARREN_POD_HAS_IP6};
  if (flags) names.push_back(hex(flags));
  return names;
}

DumpEntry dumpEnrolled(uint64_t cookie, const warren_pod& pod) {
  std::string ip4, ip6;
  for (const auto& k : podIpKeys(pod)) (k.family == WARREN_AF_INET ? ip4 : ip6) = ipKeyString(k);
  return {
      {{"key", {{"netns_cookie", cookie}}},
       {"value", {{"flags", pod.flags}, {"flag_names", podFlagNames(pod.flags)}, {"ip4", ip4}, {"ip6", ip6}}}},
      {std::to_string(cookie), joinOr(podFlagNames(pod.flags), "-"), ip4.empty() ? "-" : ip4, ip6.empty() ? "-" : ip6}};
}

DumpEntry dumpPodIp(const warren_ip_key& key, uint64_t cookie) {
  return {{{"key", ipKeyJson(key)}, {"value", {{"netns_cookie", cookie}}}},
          {ipOf(key.family, key.ip), std::to_string(cookie)}};
}

DumpEntry dumpOrigDst(const warren_conn_key& key, const warren_orig_dst& v) {
  return {
      {{"key",
        {{"netns_cookie", key.netns_cookie},
         {"family", familyName(key.family)},
         {"src_ip", ipOf(key.family, key.src)},
         {"src_port", key.src_port}}},
       {"value",
        {{"netns_cookie", v.netns_cookie},
         {"family", familyName(v.family)},
         {"ip", ipOf(v.family, v.ip)},
         {"port", v.port}}}},
      {std::to_string(key.netns_cookie), ipPort(key.family, key.src, key.src_port), ipPort(v.family, v.ip, v.port)}};
}

OJson countersJson(const warren_counters& c) {
  OJson j = OJson::object();
  for (const auto& f : kCounterFields) j[f.name] = c.*f.field;
  return j;
}

std::vector<std::vector<std::string>> countersRows(uint64_t cookie, const std::vector<warren_counters>& perCpu) {
  auto row = [&](const std::string& cpu, const warren_counters& c) {
    std::vector<std::string> cells = {std::to_string(cookie), cpu};
    for (auto& cell : counterCells(c)) cells.push_back(cell);
    return cells;
  };
  std::vector<std::vector<std::string>> rows = {row("sum", sumCounters(perCpu))};
  for (size_t cpu = 0; cpu < perCpu.size(); ++cpu) {
    const auto& c = perCpu[cpu];
    if (anyCounted(c)) rows.push_back(row(std::to_string(cpu), c));
  }
  return rows;
}

DumpEntry dumpCounters(uint64_t cookie, const std::vector<warren_counters>& perCpu) {
  OJson value = countersJson(sumCounters(perCpu));
  OJson cpus = OJson::array();
  for (size_t cpu = 0; cpu < perCpu.size(); ++cpu) {
    OJson c = {{"cpu", cpu}};
    c.update(countersJson(perCpu[cpu]));
    cpus.push_back(c);
  }
  value["per_cpu"] = cpus;
  // The table's rows for this entry are countersRows(); the first one stands here.
  return {{{"key", {{"netns_cookie", cookie}}}, {"value", value}}, countersRows(cookie, perCpu).front()};
}

DumpEntry dumpPodMeta(uint64_t cookie, const warren_pod_meta& m) {
  std::string ns = fieldString(m.namespace_, sizeof(m.namespace_)), name = fieldString(m.name, sizeof(m.name)),
              sa = fieldString(m.service_account, sizeof(m.service_account)), uid = fieldString(m.uid, sizeof(m.uid));
  return {{{"key", {{"netns_cookie", cookie}}},
           {"value", {{"namespace", ns}, {"name", name}, {"service_account", sa}, {"uid", uid}}}},
          {std::to_string(cookie), ns, name, sa, uid}};
}

DumpEntry dumpInbound(const warren_ip_key& key, ListenerState state, uint64_t socketCookie) {
  if (state != ListenerState::Up) socketCookie = 0;
  return {{{"key", ipKeyJson(key)}, {"value", {{"state", listenerStateName(state)}, {"socket_cookie", socketCookie}}}},
          {ipOf(key.family, key.ip), listenerStateName(state), socketCookie ? std::to_string(socketCookie) : "-"}};
}

DumpEntry dumpPodConns(uint64_t cookie, int64_t held) {
  return {{{"key", {{"netns_cookie", cookie}}}, {"value", {{"held", held}}}},
          {std::to_string(cookie), std::to_string(held)}};
}

// ---- conn list ---------------------------------------------------------------------

ConnView decodeConn(const warren_conn_key& key, const warren_orig_dst& v, const warren_pod_meta* meta) {
  ConnView c;
  c.netnsCookie = key.netns_cookie;
  if (meta) {
    c.ns = fieldString(meta->namespace_, sizeof(meta->namespace_));
    c.name = fieldString(meta->name, sizeof(meta->name));
  }
  c.family = key.family;
  c.srcIp = ipOf(key.family, key.src);
  c.srcPort = key.src_port;
  c.dstIp = ipOf(v.family, v.ip);
  c.dstPort = v.port;
  return c;
}

void sortConns(std::vector<ConnView>& conns) {
  std::sort(conns.begin(), conns.end(), [](const ConnView& a, const ConnView& b) {
    return std::tie(a.ns, a.name, a.netnsCookie, a.srcIp, a.srcPort) <
           std::tie(b.ns, b.name, b.netnsCookie, b.srcIp, b.srcPort);
  });
}

OJson connJson(const ConnView& c) {
  return {{"netns_cookie", c.netnsCookie},  {"namespace", c.ns},         {"name", c.name},
          {"family", familyName(c.family)}, {"src_ip", c.srcIp},         {"src_port", c.srcPort},
          {"orig_dst_ip", c.dstIp},         {"orig_dst_port", c.dstPort}};
}

std::vector<std::string> connHeaders() { return {"NAMESPACE", "NAME", "COOKIE", "SRC", "ORIG_DST"}; }

std::vector<std::string> connRow(const ConnView& c) {
  auto join = [](const std::string& ip, uint16_t port) {
    return ip.find(':') != std::string::npos ? "[" + ip + "]:" + std::to_string(port) : ip + ":" + std::to_string(port);
  };
  return {c.ns.empty() ? "?" : c.ns, c.name.empty() ? "?" : c.name, std::to_string(c.netnsCookie),
          join(c.srcIp, c.srcPort), join(c.dstIp, c.dstPort)};
}

// ---- link show ---------------------------------------------------------------------

OJson linkShowJson(const LinkView& l) {
  OJson j = linkJson(l);
  OJson out = {{"id", l.id}, {"type", l.type}, {"prog_id", l.progId}};
  for (const auto& [k, v] : j.items())
    if (k != "id" && k != "type") out[k] = v;
  return out;
}

std::vector<std::string> linkHeaders() { return {"ID", "TYPE", "PROG", "ATTACH", "TARGET", "PIN"}; }

std::vector<std::string> linkRow(const LinkView& l) {
  return {std::to_string(l.id), l.type, std::to_string(l.progId), l.attachType.empty() ? "-" : l.attachType,
          linkTarget(l),        l.pin};
}

}  // namespace warren::ctl
