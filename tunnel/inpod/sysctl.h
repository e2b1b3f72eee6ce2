#pragma once
// Writes one sysctl of the calling thread's network namespace (/proc/sys/net is
// the opening thread's netns: enter the pod's first).

#include <string>

#include "common/result.h"

namespace warren::inpod {

// path: under /proc/sys ("/proc/sys/net/ipv4/tcp_migrate_req"); the error names it.
Status setSysctl(const std::string& path, const std::string& value);

}  // namespace warren::inpod
