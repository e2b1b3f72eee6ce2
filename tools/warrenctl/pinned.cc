#include "tools/warrenctl/pinned.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/abi_addr.h"
#include "common/unique_fd.h"

namespace warren::ctl {
namespace fs = std::filesystem;

namespace {

Error pinError(const std::string& pinRoot, const std::string& what, int err) {
  if (err == EPERM || err == EACCES)
    return Error{err, "permission denied reading " + what + " (BPF objects need root or CAP_BPF)"};
  if (err == ENOENT)
    return Error{err, "no Warren objects pinned at " + pinRoot +
                          " (is warren-agent running? use --bpffs to point elsewhere)"};
  return errnoError("open " + what, err);
}

Result<UniqueFd> openPinned(const std::string& pinRoot, const std::string& name) {
  std::string path = pinRoot + "/" + name;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return pinError(pinRoot, path, errno);
  return UniqueFd(fd);
}

template <typename K>
std::vector<K> keysOf(int mapFd) {
  std::vector<K> keys;
  K key{}, next{};
  const K* prev = nullptr;
  while (bpf_map_get_next_key(mapFd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

ListenerState listenerState(int inboundFd, const std::vector<std::string>& ips) {
  if (ips.empty()) return ListenerState::Missing;
  for (const auto& ip : ips) {
    auto key = ipKeyFromString(ip);
    if (!key) return ListenerState::Unknown;
    uint64_t cookie = 0;
    if (bpf_map_lookup_elem(inboundFd, &*key, &cookie) != 0)
      return errno == ENOENT ? ListenerState::Missing : ListenerState::Unknown;
  }
  return ListenerState::Registered;
}

std::string hexTag(const unsigned char* tag, size_t n) {
  std::string s;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", tag[i]);
    s += buf;
  }
  return s;
}

std::string orUnknown(const char* s) { return s ? s : "unknown"; }

}  // namespace

Result<std::vector<PodView>> readPods(const std::string& pinRoot) {
  auto enrolled = openPinned(pinRoot, WARREN_MAP_ENROLLED);
  if (!enrolled) return enrolled.error();
  auto meta = openPinned(pinRoot, WARREN_MAP_POD_META);
  auto counters = openPinned(pinRoot, WARREN_MAP_COUNTERS);
  auto inbound = openPinned(pinRoot, WARREN_MAP_INBOUND);
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return makeError("cannot count possible CPUs");

  std::vector<PodView> pods;
  for (uint64_t cookie : keysOf<uint64_t>(enrolled->get())) {
    warren_pod pod{};
    if (bpf_map_lookup_elem(enrolled->get(), &cookie, &pod) != 0) continue;  // released meanwhile
    warren_pod_meta m{};
    bool haveMeta = meta && bpf_map_lookup_elem(meta->get(), &cookie, &m) == 0;
    std::vector<warren_counters> perCpu(static_cast<size_t>(ncpus));
    if (!counters || bpf_map_lookup_elem(counters->get(), &cookie, perCpu.data()) != 0) perCpu.clear();
    PodView v = decodePod(cookie, pod, haveMeta ? &m : nullptr, perCpu);
    v.listener = inbound ? listenerState(inbound->get(), v.ips) : ListenerState::Unknown;
    std::error_code ec;
    v.skLookupLink = fs::exists(fs::path(pinRoot) / WARREN_LINKS_DIR /
                                    (std::string(WARREN_SK_LOOKUP_LINK_PREFIX) + std::to_string(cookie)),
                                ec);
    pods.push_back(std::move(v));
  }
  std::sort(pods.begin(), pods.end(),
            [](const PodView& a, const PodView& b) { return std::tie(a.ns, a.name) < std::tie(b.ns, b.name); });
  return pods;
}

Result<std::vector<ProgView>> readProgs(const std::string& pinRoot) {
  fs::path dir = fs::path(pinRoot) / WARREN_LINKS_DIR;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return pinError(pinRoot, dir.string(), ENOENT);
  std::vector<ProgView> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    ProgView v;
    v.linkName = entry.path().filename().string();
    int lfd = bpf_obj_get(entry.path().c_str());
    if (lfd < 0) return pinError(pinRoot, entry.path().string(), errno);
    UniqueFd link(lfd);
    bpf_link_info li{};
    uint32_t len = sizeof(li);
    if (bpf_obj_get_info_by_fd(link.get(), &li, &len) != 0) return errnoError("link info " + v.linkName);
    v.linkId = li.id;
    v.progId = li.prog_id;
    v.linkType = orUnknown(libbpf_bpf_link_type_str(static_cast<bpf_link_type>(li.type)));
    if (li.type == BPF_LINK_TYPE_CGROUP) {
      v.attachType = orUnknown(libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(li.cgroup.attach_type)));
      v.target = "cgroup " + std::to_string(li.cgroup.cgroup_id);
    } else if (li.type == BPF_LINK_TYPE_NETNS) {
      v.attachType = orUnknown(libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(li.netns.attach_type)));
      v.target = li.netns.netns_ino ? "netns " + std::to_string(li.netns.netns_ino) : "netns (gone)";
    }
    UniqueFd prog(bpf_prog_get_fd_by_id(li.prog_id));
    if (prog) {
      bpf_prog_info pi{};
      uint32_t plen = sizeof(pi);
      if (bpf_obj_get_info_by_fd(prog.get(), &pi, &plen) == 0) {
        v.progName = pi.name;
        v.progType = orUnknown(libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(pi.type)));
        v.tag = hexTag(pi.tag, sizeof(pi.tag));
        v.runCount = pi.run_cnt;
        v.runTimeNs = pi.run_time_ns;
      }
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const ProgView& a, const ProgView& b) { return a.linkName < b.linkName; });
  return out;
}

}  // namespace warren::ctl
