#pragma once
// Where the cgroup v2 hierarchy is mounted: the root the capture programs attach
// at. Real nodes have it at /sys/fs/cgroup; hybrid hosts (systemd's "unified"
// layout, this project's CI VM) at /sys/fs/cgroup/unified; containers wherever
// the host's was mounted. Found from /proc/self/mountinfo, never assumed.

#include <string>
#include <string_view>

#include "common/result.h"

namespace warren {

// From mountinfo text (proc(5)): the mount point of a cgroup2 file system that
// shows the whole hierarchy (its root is "/"), /sys/fs/cgroup first if it is
// one. An error says what was found instead (none, or only a subtree, as inside
// a container with a cgroup namespace of its own).
Result<std::string> findCgroup2Root(std::string_view mountinfo);
// The same, from this process's /proc/self/mountinfo.
Result<std::string> detectCgroup2Root();

}  // namespace warren
