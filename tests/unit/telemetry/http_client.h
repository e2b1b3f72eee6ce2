#pragma once
// A raw-socket HTTP client for the telemetry tests: it sends exactly the bytes a test
// writes (malformed, partial or stalled requests included) and waits with poll()
// deadlines, never sleeps.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace warren::telemetry::test {

using Clock = std::chrono::steady_clock;

// Generous: only reached when something is broken, and the machine may be loaded.
inline constexpr std::chrono::milliseconds kTimeout{10000};

// A blocking TCP connection to 127.0.0.1:port (invalid fd on failure), from `source`
// (another loopback address, "127.0.0.2", stands in for a second client host; all of
// 127/8 is local, so no setup is needed).
inline UniqueFd connectLoopback(uint16_t port, const char* source = "127.0.0.1") {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0)
    return UniqueFd();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return UniqueFd();
  return fd;
}

inline bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Everything the peer sends until it closes (EOF or reset); nullopt if it has not
// closed within `timeout`.
inline std::optional<std::string> readUntilClose(int fd, std::chrono::milliseconds timeout = kTimeout) {
  const auto deadline = Clock::now() + timeout;
  std::string out;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;  // EOF, or a reset: either way the server closed
    out.append(buf, static_cast<size_t>(n));
  }
}

// True when the peer has neither sent anything nor closed: poll reports nothing now.
inline bool stillOpenAndSilent(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

struct Reply {
  int status = 0;    // 0: no parseable answer
  std::string head;  // status line and headers
  std::string body;
};

inline Reply parseReply(const std::string& raw) {
  Reply r;
  const auto headEnd = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || headEnd == std::string::npos || raw.size() < 12) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, headEnd + 2);
  r.body = raw.substr(headEnd + 4);
  return r;
}

// Sends `raw` on a new connection and reads the answer until the server closes.
inline Reply roundTrip(uint16_t port, std::string_view raw, const char* source = "127.0.0.1") {
  UniqueFd fd = connectLoopback(port, source);
  if (!fd || !sendAll(fd.get(), raw)) return {};
  auto answer = readUntilClose(fd.get());
  return answer ? parseReply(*answer) : Reply{};
}

inline Reply httpGet(uint16_t port, const std::string& target, const char* source = "127.0.0.1") {
  return roundTrip(port, "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n", source);
}

// `headers`: extra header lines, each ending in "\r\n".
inline Reply httpPost(uint16_t port, const std::string& target, const std::string& body = "",
                      const std::string& headers = "") {
  return roundTrip(port, "POST " + target + " HTTP/1.1\r\nHost: test\r\n" + headers +
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

// Waits until `count` of `fds` have been closed by the server (EOF or reset); returns
// how many were, which is fewer only when kTimeout passed first. `closed` (one flag
// per fd) says which.
inline size_t waitForCloses(const std::vector<UniqueFd>& fds, size_t count, std::vector<bool>& closed) {
  closed.assign(fds.size(), false);
  size_t n = 0;
  const auto deadline = Clock::now() + kTimeout;
  while (n < count && Clock::now() < deadline) {
    std::vector<pollfd> pfds;
    for (const auto& fd : fds) pfds.push_back({fd.get(), POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (closed[i] || !(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char c;
      if (::recv(fds[i].get(), &c, 1, MSG_DONTWAIT) <= 0) {
        closed[i] = true;
        ++n;
      }
    }
  }
  return n;
}

// The value of header `name` (exact case as the server writes it), "" when absent.
inline std::string headerValue(const Reply& r, const std::string& name) {
  const auto at = r.head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const auto start = at + name.size() + 4;
  return r.head.substr(start, r.head.find("\r\n", start) - start);
}

}  // namespace warren::telemetry::test
