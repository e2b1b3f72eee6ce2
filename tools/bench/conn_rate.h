#pragma once
// The connection-rate phase of warren-hbone-bench: how many new connections per
// second a path sustains, each one connect + 64-byte echo + close, from several
// client threads at once (a latency run, one connection at a time, leaves the
// tunnel idle between connections and so does not show what it can sustain).
// The server is this file's own: a few threads accepting on one socket in the
// server pod, each echoing and closing, so that thousands of connections leave
// no threads behind (PodServer keeps one per connection).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace warren::bench {

class RateEchoServer {
 public:
  // Listens on port in the netns; nullptr when it cannot.
  static std::unique_ptr<RateEchoServer> start(const std::string& netnsPath, uint16_t port, int threads);
  ~RateEchoServer();

 private:
  RateEchoServer() = default;
  UniqueFd listener_;
  std::vector<std::thread> threads_;
};

struct RateResult {
  uint64_t connections = 0, failures = 0;
  double seconds = 0;
  double perSecond() const { return seconds > 0 ? static_cast<double>(connections) / seconds : 0; }
};

// `threads` clients in the netns, each connecting to ip:port over and over for
// `seconds`; a failure is a refused connection or a wrong echo.
RateResult connectionRate(const std::string& netnsPath, const std::string& ip, uint16_t port, int threads,
                          double seconds);

}  // namespace warren::bench
