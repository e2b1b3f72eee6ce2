#pragma once
// Network-namespace helpers. A socket belongs to the netns it was created in, so
// the tunnel opens per-pod sockets by briefly entering the pod's netns on the
// calling thread (setns only affects that thread) and returning to its own.

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren {

// Opens a netns by path (/var/run/netns/x, /proc/PID/ns/net).
Result<UniqueFd> openNetns(const std::string& path);

// The kernel's unique, never-reused cookie for a netns (SO_NETNS_COOKIE, >= 5.14):
// what the BPF programs see as bpf_get_netns_cookie().
Result<uint64_t> netnsCookie(int netns_fd);

// Cookie of the netns the socket lives in.
Result<uint64_t> socketNetnsCookie(int socket_fd);

// Enters a netns for the lifetime of the object on this thread, then returns.
class ScopedNetns {
 public:
  static Result<ScopedNetns> enter(int netns_fd);
  ~ScopedNetns();
  ScopedNetns(ScopedNetns&& other) noexcept = default;
  ScopedNetns& operator=(ScopedNetns&&) = delete;
  ScopedNetns(const ScopedNetns&) = delete;

 private:
  explicit ScopedNetns(UniqueFd original) : original_(std::move(original)) {}
  UniqueFd original_;
};

// socket(2) inside another netns.
Result<UniqueFd> socketInNetns(int netns_fd, int domain, int type, int protocol = 0);

}  // namespace warren
