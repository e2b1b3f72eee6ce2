#include "agent/bpf/capture_loader.h"

#include "common/cgroup2.h"

#include "agent/bpf/bpffs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "common/abi_addr.h"
#include "common/unique_fd.h"
#include "warren_capture.skel.h"

namespace warren::agent {
namespace fs = std::filesystem;

namespace {

// libbpf returns -errno and sets errno; keep the message uniform.
Error bpfError(const std::string& what, int rc) {
  int err = rc < 0 ? -rc : errno;
  return errnoError(what, err);
}

void copyField(char (&dst)[WARREN_META_LEN], const std::string& src) {
  std::memset(dst, 0, sizeof(dst));
  std::memcpy(dst, src.data(), std::min(src.size(), sizeof(dst) - 1));
}

struct CgroupProgram {
  const char* linkName;
  bpf_program* (*get)(::warren_capture*);
};

const CgroupProgram kCgroupPrograms[] = {
    {"connect4", [](::warren_capture* s) { return s->progs.warren_connect4; }},
    {"connect6", [](::warren_capture* s) { return s->progs.warren_connect6; }},
    {"sendmsg4", [](::warren_capture* s) { return s->progs.warren_sendmsg4; }},
    {"sendmsg6", [](::warren_capture* s) { return s->progs.warren_sendmsg6; }},
    {"getpeername4", [](::warren_capture* s) { return s->progs.warren_getpeer4; }},
    {"getpeername6", [](::warren_capture* s) { return s->progs.warren_getpeer6; }},
    {"sockops", [](::warren_capture* s) { return s->progs.warren_sockops; }},
};

// Keys of a map, collected before the caller deletes any (deleting while walking
// with get_next_key can skip entries).
template <typename K>
std::vector<K> mapKeys(const bpf_map* map) {
  std::vector<K> keys;
  K key{}, next{};
  const K* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

// Pod-IP entries whose owning cookie satisfies `stale`.
template <typename Pred>
void deletePodIpsWhere(const bpf_map* podIps, Pred stale) {
  for (const auto& k : mapKeys<warren_ip_key>(podIps)) {
    uint64_t owner = 0;
    bool found = bpf_map__lookup_elem(podIps, &k, sizeof(k), &owner, sizeof(owner), 0) == 0;
    if (!found || stale(owner)) bpf_map__delete_elem(podIps, &k, sizeof(k), 0);
  }
}

std::string skLookupLinkName(uint64_t cookie) {
  return std::string(WARREN_SK_LOOKUP_LINK_PREFIX) + std::to_string(cookie);
}

// Attaches `prog` with `attach`, or, when a pinned link from an earlier agent is
// there, swaps the new program into it atomically (no moment without capture).
Status attachOrUpdate(bpf_program* prog, const std::string& pinPath, const std::function<bpf_link*()>& attach) {
  std::error_code ec;
  bpf_link* old = fs::exists(pinPath, ec) ? bpf_link__open(pinPath.c_str()) : nullptr;
  if (old) {
    int rc = bpf_link__update_program(old, prog);
    bpf_link__disconnect(old);  // keep it attached: the pin owns it
    bpf_link__destroy(old);
    if (rc == 0) return okStatus();
    spdlog::warn("cannot update pinned link {} ({}); re-attaching", pinPath, std::strerror(-rc));
    ::unlink(pinPath.c_str());
  }
  bpf_link* link = attach();
  if (!link) return errnoError("attach " + std::string(bpf_program__name(prog)));
  int rc = bpf_link__pin(link, pinPath.c_str());
  bpf_link__disconnect(link);
  bpf_link__destroy(link);
  if (rc != 0) return bpfError("pin link " + pinPath, rc);
  return okStatus();
}

}  // namespace

Result<std::unique_ptr<CaptureLoader>> CaptureLoader::load(const CaptureOptions& options) {
  if (auto st = ensurePinRootOnBpffs(options.pinRoot); !st) return st.error();
  std::error_code ec;
  fs::create_directories(fs::path(options.pinRoot) / WARREN_LINKS_DIR, ec);
  if (ec) return makeError("create pin dir " + options.pinRoot + ": " + ec.message());

  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = options.pinRoot.c_str());
  ::warren_capture* skel = warren_capture__open_opts(&open_opts);
  if (!skel) return errnoError("open BPF skeleton");
  skel->rodata->tunnel_mark = options.tunnelMark;
  skel->rodata->outbound_port = WARREN_OUTBOUND_PORT;
  skel->rodata->hbone_port = WARREN_HBONE_PORT;
  skel->rodata->conns_per_pod = options.connsPerPod;

