#include "tools/warrenctl/bpffs.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace warren::ctl {

namespace {

bool isPermission(int err) { return err == EPERM || err == EACCES; }

}  // namespace

Error noObjectsError(const std::string& pinRoot) {
  return makeError("no Warren objects pinned at " + pinRoot + " (is warren-agent running? --bpffs to point elsewhere)",
                   ENOENT);
}

Error permissionError(const std::string& what) {
  return makeError("permission denied: " + what + " (warrenctl needs root, or CAP_BPF and CAP_SYS_ADMIN)", EPERM);
}

Error osError(const std::string& what, int err) {
  return isPermission(err) ? permissionError(what) : errnoError(what, err);
}

Status checkPinRoot(const std::string& root) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return noObjectsError(root);
    return osError(root, err);
  }
  if (!S_ISDIR(st.st_mode)) return makeError(root + " is not a directory (--bpffs takes warren-agent's pin root)");
  struct statfs sfs {};
  if (::statfs(root.c_str(), &sfs) != 0) return osError("statfs " + root, errno);
  if (static_cast<unsigned long>(sfs.f_type) != BPF_FS_MAGIC)
    return makeError(root + " is not on a BPF filesystem (--bpffs takes warren-agent's pin root under bpffs)");
  return okStatus();
}

Kind kindOf(int fd) {
  char target[64] = {};
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return Kind::Other;
  std::string t(target, static_cast<size_t>(n));
  if (t == "anon_inode:bpf-map") return Kind::Map;
  if (t == "anon_inode:bpf-prog") return Kind::Prog;
  // A link fd is "bpf_link" when created and "bpf-link" when opened from a pin.
  if (t == "anon_inode:bpf-link" || t == "anon_inode:bpf_link") return Kind::Link;
  return Kind::Other;
}

Result<std::optional<UniqueFd>> openPin(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return std::optional<UniqueFd>();
    return osError("open " + path, err);
  }
  return std::optional<UniqueFd>(UniqueFd(fd));
}

Result<bpf_link_info> linkInfo(int fd, const std::string& path) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return osError("link info " + path, errno);
  return info;
}

Result<std::vector<std::string>> listDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return osError("open " + dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    // bpf_obj_get on a bpffs directory fails with EACCES, which would read as a
    // permission problem; a subdirectory is not a link anyway.
    if (n == "." || n == ".." || e->d_type == DT_DIR) continue;
    names.push_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err) return osError("read " + dir, err);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace warren::ctl
