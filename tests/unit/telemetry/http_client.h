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

#include "common/unique_fd.h"

namespace warren::telemetry::test {

using Clock = std::chrono::steady_clock;

// Generous: only reached when something is broken, and the machine may be loaded.
inline constexpr std::chrono::milliseconds kTimeout{10000};

// A blocking TCP connection to 127.0.0.1:port (invalid fd on failure).
inline UniqueFd connectLoopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return UniqueFd();
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
  int status = 0;       // 0: no parseable answer
  std::string head;     // status line and headers
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
inline Reply roundTrip(uint16_t port, std::string_view raw) {
  UniqueFd fd = connectLoopback(port);
  if (!fd || !sendAll(fd.get(), raw)) return {};
  auto answer = readUntilClose(fd.get());
  return answer ? parseReply(*answer) : Reply{};
}

inline Reply httpGet(uint16_t port, const std::string& target) {
  return roundTrip(port, "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
}

inline Reply httpPost(uint16_t port, const std::string& target, const std::string& body = "") {
  return roundTrip(port, "POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body);
}

// The value of header `name` (exact case as the server writes it), "" when absent.
inline std::string headerValue(const Reply& r, const std::string& name) {
  const auto at = r.head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const auto start = at + name.size() + 4;
  return r.head.substr(start, r.head.find("\r\n", start) - start);
}

}  // namespace warren::telemetry::test
