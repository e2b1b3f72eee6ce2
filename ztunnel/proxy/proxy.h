#pragma once
// The tunnel's data path for captured connections: outbound (app -> tunnel ->
// original destination) and inbound (client -> tunnel -> app), each relayed and
// logged once when it ends.

#include <atomic>
#include <chrono>

#include "common/unique_fd.h"
#include "ztunnel/bpf/capture_maps.h"
#include "ztunnel/io/event_loop.h"
#include "ztunnel/proxy/pod_context.h"

namespace warren::proxy {

struct ProxyOptions {
  uint32_t mark = 0;  // SO_MARK on upstream sockets, so capture skips them
  std::chrono::milliseconds connectTimeout{5000};
};

// Counts for tests and, later, metrics.
struct ProxyCounters {
  std::atomic<uint64_t> outboundOpened{0}, inboundOpened{0}, refused{0}, upstreamFailed{0}, closed{0};
};

class Proxy {
 public:
  Proxy(io::EventLoop& loop, const tunnel::CaptureMaps* maps, ProxyOptions options)
      : loop_(loop), maps_(maps), options_(options) {}

  // Both run on the loop thread, for a freshly accepted connection.
  void handleOutbound(const PodContextPtr& pod, UniqueFd client);
  void handleInbound(const PodContextPtr& pod, UniqueFd client);

  void setMaps(const tunnel::CaptureMaps* maps) { maps_ = maps; }
  const ProxyCounters& counters() const { return counters_; }
  size_t activeConnections() const { return active_.load(); }

 private:
  enum class Direction { Outbound, Inbound };
  void connectAndRelay(const PodContextPtr& pod, Direction dir, UniqueFd client, const sockaddr_storage& peer,
                       const sockaddr_storage& target);

  io::EventLoop& loop_;
  const tunnel::CaptureMaps* maps_;
  ProxyOptions options_;
  ProxyCounters counters_;
  std::atomic<size_t> active_{0};
};

}  // namespace warren::proxy
