#pragma once
// Network-namespace helpers. A socket belongs to the netns it was created in, so
// the tunnel opens per-pod sockets by briefly entering the pod's netns on the
// calling thread (setns only affects that thread) and returning to its own.

#include <cstdint>
#include <string>
#include <utility>

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
  // Returns to `home`, an fd of the netns this thread is in that the caller holds
  // (homeNetns()): that saves opening /proc/thread-self/ns/net (a path walk through
  // procfs) on every entry, and the tunnel enters a pod's netns for every
  // connection it opens to an app. -1: the thread's netns is opened here.
  static Result<ScopedNetns> enter(int netns_fd, int home = -1);
  ~ScopedNetns();
  ScopedNetns(ScopedNetns&& other) noexcept : owned_(std::move(other.owned_)), home_(std::exchange(other.home_, -1)) {}
  ScopedNetns& operator=(ScopedNetns&&) = delete;
  ScopedNetns(const ScopedNetns&) = delete;

 private:
  ScopedNetns(UniqueFd owned, int home) : owned_(std::move(owned)), home_(home) {}
  UniqueFd owned_;  // home_ when enter() opened it itself
  int home_ = -1;   // -1: moved from
};

// The netns the calling thread is in, for ScopedNetns::enter(fd, home) on this thread.
Result<UniqueFd> homeNetns();

// socket(2) inside another netns.
Result<UniqueFd> socketInNetns(int netns_fd, int domain, int type, int protocol = 0);

}  // namespace warren
