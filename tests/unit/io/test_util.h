#pragma once
// Shared helpers for the io/relay tests: a loop on its own thread, loopback
// sockets, and blocking I/O for the test's ends of a connection.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <type_traits>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "io/event_loop.h"

namespace warren::iotest {

using namespace std::chrono_literals;

// An EventLoop running on its own thread for the test's lifetime.
class LoopThread {
 public:
  LoopThread() {
    auto l = io::EventLoop::create();
    if (!l.ok()) {
      ADD_FAILURE() << l.error().message;
      std::abort();
    }
    loop = std::move(*l);
    thread = std::thread([this] { loop->run(); });
  }
  ~LoopThread() {
    loop->stop();
    thread.join();
  }
  // Runs fn on the loop thread and returns its result.
  template <typename F>
  auto call(F fn) {
    using R = decltype(fn());
    std::promise<R> p;
    auto f = p.get_future();
    loop->post([&] {
      if constexpr (std::is_void_v<R>) {
        fn();
        p.set_value();
      } else {
        p.set_value(fn());
      }
    });
    return f.get();
  }
  std::unique_ptr<io::EventLoop> loop;
  std::thread thread;
};

// Polls `pred` until it holds or `limit` passes (the limit only bounds a failing
// test; a passing one returns as soon as the condition is true).
template <typename Pred>
bool waitUntil(Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

inline sockaddr_storage loopback4(uint16_t port = 0) {
  sockaddr_storage ss{};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = htons(port);
  return ss;
}

inline sockaddr_storage localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss;
}

inline uint16_t portOf(const sockaddr_storage& ss) {
  return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

// Socket buffer sizes (SO_SNDBUF and SO_RCVBUF) to pin before connecting; 0 = leave
// the kernel's autotuning alone.
inline void setBuffers(int fd, int bytes) {
  if (bytes <= 0) return;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)), 0);
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), 0);
}

inline UniqueFd blockingListener(int backlog = 128, int bufferBytes = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  setBuffers(fd.get(), bufferBytes);  // inherited by accepted sockets
  sockaddr_storage a = loopback4();
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sockaddr_in)), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(fd.get(), backlog), 0);
  return fd;
}

inline UniqueFd blockingConnect(const sockaddr_storage& to, int bufferBytes = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  setBuffers(fd.get(), bufferBytes);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(sockaddr_in)), 0)
      << std::strerror(errno);
  return fd;
}

// A bare TCP connection to 127.0.0.1:port from `sourceIp` (another loopback
// address: a second "source" for admission caps), left idle; reads time out at 3 s.
inline UniqueFd idleConnectFrom(const char* sourceIp, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, sourceIp, &src.sin_addr);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);
  auto dst = loopback4(port);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&dst), sizeof(sockaddr_in)), 0);
  timeval tv{3, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Whether the server ended `fd` at once (reset, or closed) rather than leaving it
// open: a read that would block times out (idleConnectFrom's 3 s) and is false.
inline ::testing::AssertionResult endedByPeer(int fd) {
  char b;
  ssize_t n = ::read(fd, &b, 1);
  const int err = errno;
  if (n == 0 || (n < 0 && err == ECONNRESET)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "n=" << n << " errno=" << std::strerror(err);
}

// client <-> relayA  and  relayB <-> server: a relay joins A and B, the test drives
// client and server with blocking I/O.
struct RelayRig {
  UniqueFd client, server;
  UniqueFd relayA, relayB;
  explicit RelayRig(int bufferBytes = 0) {
    UniqueFd l1 = blockingListener(128, bufferBytes), l2 = blockingListener(128, bufferBytes);
    client = blockingConnect(localAddress(l1.get()), bufferBytes);
    relayA = UniqueFd(::accept4(l1.get(), nullptr, nullptr, SOCK_CLOEXEC));
    relayB = blockingConnect(localAddress(l2.get()), bufferBytes);
    server = UniqueFd(::accept4(l2.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(client && relayA && relayB && server);
  }
};

inline size_t fdCount() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own directory fd
}

inline bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads to EOF. *err gets errno if the read failed (e.g. ECONNRESET), else 0.
inline std::string readAll(int fd, int* err = nullptr) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (err) *err = n < 0 ? errno : 0;
    return out;
  }
}

inline std::string randomBytes(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (size_t i = n - n % 8; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

}  // namespace warren::iotest
