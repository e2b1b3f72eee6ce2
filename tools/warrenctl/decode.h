#pragma once
// Pure decoding of Warren's map entries (bytes -> ABI structs -> views -> JSON and
// table rows). No BPF calls here, so all of it is unit-tested with hand-made bytes;
// pinned.cc does the map I/O and hands the raw values in.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/capture_counters.h"
#include "warren_abi.h"

namespace warren::ctl {

// One pod IP's entry in the warren_inbound sockhash.
enum class ListenerState { Up, Missing, Unknown };
struct IpListener {
  std::string ip;
  ListenerState state = ListenerState::Unknown;
  uint64_t socketCookie = 0;  // what a userspace sockhash lookup returns; 0 unless Up
};

enum class LinkState { Attached, Detached, Missing, Unknown };

struct PodView {
  uint64_t netnsCookie = 0;
  bool hasMeta = false;  // false: no warren_pod_meta entry, the strings below are empty
  std::string uid, name, ns, serviceAccount;
  std::vector<std::string> ips;
  // nullopt: no counters entry (or no counters map). The agent creates the entry at
  // enrollment and the programs only increment existing entries, so this is a fault.
  std::optional<warren_counters> counters;
  std::vector<IpListener> listeners;  // one per IP, in `ips` order
  LinkState skLookup = LinkState::Unknown;
  uint32_t skLookupLinkId = 0;
};

// Fixed-size, maybe unterminated char array -> string, never reading past `size`.
std::string fieldString(const char* data, size_t size);

// The keys warren_pod_ips / warren_inbound use for this pod, IPv4 first.
std::vector<warren_ip_key> podIpKeys(const warren_pod& pod);
std::string ipKeyString(const warren_ip_key& key);
std::vector<std::string> podIps(const warren_pod& pod);

// A per-CPU map lookup returns one value per possible CPU, each padded to 8 bytes.
using warren::perCpuStride;  // common/capture_counters.h, shared with the tunnel's metrics
using warren::splitPerCpu;
using warren::sumCounters;

// perCpu == nullptr: no counters entry.
PodView decodePod(uint64_t cookie, const warren_pod& pod, const warren_pod_meta* meta,
                  const std::vector<warren_counters>* perCpu);

// bpf_map_lookup_elem on a sockhash from userspace yields the socket cookie or
// ENOENT; anything else (EOPNOTSUPP on old kernels, ENOSPC for a 4-byte value) means
// we cannot tell.
ListenerState listenerStateFromLookup(int rc, int err);

const char* listenerStateName(ListenerState s);
// The pod's summary over its IPs: up, partial, missing or unknown.
std::string listenerSummary(const std::vector<IpListener>& listeners);
const char* linkStateName(LinkState s);

void sortPods(std::vector<PodView>& pods);
nlohmann::ordered_json podJson(const PodView& pod);
// One table column per capture counter (kCounterFields, so a counter added to
// warren_abi.h shows up everywhere): OUT, IN, PASSED, FAILED_CLOSED, QUOTA_REFUSED,
// UDP_SENDS; and a row's cells in that order.
std::vector<std::string> counterColumns();
std::vector<std::string> counterCells(const warren_counters& c);
bool anyCounted(const warren_counters& c);

std::vector<std::string> podHeaders();
std::vector<std::string> podRow(const PodView& pod);

}  // namespace warren::ctl
