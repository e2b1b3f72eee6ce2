#include "tools/warrenctl/pinned_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "tools/warrenctl/bpffs.h"
#include "tools/warrenctl/pinned.h"
#include "tools/warrenctl/select.h"
#include "tools/warrenctl/stats.h"

namespace warren::ctl {

namespace {

// The pin root must hold Warren's objects at all: with no warren_enrolled it is the
// wrong --bpffs (or the agent never ran), which beats "no such map" for every map.
Status checkWarrenRoot(const std::string& root) {
  if (auto s = checkPinRoot(root); !s) return s.error();
  struct stat st {};
  std::string enrolled = root + "/" + enrolledMap().name;
  if (::stat(enrolled.c_str(), &st) != 0) {
    if (errno == ENOENT) return noObjectsError(root);
    return osError(enrolled, errno);
  }
  return okStatus();
}

// A map `map dump` or `conn list` needs: absent is an error naming it.
Result<PinnedMap> requireMap(const std::string& root, const MapSpec& spec) {
  auto m = openMap(root, spec);
  if (!m) return m.error();
  if (!*m) return makeError(std::string(spec.name) + " is not pinned at " + root);
  return std::move(**m);
}

Result<int> possibleCpus() {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) return makeError("cannot count the possible CPUs (needed to read per-CPU counters)");
  return n;
}

// Reads a per-CPU counters value; empty when the cookie has no entry.
Result<std::vector<warren_counters>> perCpuCounters(int fd, uint64_t cookie, int ncpus) {
  std::vector<uint8_t> raw(perCpuStride(sizeof(warren_counters)) * static_cast<size_t>(ncpus));
  auto found = lookupElem(fd, &cookie, raw.data(), WARREN_MAP_COUNTERS);
  if (!found) return found.error();
  if (!*found) return std::vector<warren_counters>();
  return splitPerCpu(raw, static_cast<size_t>(ncpus));
}

template <typename K>
K keyAs(const std::vector<uint8_t>& raw) {
  K k{};
  std::memcpy(&k, raw.data(), std::min(raw.size(), sizeof(k)));
  return k;
}

// Walks `spec`'s map and hands each (key, value) to `emit`; entries deleted during
// the walk are skipped.
template <typename K, typename V, typename F>
Status forEachEntry(const PinnedMap& m, const MapSpec& spec, F emit) {
  auto keys = mapKeys(m.fd.get(), spec.keySize, m.maxEntries, spec.name);
  if (!keys) return keys.error();
  for (const auto& raw : *keys) {
    K key = keyAs<K>(raw);
    V value{};
    auto found = lookupElem(m.fd.get(), &key, &value, spec.name);
    if (!found) return found.error();
    if (*found) emit(key, value);
  }
  return okStatus();
}

}  // namespace

Result<std::vector<MapInfoView>> readMapInfos(const std::string& root) {
  if (auto s = checkWarrenRoot(root); !s) return s.error();
  auto names = listDir(root);
  if (!names) return names.error();
  std::vector<MapInfoView> maps;
  for (const auto& name : *names) {
    std::string path = root + "/" + name;
    auto pin = openPin(path);
    if (!pin) return pin.error();
    if (!*pin) continue;  // unpinned while we listed
    int fd = (*pin)->get();
    if (kindOf(fd) != Kind::Map) continue;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return osError("map info " + path, errno);
    MapInfoView m = decodeMapInfo(name, info);
    if (countableMapType(info.type)) {
      auto keys = mapKeys(fd, info.key_size, info.max_entries, name);
      if (!keys) return keys.error();
      m.entries = keys->size();
    }
    maps.push_back(std::move(m));
  }
  return maps;
}

