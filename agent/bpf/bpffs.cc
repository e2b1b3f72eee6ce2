#include "agent/bpf/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace warren::agent {

namespace fs = std::filesystem;

bool isOnBpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

namespace {

bool isUnder(const fs::path& path, const fs::path& dir) {
  auto rel = path.lexically_normal().lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

Status ensurePinRootOnBpffs(const std::string& pinRoot) {
  if (isUnder(pinRoot, kBpffsMountPoint) && !isOnBpffs(kBpffsMountPoint)) {
    std::error_code ec;
    fs::create_directories(kBpffsMountPoint, ec);
    // Mode 0700 as systemd mounts it: pins are root's.
    if (::mount("bpf", kBpffsMountPoint, "bpf", 0, "mode=700") != 0)
      return makeError(std::string("no BPF filesystem at ") + kBpffsMountPoint +
                       " and mounting one failed: " + std::strerror(errno));
    spdlog::info("mounted the BPF filesystem at {} (nothing was mounted there)", kBpffsMountPoint);
  }
  std::error_code ec;
  fs::create_directories(pinRoot, ec);
  if (ec) return makeError("create pin root " + pinRoot + ": " + ec.message());
  if (!isOnBpffs(pinRoot))
    return makeError("pin root " + pinRoot +
                     " is not on a BPF filesystem, so pins would not outlive the agent; mount one there "
                     "(mount -t bpf bpf DIR) or pick a directory under " +
                     kBpffsMountPoint);
  return okStatus();
}

}  // namespace warren::agent
