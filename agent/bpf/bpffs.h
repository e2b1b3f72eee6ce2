#pragma once
// The BPF filesystem the agent pins into. Pins are what keep capture running
// across an agent restart, so a pin root that is not on bpffs is an error, never a
// silent fallback. systemd mounts bpffs at /sys/fs/bpf on most machines; minimal
// VMs and some container hosts do not, and then the agent mounts it there itself,
// as Cilium's agent does.

#include <string>

#include "common/result.h"

namespace warren::agent {

inline constexpr const char* kBpffsMountPoint = "/sys/fs/bpf";

// Makes `pinRoot` a directory on bpffs: mounts bpffs at /sys/fs/bpf when the pin
// root is under it and nothing is mounted there yet, then creates the directory.
// Fails, saying what to do, when the pin root ends up on another filesystem.
Status ensurePinRootOnBpffs(const std::string& pinRoot);

bool isOnBpffs(const std::string& path);

}  // namespace warren::agent
