#pragma once
// The 64-byte echo the connection-rate and held-connections phases exchange on
// each connection, and the blocking read of a whole message they both use.

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace warren::bench {

inline constexpr size_t kEchoBytes = 64;

// Reads exactly len bytes; false on EOF, an error or a receive timeout.
inline bool readFull(int fd, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = ::read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace warren::bench
