#pragma once
// Pure decoding for `map show`, `map dump`, `link show` and `conn list`: map info and
// map entries (the ABI structs of warren_abi.h) -> JSON and table rows. Never hex: a
// map warrenctl has no decoder for is refused, not dumped raw. pinned_maps.cc does
// the map I/O and hands the raw keys and values in.

#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/warrenctl/decode.h"
#include "tools/warrenctl/progs.h"
#include "warren_abi.h"

namespace warren::ctl {

using OJson = nlohmann::ordered_json;

// ---- map show ---------------------------------------------------------------------

struct MapInfoView {
  std::string name;  // pin name under PIN_ROOT
  uint32_t id = 0;
  std::string type;
  uint32_t keySize = 0, valueSize = 0, maxEntries = 0;
  // nullopt for maps userspace cannot walk (ring buffer, socket storage).
  std::optional<uint64_t> entries;
  uint32_t flags = 0;
};

MapInfoView decodeMapInfo(const std::string& pin, const bpf_map_info& info);
// Whether get_next_key can count this map's entries.
bool countableMapType(uint32_t type);
// BPF_F_* names of map_flags ("no_prealloc", "mmapable"), unknown bits as hex.
std::vector<std::string> mapFlagNames(uint32_t flags);
OJson mapInfoJson(const MapInfoView& m);
std::vector<std::string> mapInfoHeaders();
std::vector<std::string> mapInfoRow(const MapInfoView& m);

// ---- map dump ----------------------------------------------------------------------

// One decoded entry: {"key": {...}, "value": {...}} and its table row.
struct DumpEntry {
  OJson json;
  std::vector<std::string> row;
};

// The maps `map dump` decodes, in the order `map show` lists them.
const std::vector<std::string>& dumpableMaps();
std::vector<std::string> dumpHeaders(const std::string& map);  // empty for a map we cannot dump
// nullopt when `map` has no dump (ring buffer, socket storage, unknown): the error says why.
std::optional<std::string> whyNotDumpable(const std::string& map, const std::vector<std::string>& pinnedMaps);

std::string familyName(uint32_t family);  // "ipv4", "ipv6", "family 7"
std::vector<std::string> podFlagNames(uint32_t flags);

DumpEntry dumpEnrolled(uint64_t cookie, const warren_pod& pod);
DumpEntry dumpPodIp(const warren_ip_key& key, uint64_t cookie);
DumpEntry dumpOrigDst(const warren_conn_key& key, const warren_orig_dst& value);
// All of a per-CPU entry's CPUs: summed in "value", each in "value.per_cpu". The
// table shows the sum and then only the CPUs that counted something.
std::vector<std::vector<std::string>> countersRows(uint64_t cookie, const std::vector<warren_counters>& perCpu);
DumpEntry dumpCounters(uint64_t cookie, const std::vector<warren_counters>& perCpu);
DumpEntry dumpPodMeta(uint64_t cookie, const warren_pod_meta& meta);
// The sockhash value as userspace sees it: the socket cookie on lookup (state up),
// or the lookup error (missing / unknown).
DumpEntry dumpInbound(const warren_ip_key& key, ListenerState state, uint64_t socketCookie);
// warren_pod_conns: the warren_orig_dst entries a pod holds against its quota.
DumpEntry dumpPodConns(uint64_t cookie, int64_t held);
OJson countersJson(const warren_counters& c);

// ---- conn list ---------------------------------------------------------------------

struct ConnView {
  uint64_t netnsCookie = 0;
  std::string ns, name;  // "" when the cookie has no warren_pod_meta entry
  uint32_t family = 0;
  std::string srcIp, dstIp;
  uint16_t srcPort = 0, dstPort = 0;
};

ConnView decodeConn(const warren_conn_key& key, const warren_orig_dst& value, const warren_pod_meta* meta);
void sortConns(std::vector<ConnView>& conns);
OJson connJson(const ConnView& c);
std::vector<std::string> connHeaders();
std::vector<std::string> connRow(const ConnView& c);

// ---- link show ---------------------------------------------------------------------

OJson linkShowJson(const LinkView& l);  // linkJson plus the program id
std::vector<std::string> linkHeaders();
std::vector<std::string> linkRow(const LinkView& l);

}  // namespace warren::ctl
