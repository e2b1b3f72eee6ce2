// Reading Warren's maps into pod views: every map is shape-checked against the ABI
// before its first lookup, and only lookups and key walks are issued.
#include "tools/warrenctl/pinned.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "common/unique_fd.h"
#include "tools/warrenctl/bpffs.h"

namespace warren::ctl {

namespace {

// Keys of a u64-keyed hash map.
Result<std::vector<uint64_t>> u64Keys(int fd, uint32_t maxEntries, const std::string& what) {
  auto raw = mapKeys(fd, sizeof(uint64_t), maxEntries, what);
  if (!raw) return raw.error();
  std::vector<uint64_t> keys;
  for (const auto& k : *raw) {
    uint64_t v = 0;
    std::memcpy(&v, k.data(), sizeof(v));
    keys.push_back(v);
  }
  return keys;
}

struct SkLookup {
  LinkState state = LinkState::Unknown;
  uint32_t linkId = 0;
};

SkLookup skLookupLink(const std::string& root, uint64_t cookie) {
  std::string path = root + "/" WARREN_LINKS_DIR "/" WARREN_SK_LOOKUP_LINK_PREFIX + std::to_string(cookie);
  auto pin = openPin(path);
  if (!pin) return {};
  if (!*pin) return {LinkState::Missing, 0};
  int fd = (*pin)->get();
  if (kindOf(fd) != Kind::Link) return {};
  auto info = linkInfo(fd, path);
  if (!info || info->type != BPF_LINK_TYPE_NETNS) return {};
  return {info->netns.netns_ino ? LinkState::Attached : LinkState::Detached, info->id};
}

template <typename V>
Result<bool> lookup(int fd, const void* key, V* value, const std::string& what) {
  return lookupElem(fd, key, value, what);
}

}  // namespace

Result<std::optional<PinnedMap>> openMap(const std::string& root, const MapSpec& spec) {
  std::string path = root + "/" + spec.name;
  auto pin = openPin(path);
  if (!pin) return pin.error();
  if (!*pin) return std::optional<PinnedMap>();
  UniqueFd fd = std::move(**pin);
  if (kindOf(fd.get()) != Kind::Map) return makeError(path + " is pinned but is not a map");
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return osError("map info " + path, errno);
  auto shape = checkMapShape(spec, info.type, info.key_size, info.value_size);
  if (!shape) return withContext(shape.error(), path);
  return std::optional<PinnedMap>(PinnedMap{std::move(fd), info.max_entries});
}

Result<std::vector<std::vector<uint8_t>>> mapKeys(int fd, uint32_t keySize, uint32_t maxEntries,
                                                  const std::string& what) {
  std::vector<std::vector<uint8_t>> keys;
  std::set<std::vector<uint8_t>> seen;
  std::vector<uint8_t> cur(keySize), next(keySize);
  const uint64_t limit = 2 * uint64_t{maxEntries} + 16;
  for (uint64_t step = 0; step < limit; ++step) {
    if (bpf_map_get_next_key(fd, step ? cur.data() : nullptr, next.data()) != 0) {
      if (errno == ENOENT) break;
      return osError("iterate " + what, errno);
    }
    cur = next;
    if (seen.insert(next).second) keys.push_back(next);
  }
  return keys;
}

Result<bool> lookupElem(int fd, const void* key, void* value, const std::string& what) {
  if (bpf_map_lookup_elem(fd, key, value) == 0) return true;
  if (errno == ENOENT) return false;
  return osError("lookup in " + what, errno);
}

const MapSpec& enrolledMap() {
  static const MapSpec s{WARREN_MAP_ENROLLED, BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(warren_pod)};
  return s;
}
const MapSpec& podMetaMap() {
  static const MapSpec s{WARREN_MAP_POD_META, BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(warren_pod_meta)};
  return s;
}
const MapSpec& countersMap() {
  static const MapSpec s{WARREN_MAP_COUNTERS, BPF_MAP_TYPE_PERCPU_HASH, sizeof(__u64), sizeof(warren_counters)};
  return s;
}
const MapSpec& podIpsMap() {
  static const MapSpec s{WARREN_MAP_POD_IPS, BPF_MAP_TYPE_HASH, sizeof(warren_ip_key), sizeof(__u64)};
  return s;
}
const MapSpec& origDstMap() {
  static const MapSpec s{WARREN_MAP_ORIG_DST, BPF_MAP_TYPE_HASH, sizeof(warren_conn_key), sizeof(warren_orig_dst)};
  return s;
}
const MapSpec& inboundMap() {
  // The value is what the agent inserts (a socket fd) and, on lookup, the socket cookie.
  static const MapSpec s{WARREN_MAP_INBOUND, BPF_MAP_TYPE_SOCKHASH, sizeof(warren_ip_key), sizeof(__u64)};
  return s;
}
const MapSpec& hboneMap() {
  // As warren_inbound: the tunnel's HBONE (15008) listener of each pod IP.
  static const MapSpec s{WARREN_MAP_HBONE, BPF_MAP_TYPE_SOCKHASH, sizeof(warren_ip_key), sizeof(__u64)};
  return s;
}
const MapSpec& podConnsMap() {
  static const MapSpec s{WARREN_MAP_POD_CONNS, BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(__s64)};
  return s;
}

Status checkMapShape(const MapSpec& spec, uint32_t type, uint32_t keySize, uint32_t valueSize) {
  if (type == static_cast<uint32_t>(spec.type) && keySize == spec.keySize && valueSize == spec.valueSize)
    return okStatus();
  auto typeName = [](uint32_t t) {
    const char* n = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(t));
    return n ? std::string(n) : "type " + std::to_string(t);
  };
  return makeError(std::string(spec.name) + " is " + typeName(type) + " with key/value size " +
                   std::to_string(keySize) + "/" + std::to_string(valueSize) + ", this warrenctl expects " +
                   typeName(static_cast<uint32_t>(spec.type)) + " " + std::to_string(spec.keySize) + "/" +
                   std::to_string(spec.valueSize) + " (warrenctl and warren-agent are from different versions)");
}

