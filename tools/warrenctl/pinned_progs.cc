// Reading Warren's programs: through the links pinned under PIN_ROOT/links, never by
// scanning every program on the node, so only what Warren attached is shown.

#include "tools/warrenctl/pinned.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include "common/unique_fd.h"
#include "tools/warrenctl/bpffs.h"

namespace warren::ctl {

namespace {

// bpf_prog_info.name is cut at 15 characters; the BTF of the program's first
// function has the whole name (what bpftool does too).
std::string btfName(int progFd, const bpf_prog_info& info) {
  if (strnlen(info.name, sizeof(info.name)) < BPF_OBJ_NAME_LEN - 1 || !info.btf_id || !info.nr_func_info) return "";
  bpf_func_info func{};
  bpf_prog_info one{};
  one.nr_func_info = 1;
  one.func_info_rec_size = sizeof(func);
  one.func_info = reinterpret_cast<uint64_t>(&func);
  uint32_t len = sizeof(one);
  if (bpf_obj_get_info_by_fd(progFd, &one, &len) != 0) return "";
  btf* b = btf__load_from_kernel_by_id(one.btf_id);
  if (!b) return "";
  std::string name;
  const btf_type* t = btf__type_by_id(b, func.type_id);
  if (t && btf_is_func(t)) {
    const char* n = btf__name_by_offset(b, t->name_off);
    if (n) name = n;
  }
  btf__free(b);
  return name;
}

int64_t bootToUnixNs() {
  timespec real{}, boot{};
  if (clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return 0;
  return (int64_t{real.tv_sec} - boot.tv_sec) * 1000000000 + (real.tv_nsec - boot.tv_nsec);
}

Result<std::optional<ProgView>> readProg(uint32_t id, int64_t offset) {
  std::string what = "program id " + std::to_string(id);
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) {
    if (errno == ENOENT) return std::optional<ProgView>();  // unloaded since we read the link
    return osError(what, errno);
  }
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return osError("info of " + what, errno);
  std::vector<uint32_t> mapIds(info.nr_map_ids);
  if (!mapIds.empty()) {
    bpf_prog_info withMaps{};
    withMaps.nr_map_ids = static_cast<uint32_t>(mapIds.size());
    withMaps.map_ids = reinterpret_cast<uint64_t>(mapIds.data());
    len = sizeof(withMaps);
    if (bpf_obj_get_info_by_fd(fd.get(), &withMaps, &len) != 0) return osError("map ids of " + what, errno);
    mapIds.resize(std::min<size_t>(mapIds.size(), withMaps.nr_map_ids));
  }
  return std::optional<ProgView>(decodeProg(info, btfName(fd.get(), info), offset, std::move(mapIds)));
}

}  // namespace

Result<std::vector<LinkView>> readLinks(const std::string& root) {
  if (auto s = checkPinRoot(root); !s) return s.error();
  std::string dir = root + "/" WARREN_LINKS_DIR;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return osError(dir, errno);
    // The agent pins its maps before it attaches anything: with maps but no links
    // there are no programs yet; with neither, --bpffs points at the wrong place.
    std::string enrolled = root + "/" + enrolledMap().name;
    if (::stat(enrolled.c_str(), &st) != 0) return noObjectsError(root);
    return std::vector<LinkView>();
  }
  auto names = listDir(dir);
  if (!names) return names.error();

  std::vector<LinkView> links;
  for (const auto& name : *names) {
    std::string path = dir + "/" + name;
    auto pin = openPin(path);
    if (!pin) return pin.error();
    if (!*pin) continue;                                // unpinned while we listed
    if (kindOf((*pin)->get()) != Kind::Link) continue;  // not a link: not ours to show
    auto info = linkInfo((*pin)->get(), path);
    if (!info) return info.error();
    links.push_back(decodeLink(name, *info));
  }
  return links;
}

Result<std::vector<ProgView>> readProgs(const std::string& root) {
  auto links = readLinks(root);
  if (!links) return links.error();
  const int64_t offset = bootToUnixNs();
  std::vector<ProgView> progs;
  for (uint32_t id : progIdsOf(*links)) {
    auto prog = readProg(id, offset);
    if (!prog) return prog.error();
    if (!*prog) continue;
    for (const auto& l : *links)
      if (l.progId == id) (*prog)->links.push_back(l);
    progs.push_back(std::move(**prog));
  }
  return progs;
}

}  // namespace warren::ctl
