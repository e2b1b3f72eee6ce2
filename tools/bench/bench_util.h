#pragma once
// Shared by the benchmarks that run a cluster: new-connection latency (and, from
// proc_stats.h, CPU time, memory and percentiles).

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tools/bench/proc_stats.h"

namespace warren::bench {

// n times: a new connection from `from` to ip:port, 64 bytes echoed, closed.
// Microseconds per connection; a failure is a connect error or a wrong echo.
inline Percentiles newConnectionLatency(const e2e::Pod& from, const std::string& ip, uint16_t port, int n) {
  std::vector<double> us;
  int failures = 0;
  const std::string payload(64, 'x');
  for (int i = 0; i < n; ++i) {
    auto start = std::chrono::steady_clock::now();
    e2e::ConnectResult r = e2e::connectFrom(from.netnsPath(), ip, port, payload);
    auto took = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (r.error || r.reply != payload)
      ++failures;
    else
      us.push_back(took);
  }
  return percentiles(std::move(us), failures);
}

inline Percentiles newConnectionLatency(const e2e::Pod& from, const e2e::Pod& to, uint16_t port, int n) {
  return newConnectionLatency(from, to.ip, port, n);
}

}  // namespace warren::bench
