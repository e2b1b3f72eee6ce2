#pragma once
// What /proc says about a process, for the benchmarks: CPU time and memory.

#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace warren::bench {

// User + system CPU seconds used so far by pid.
inline double cpuSeconds(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  unsigned long utime = 0, stime = 0;
  // Fields 14 and 15; the command name (field 2) has no spaces for our binaries.
  if (std::fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    utime = stime = 0;
  std::fclose(f);
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A kB field of /proc/<pid>/status: "VmRSS:" now, "VmHWM:" the peak.
inline long rssKb(pid_t pid, const char* field) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char line[256];
  long kb = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, field, std::strlen(field)) == 0) std::sscanf(line + std::strlen(field), " %ld", &kb);
  std::fclose(f);
  return kb;
}

}  // namespace warren::bench