Result<Output> dumpMap(const std::string& root, const std::string& name) {
  if (auto s = checkWarrenRoot(root); !s) return s.error();
  std::vector<std::string> pinned;
  if (auto names = listDir(root)) pinned = *names;
  if (auto why = whyNotDumpable(name, pinned)) return makeError(*why);

  Output out{Json::array(), Table{dumpHeaders(name), {}}};
  auto add = [&](const DumpEntry& e) {
    out.json.push_back(e.json);
    out.table.rows.push_back(e.row);
  };
  Status walked = okStatus();
  if (name == WARREN_MAP_ENROLLED) {
    auto m = requireMap(root, enrolledMap());
    if (!m) return m.error();
    walked = forEachEntry<uint64_t, warren_pod>(*m, enrolledMap(),
                                                [&](uint64_t k, const warren_pod& v) { add(dumpEnrolled(k, v)); });
  } else if (name == WARREN_MAP_POD_IPS) {
    auto m = requireMap(root, podIpsMap());
    if (!m) return m.error();
    walked = forEachEntry<warren_ip_key, uint64_t>(*m, podIpsMap(),
                                                   [&](const warren_ip_key& k, uint64_t v) { add(dumpPodIp(k, v)); });
  } else if (name == WARREN_MAP_ORIG_DST) {
    auto m = requireMap(root, origDstMap());
    if (!m) return m.error();
    walked = forEachEntry<warren_conn_key, warren_orig_dst>(
        *m, origDstMap(), [&](const warren_conn_key& k, const warren_orig_dst& v) { add(dumpOrigDst(k, v)); });
  } else if (name == WARREN_MAP_POD_META) {
    auto m = requireMap(root, podMetaMap());
    if (!m) return m.error();
    walked = forEachEntry<uint64_t, warren_pod_meta>(
        *m, podMetaMap(), [&](uint64_t k, const warren_pod_meta& v) { add(dumpPodMeta(k, v)); });
  } else if (name == WARREN_MAP_COUNTERS) {
    auto m = requireMap(root, countersMap());
    if (!m) return m.error();
    auto ncpus = possibleCpus();
    if (!ncpus) return ncpus.error();
    auto keys = mapKeys(m->fd.get(), sizeof(uint64_t), m->maxEntries, WARREN_MAP_COUNTERS);
    if (!keys) return keys.error();
    for (const auto& raw : *keys) {
      uint64_t cookie = keyAs<uint64_t>(raw);
      auto perCpu = perCpuCounters(m->fd.get(), cookie, *ncpus);
      if (!perCpu) return perCpu.error();
      if (perCpu->empty()) continue;  // deleted while we walked
      DumpEntry e = dumpCounters(cookie, *perCpu);
      out.json.push_back(e.json);
      for (auto& row : countersRows(cookie, *perCpu)) out.table.rows.push_back(row);
    }
  } else if (name == WARREN_MAP_POD_CONNS) {
    auto m = requireMap(root, podConnsMap());
    if (!m) return m.error();
    walked =
        forEachEntry<uint64_t, int64_t>(*m, podConnsMap(), [&](uint64_t k, int64_t v) { add(dumpPodConns(k, v)); });
  } else if (name == WARREN_MAP_INBOUND || name == WARREN_MAP_HBONE) {
    // A sockhash's keys walk normally; a lookup yields the socket cookie, or an
    // error on kernels that cannot hand sockets to userspace (shown as unknown).
    const MapSpec& spec = name == WARREN_MAP_INBOUND ? inboundMap() : hboneMap();
    auto m = requireMap(root, spec);
    if (!m) return m.error();
    auto keys = mapKeys(m->fd.get(), sizeof(warren_ip_key), m->maxEntries, spec.name);
    if (!keys) return keys.error();
    for (const auto& raw : *keys) {
      warren_ip_key key = keyAs<warren_ip_key>(raw);
      uint64_t socketCookie = 0;
      int rc = bpf_map_lookup_elem(m->fd.get(), &key, &socketCookie);
      ListenerState state = listenerStateFromLookup(rc, rc == 0 ? 0 : errno);
      if (state == ListenerState::Missing) continue;  // deleted while we walked
      add(dumpInbound(key, state, socketCookie));
    }
  }
  if (!walked) return walked.error();
  return out;
}

Result<std::vector<ConnView>> readConns(const std::string& root) {
  if (auto s = checkWarrenRoot(root); !s) return s.error();
  auto orig = requireMap(root, origDstMap());
  if (!orig) return orig.error();
  auto meta = openMap(root, podMetaMap());
  if (!meta) return meta.error();
  std::vector<ConnView> conns;
  Status s = forEachEntry<warren_conn_key, warren_orig_dst>(
      *orig, origDstMap(), [&](const warren_conn_key& k, const warren_orig_dst& v) {
        warren_pod_meta m{};
        bool have = false;
        if (*meta) {
          uint64_t cookie = k.netns_cookie;
          auto r = lookupElem((*meta)->fd.get(), &cookie, &m, WARREN_MAP_POD_META);
          have = r && *r;
        }
        conns.push_back(decodeConn(k, v, have ? &m : nullptr));
      });
  if (!s) return s.error();
  sortConns(conns);
  return conns;
}

Result<Output> showPod(const std::string& root, const std::string& selector) {
  auto pods = readPods(root);
  if (!pods) return pods.error();
  auto pod = selectPod(*pods, selector);
  if (!pod) return pod.error();
  const PodView& p = **pod;

  std::vector<warren_counters> perCpu;
  auto counters = openMap(root, countersMap());
  if (!counters) return counters.error();
  if (*counters) {
    auto ncpus = possibleCpus();
    if (!ncpus) return ncpus.error();
    auto r = perCpuCounters((*counters)->fd.get(), p.netnsCookie, *ncpus);
    if (!r) return r.error();
    perCpu = std::move(*r);
  }
  auto links = readLinks(root);
  if (!links) return links.error();
  const std::string pin = WARREN_SK_LOOKUP_LINK_PREFIX + std::to_string(p.netnsCookie);
  const LinkView* sk = nullptr;
  for (const auto& l : *links)
    if (l.pin == pin) sk = &l;
  return podShowOutput(p, perCpu, sk);
}

Result<Output> readStats(const std::string& root) {
  auto pods = readPods(root);
  if (!pods) return pods.error();
  auto maps = readMapInfos(root);
  if (!maps) return maps.error();
  return statsOutput(*pods, *maps);
}

}  // namespace warren::ctl