Result<std::vector<PodView>> readPods(const std::string& root) {
  if (auto s = checkPinRoot(root); !s) return s.error();
  auto enrolled = openMap(root, enrolledMap());
  if (!enrolled) return enrolled.error();
  if (!*enrolled) return noObjectsError(root);
  // The other maps are optional: an agent that predates one still gets a listing.
  auto meta = openMap(root, podMetaMap());
  if (!meta) return meta.error();
  auto counters = openMap(root, countersMap());
  if (!counters) return counters.error();
  auto inbound = openMap(root, inboundMap());
  if (!inbound) return inbound.error();
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return makeError("cannot count the possible CPUs (needed to read per-CPU counters)");

  const int enrolledFd = (*enrolled)->fd.get();
  auto cookies = u64Keys(enrolledFd, (*enrolled)->maxEntries, WARREN_MAP_ENROLLED);
  if (!cookies) return cookies.error();
  std::vector<PodView> pods;
  std::vector<uint8_t> raw(perCpuStride(sizeof(warren_counters)) * static_cast<size_t>(ncpus));
  for (uint64_t cookie : *cookies) {
    warren_pod pod{};
    auto found = lookup(enrolledFd, &cookie, &pod, WARREN_MAP_ENROLLED);
    if (!found) return found.error();
    if (!*found) continue;  // released while we walked the map

    warren_pod_meta m{};
    bool haveMeta = false;
    if (*meta) {
      auto r = lookup((*meta)->fd.get(), &cookie, &m, WARREN_MAP_POD_META);
      if (!r) return r.error();
      haveMeta = *r;
    }
    std::vector<warren_counters> perCpu;
    bool haveCounters = false;
    if (*counters) {
      auto r = lookup((*counters)->fd.get(), &cookie, raw.data(), WARREN_MAP_COUNTERS);
      if (!r) return r.error();
      if (*r) perCpu = splitPerCpu(raw, static_cast<size_t>(ncpus));
      haveCounters = *r;
    }
    PodView v = decodePod(cookie, pod, haveMeta ? &m : nullptr, haveCounters ? &perCpu : nullptr);

    for (const auto& key : podIpKeys(pod)) {
      IpListener l{ipKeyString(key), ListenerState::Unknown, 0};
      if (*inbound) {
        uint64_t socketCookie = 0;
        int rc = bpf_map_lookup_elem((*inbound)->fd.get(), &key, &socketCookie);
        l.state = listenerStateFromLookup(rc, rc == 0 ? 0 : errno);
        if (l.state == ListenerState::Up) l.socketCookie = socketCookie;
      }
      v.listeners.push_back(l);
    }
    SkLookup sk = skLookupLink(root, cookie);
    v.skLookup = sk.state;
    v.skLookupLinkId = sk.linkId;
    pods.push_back(std::move(v));
  }
  sortPods(pods);
  return pods;
}

}  // namespace warren::ctl
