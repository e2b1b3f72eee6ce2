// The tunnel's event loop, non-blocking connect and relay, on loopback TCP.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "ztunnel/io/event_loop.h"
#include "ztunnel/io/tcp.h"
#include "ztunnel/proxy/relay.h"

namespace warren {
namespace {

using namespace std::chrono_literals;

class LoopThread {
 public:
  LoopThread() {
    auto l = io::EventLoop::create();
    EXPECT_TRUE(l.ok());
    loop = std::move(*l);
    thread = std::thread([this] { loop->run(); });
  }
  ~LoopThread() {
    loop->stop();
    thread.join();
  }
  // Runs fn on the loop and waits for it.
  template <typename F>
  auto call(F fn) {
    std::promise<decltype(fn())> p;
    auto f = p.get_future();
    loop->post([&] {
      if constexpr (std::is_void_v<decltype(fn())>) {
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

UniqueFd listener(int backlog = 128) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(::listen(fd.get(), backlog), 0);
  return fd;
}

sockaddr_storage addressOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss;
}

UniqueFd blockingConnect(const sockaddr_storage& to) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(sockaddr_in)), 0);
  return fd;
}

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Two connected pairs: client<->relayA and relayB<->server; the relay joins A and B.
struct RelayRig {
  UniqueFd client, server;
  UniqueFd relayA, relayB;
  RelayRig() {
    UniqueFd l1 = listener(), l2 = listener();
    client = blockingConnect(addressOf(l1.get()));
    relayA = UniqueFd(::accept4(l1.get(), nullptr, nullptr, SOCK_CLOEXEC));
    relayB = blockingConnect(addressOf(l2.get()));
    server = UniqueFd(::accept4(l2.get(), nullptr, nullptr, SOCK_CLOEXEC));
    setNonBlocking(relayA.get());
    setNonBlocking(relayB.get());
  }
};

size_t fdCount() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string readAll(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string randomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(EventLoop, PostFromAnotherThreadRunsOnTheLoop) {
  LoopThread lt;
  std::promise<bool> onLoop;
  std::thread([&] { lt.loop->post([&] { onLoop.set_value(lt.loop->inLoopThread()); }); }).join();
  EXPECT_TRUE(onLoop.get_future().get());
}

TEST(EventLoop, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  LoopThread lt;
  std::vector<int> order;
  std::promise<void> done;
  lt.call([&] {
    lt.loop->addTimer(30ms, [&] { order.push_back(3); });
    uint64_t cancelled = lt.loop->addTimer(10ms, [&] { order.push_back(99); });
    lt.loop->addTimer(5ms, [&] { order.push_back(1); });
    lt.loop->addTimer(20ms, [&] { order.push_back(2); });
    lt.loop->addTimer(40ms, [&] { done.set_value(); });
    lt.loop->cancelTimer(cancelled);
  });
  done.get_future().wait();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoop, UnwatchingAnotherFdWithAnEventPendingInTheSameBatchIsSafe) {
  LoopThread lt;
  int p1[2], p2[2];
  ASSERT_EQ(::pipe(p1), 0);
  ASSERT_EQ(::pipe(p2), 0);
  std::atomic<int> calls{0};
  std::promise<void> done;
  lt.call([&] {
    // Whichever callback runs first removes the other: the other must not run.
    (void)lt.loop->watch(p1[0], EPOLLIN, [&](uint32_t) {
      calls++;
      lt.loop->unwatch(p1[0]);
      lt.loop->unwatch(p2[0]);
      lt.loop->addTimer(20ms, [&] { done.set_value(); });
    });
    (void)lt.loop->watch(p2[0], EPOLLIN, [&](uint32_t) {
      calls++;
      lt.loop->unwatch(p1[0]);
      lt.loop->unwatch(p2[0]);
      lt.loop->addTimer(20ms, [&] { done.set_value(); });
    });
    // Both readable before the loop's next epoll_wait: one batch.
    ASSERT_EQ(::write(p1[1], "x", 1), 1);
    ASSERT_EQ(::write(p2[1], "x", 1), 1);
  });
  done.get_future().wait();
  EXPECT_EQ(calls.load(), 1);
  for (int fd : {p1[0], p1[1], p2[0], p2[1]}) ::close(fd);
}

TEST(AsyncConnect, ConnectsRefusesAndTimesOut) {
  LoopThread lt;
  UniqueFd l = listener();
  auto connect = [&](const sockaddr_storage& to, std::chrono::milliseconds timeout) {
    std::promise<Result<UniqueFd>> p;
    lt.call([&] {
      auto s = io::tcpSocket(AF_INET, 0);
      ASSERT_TRUE(s.ok());
      io::asyncConnect(*lt.loop, std::move(*s), to, timeout, [&](Result<UniqueFd> r) { p.set_value(std::move(r)); });
    });
    return p.get_future().get();
  };
  EXPECT_TRUE(connect(addressOf(l.get()), 2s).ok());

  sockaddr_storage closed;
  {
    UniqueFd gone = listener();
    closed = addressOf(gone.get());
  }
  auto refused = connect(closed, 2s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ECONNREFUSED);

  // A listener whose accept queue is full drops further SYNs: the connect hangs
  // in SYN_SENT on loopback, and only the timer ends it.
  UniqueFd full = listener(0);
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 4; ++i) {
    UniqueFd f(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_storage to = addressOf(full.get());
    ::connect(f.get(), reinterpret_cast<sockaddr*>(&to), sizeof(sockaddr_in));
    fillers.push_back(std::move(f));
  }
  auto start = std::chrono::steady_clock::now();
  auto timedOut = connect(addressOf(full.get()), 200ms);
  ASSERT_FALSE(timedOut.ok());
  EXPECT_EQ(timedOut.error().code, ETIMEDOUT);
  EXPECT_NE(timedOut.error().message.find("timed out after 200 ms"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);
}

TEST(Relay, CopiesEightMegabytesEachWayIntact) {
  LoopThread lt;
  RelayRig rig;
  std::promise<proxy::RelayStats> stats;
  lt.call([&] {
    proxy::Relay::start(*lt.loop, std::move(rig.relayA), std::move(rig.relayB),
                        [&](const proxy::RelayStats& s) { stats.set_value(s); });
  });
  const std::string up = randomBytes(8 << 20, 1), down = randomBytes(8 << 20, 2);
  std::string gotUp, gotDown;
  std::thread serverSide([&] {
    std::thread w([&] {
      writeAll(rig.server.get(), down);
      ::shutdown(rig.server.get(), SHUT_WR);
    });
    gotUp = readAll(rig.server.get());
    w.join();
  });
  std::thread w([&] {
    writeAll(rig.client.get(), up);
    ::shutdown(rig.client.get(), SHUT_WR);
  });
  gotDown = readAll(rig.client.get());
  w.join();
  serverSide.join();
  EXPECT_TRUE(gotUp == up);
  EXPECT_TRUE(gotDown == down);
  auto s = stats.get_future().get();
  EXPECT_EQ(s.bytesAtoB, up.size());
  EXPECT_EQ(s.bytesBtoA, down.size());
  EXPECT_EQ(s.endReason, "closed");
}

TEST(Relay, HalfCloseLetsTheReplyThrough) {
  LoopThread lt;
  RelayRig rig;
  std::promise<void> done;
  lt.call([&] {
    proxy::Relay::start(*lt.loop, std::move(rig.relayA), std::move(rig.relayB),
                        [&](const proxy::RelayStats&) { done.set_value(); });
  });
  ASSERT_TRUE(writeAll(rig.client.get(), "request"));
  ::shutdown(rig.client.get(), SHUT_WR);  // "that's all I'm sending"
  EXPECT_EQ(readAll(rig.server.get()), "request");  // server sees EOF after the request
  ASSERT_TRUE(writeAll(rig.server.get(), "reply after EOF"));
  ::shutdown(rig.server.get(), SHUT_WR);
  EXPECT_EQ(readAll(rig.client.get()), "reply after EOF");
  done.get_future().wait();
}

TEST(Relay, AResetOnOneSideBecomesAResetOnTheOther) {
  LoopThread lt;
  RelayRig rig;
  std::promise<proxy::RelayStats> stats;
  lt.call([&] {
    proxy::Relay::start(*lt.loop, std::move(rig.relayA), std::move(rig.relayB),
                        [&](const proxy::RelayStats& s) { stats.set_value(s); });
  });
  linger lg{1, 0};
  ::setsockopt(rig.server.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  rig.server.reset();
  auto s = stats.get_future().get();
  EXPECT_EQ(s.endReason, "reset by b");
  char c;
  EXPECT_EQ(::read(rig.client.get(), &c, 1), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST(Relay, ASlowReaderPushesBackInsteadOfGrowingTheBuffer) {
  LoopThread lt;
  RelayRig rig;
  constexpr size_t kBuffer = 16 * 1024;
  std::shared_ptr<proxy::Relay> relay;
  std::promise<void> done;
  lt.call([&] {
    relay = proxy::Relay::start(*lt.loop, std::move(rig.relayA), std::move(rig.relayB),
                                [&](const proxy::RelayStats&) { done.set_value(); }, kBuffer);
  });
  // The server does not read; the client writes 16 MiB without blocking until the
  // kernel buffers and the relay's bounded buffer are all full.
  setNonBlocking(rig.client.get());
  const std::string data = randomBytes(16 << 20, 3);
  size_t written = 0;
  for (;;) {
    ssize_t n = ::send(rig.client.get(), data.data() + written, data.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (errno == EAGAIN) {
      // Let the relay move what it can; stop once nothing more fits.
      size_t before = written;
      pollfd p{rig.client.get(), POLLOUT, 0};
      if (::poll(&p, 1, 300) <= 0 && written == before) break;
      continue;
    }
    FAIL() << std::strerror(errno);
  }
  EXPECT_LT(written, data.size()) << "the writer was never pushed back";
  EXPECT_LE(lt.call([&] { return relay->bufferedBytes(); }), kBuffer);

  // Now the reader catches up: everything arrives intact.
  std::string got;
  std::thread rest([&] {
    size_t off = written;
    int flags = ::fcntl(rig.client.get(), F_GETFL);
    ::fcntl(rig.client.get(), F_SETFL, flags & ~O_NONBLOCK);
    writeAll(rig.client.get(), data.substr(off));
    ::shutdown(rig.client.get(), SHUT_WR);
  });
  std::thread drain([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(rig.server.get(), buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
    ::shutdown(rig.server.get(), SHUT_WR);
  });
  rest.join();
  drain.join();
  EXPECT_TRUE(got == data);
  done.get_future().wait();
  lt.call([&] { relay.reset(); });
}

TEST(Relay, TwoHundredConcurrentRelaysCompleteAndCloseEveryFd) {
  size_t before = fdCount();
  {
    LoopThread lt;
    std::vector<std::unique_ptr<RelayRig>> rigs;
    std::atomic<int> finished{0};
    std::promise<void> all;
    for (int i = 0; i < 200; ++i) rigs.push_back(std::make_unique<RelayRig>());
    lt.call([&] {
      for (auto& r : rigs)
        proxy::Relay::start(*lt.loop, std::move(r->relayA), std::move(r->relayB), [&](const proxy::RelayStats&) {
          if (++finished == 200) all.set_value();
        });
    });
    std::vector<std::thread> threads;
    for (int i = 0; i < 200; ++i)
      threads.emplace_back([&, i] {
        auto& r = *rigs[i];
        std::string msg = "conn-" + std::to_string(i);
        writeAll(r.client.get(), msg);
        ::shutdown(r.client.get(), SHUT_WR);
        std::string got = readAll(r.server.get());
        writeAll(r.server.get(), got);
        ::shutdown(r.server.get(), SHUT_WR);
        EXPECT_EQ(readAll(r.client.get()), msg);
      });
    for (auto& t : threads) t.join();
    all.get_future().wait();
  }
  EXPECT_EQ(fdCount(), before);
}

}  // namespace
}  // namespace warren