  if (int rc = warren_capture__load(skel); rc != 0) {
    warren_capture__destroy(skel);
    return bpfError(
        "load BPF programs (pinned maps from an incompatible version? run "
        "'warren-agent --uninstall')",
        rc);
  }
  std::unique_ptr<CaptureLoader> loader(new CaptureLoader(options, skel));
  if (auto st = loader->attachCgroupPrograms(); !st) return st.error();
  return loader;
}

CaptureLoader::~CaptureLoader() {
  // Links are pinned; destroying the skeleton closes our fds without detaching.
  warren_capture__destroy(skel_);
}

std::string CaptureLoader::linkPath(const std::string& name) const {
  return (fs::path(options_.pinRoot) / WARREN_LINKS_DIR / name).string();
}

Status CaptureLoader::attachCgroupPrograms() {
  if (options_.cgroupPath.empty()) {
    auto found = detectCgroup2Root();
    if (!found) return found.error();
    options_.cgroupPath = *found;
  }
  UniqueFd cg(::open(options_.cgroupPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return errnoError("open cgroup v2 root " + options_.cgroupPath);
  for (const auto& p : kCgroupPrograms) {
    bpf_program* prog = p.get(skel_);
    int cgfd = cg.get();
    auto st = attachOrUpdate(prog, linkPath(p.linkName), [&] { return bpf_program__attach_cgroup(prog, cgfd); });
    if (!st) return withContext(st.error(), std::string("attach ") + p.linkName + " at " + options_.cgroupPath);
  }
  return okStatus();
}

Status CaptureLoader::enroll(const PodEnrollment& pod, int netnsFd) {
  warren_pod value{};
  std::vector<warren_ip_key> keys;
  for (const auto& ip : pod.ips) {
    auto key = ipKeyFromString(ip);
    if (!key) return withContext(key.error(), "pod " + pod.ns + "/" + pod.name);
    if (key->family == WARREN_AF_INET && !(value.flags & WARREN_POD_HAS_IP4)) {
      value.flags |= WARREN_POD_HAS_IP4;
      std::memcpy(&value.ip4, key->ip.addr, 4);
    } else if (key->family == WARREN_AF_INET6 && !(value.flags & WARREN_POD_HAS_IP6)) {
      value.flags |= WARREN_POD_HAS_IP6;
      value.ip6 = key->ip;
    }
    keys.push_back(*key);
  }
  const uint64_t cookie = pod.netnsCookie;

  // Counters first (kept if present), then the addresses, then the enrolled
  // entry last: the programs act only once everything they read is in place.
  int ncpus = libbpf_num_possible_cpus();
  std::vector<warren_counters> zero(static_cast<size_t>(ncpus > 0 ? ncpus : 1));
  int rc = bpf_map__update_elem(skel_->maps.warren_counters, &cookie, sizeof(cookie), zero.data(),
                                zero.size() * sizeof(warren_counters), BPF_NOEXIST);
  if (rc != 0 && rc != -EEXIST) return bpfError("init counters", rc);
  // Kept if present: the pod's live connections still hold their slots.
  const int64_t noneHeld = 0;
  rc = bpf_map__update_elem(skel_->maps.warren_pod_conns, &cookie, sizeof(cookie), &noneHeld, sizeof(noneHeld),
                            BPF_NOEXIST);
  if (rc != 0 && rc != -EEXIST) return bpfError("init connection quota", rc);

  warren_pod_meta meta{};
  copyField(meta.uid, pod.uid);
  copyField(meta.name, pod.name);
  copyField(meta.namespace_, pod.ns);
  copyField(meta.service_account, pod.serviceAccount);
  rc = bpf_map__update_elem(skel_->maps.warren_pod_meta, &cookie, sizeof(cookie), &meta, sizeof(meta), BPF_ANY);
  if (rc != 0) return bpfError("write pod metadata", rc);

  for (const auto& key : keys) {
    rc = bpf_map__update_elem(skel_->maps.warren_pod_ips, &key, sizeof(key), &cookie, sizeof(cookie), BPF_ANY);
    if (rc != 0) return bpfError("write pod IP", rc);
  }

  bpf_program* prog = skel_->progs.warren_sk_lookup;
  auto st = attachOrUpdate(prog, linkPath(skLookupLinkName(cookie)),
                           [&] { return bpf_program__attach_netns(prog, netnsFd); });
  if (!st) return withContext(st.error(), "attach sk_lookup to pod " + pod.ns + "/" + pod.name);

  rc = bpf_map__update_elem(skel_->maps.warren_enrolled, &cookie, sizeof(cookie), &value, sizeof(value), BPF_ANY);
  if (rc != 0) return bpfError("write enrolled pod", rc);
  return okStatus();
}

Status CaptureLoader::release(uint64_t cookie) {
  // Enrolled entry first: from here on the pod's connects are left alone.
  bpf_map__delete_elem(skel_->maps.warren_enrolled, &cookie, sizeof(cookie), 0);
  ::unlink(linkPath(skLookupLinkName(cookie)).c_str());

  deletePodIpsWhere(skel_->maps.warren_pod_ips, [&](uint64_t owner) { return owner == cookie; });
  bpf_map__delete_elem(skel_->maps.warren_counters, &cookie, sizeof(cookie), 0);
  bpf_map__delete_elem(skel_->maps.warren_pod_conns, &cookie, sizeof(cookie), 0);
  bpf_map__delete_elem(skel_->maps.warren_pod_meta, &cookie, sizeof(cookie), 0);
  return okStatus();
}

Result<std::vector<uint64_t>> CaptureLoader::enrolledCookies() const {
  return mapKeys<uint64_t>(skel_->maps.warren_enrolled);
}

void CaptureLoader::pruneOrphans() {
  auto enrolled = enrolledCookies();
  if (!enrolled) return;
  std::set<uint64_t> live(enrolled->begin(), enrolled->end());

  for (const bpf_map* map : {skel_->maps.warren_counters, skel_->maps.warren_pod_conns, skel_->maps.warren_pod_meta})
    for (uint64_t c : mapKeys<uint64_t>(map))
      if (!live.count(c)) bpf_map__delete_elem(map, &c, sizeof(c), 0);
  deletePodIpsWhere(skel_->maps.warren_pod_ips, [&](uint64_t owner) { return !live.count(owner); });

  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(options_.pinRoot) / WARREN_LINKS_DIR, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(WARREN_SK_LOOKUP_LINK_PREFIX, 0) != 0) continue;
    uint64_t cookie = std::strtoull(name.c_str() + std::strlen(WARREN_SK_LOOKUP_LINK_PREFIX), nullptr, 10);
    if (!live.count(cookie)) {
      spdlog::info("removing orphaned sk_lookup link {}", name);
      fs::remove(entry.path(), ec);
    }
  }
}

Status CaptureLoader::uninstall(const std::string& pinRoot) {
  std::error_code ec;
  if (!fs::exists(pinRoot, ec)) return okStatus();
  // Removing the last reference to a link detaches its program.
  fs::remove_all(pinRoot, ec);
  if (ec) return makeError("remove " + pinRoot + ": " + ec.message());
  return okStatus();
}

}  // namespace warren::agent
