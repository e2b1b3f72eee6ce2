#pragma once
// What /proc says about a process (CPU time, memory) and latency percentiles:
// shared by every benchmark, including those that run no cluster.

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace warren::bench {

// User + system CPU seconds used so far by pid (all its threads, live or ended),
// plus, withChildren, those of its children that have been reaped (socat forks
// one per connection).
inline double cpuSeconds(pid_t pid, bool withChildren = false) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  unsigned long utime = 0, stime = 0;
  long cutime = 0, cstime = 0;
  // Fields 14 to 17; the command name (field 2) has no spaces for our binaries.
  if (std::fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &utime, &stime, &cutime,
                  &cstime) != 4)
    utime = stime = cutime = cstime = 0;
  std::fclose(f);
  const double ticks = static_cast<double>(utime + stime) + (withChildren ? static_cast<double>(cutime + cstime) : 0);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
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

struct Percentiles {
  double p50 = 0, p99 = 0;
  int failures = 0;
};

// p50 and p99 of the samples (microseconds, or any unit); failures ride along.
inline Percentiles percentiles(std::vector<double> samples, int failures) {
  Percentiles p;
  p.failures = failures;
  std::sort(samples.begin(), samples.end());
  if (!samples.empty()) {
    p.p50 = samples[samples.size() / 2];
    p.p99 = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  }
  return p;
}

}  // namespace warren::bench
