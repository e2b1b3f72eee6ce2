// TCP helpers: address text, listeners, sockets, and asyncConnect's three outcomes.

#include <netinet/tcp.h>
#include <poll.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <vector>

#include "io/tcp.h"
#include "tests/unit/io/test_util.h"

namespace warren {
namespace {

using namespace std::chrono_literals;
using iotest::LoopThread;

bool haveIpv6Loopback() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return fd && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
}

TEST(Sockaddr, FormatsAndParsesBothFamilies) {
  for (const char* text : {"10.0.0.1:80", "127.0.0.1:0", "[::1]:80", "[fd00::1:2]:65535", "[::ffff:10.1.2.3]:8080"}) {
    auto ss = io::parseHostPort(text);
    ASSERT_TRUE(ss.ok()) << text << ": " << ss.error().message;
    EXPECT_EQ(io::formatSockaddr(*ss), text);
  }
  auto v4 = io::parseHostPort("192.168.1.2:443");
  ASSERT_TRUE(v4.ok());
  ASSERT_EQ(v4->ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&*v4)->sin_port), 443);
  EXPECT_EQ(io::sockaddrLength(*v4), sizeof(sockaddr_in));

  sockaddr_storage none{};
  EXPECT_EQ(io::formatSockaddr(none), "<address family 0>");
  EXPECT_EQ(io::sockaddrLength(none), 0u);
}

TEST(Sockaddr, IpPortAndWithPortForBothFamilies) {
  auto v4 = io::parseHostPort("10.244.2.5:8080");
  auto v6 = io::parseHostPort("[fd00::5]:8080");
  ASSERT_TRUE(v4.ok() && v6.ok());
  EXPECT_EQ(io::formatIp(*v4), "10.244.2.5");
  EXPECT_EQ(io::formatIp(*v6), "fd00::5");  // no brackets: the form pod IPs are kept in
  EXPECT_EQ(io::portOf(*v4), 8080);
  EXPECT_EQ(io::portOf(*v6), 8080);
  EXPECT_EQ(io::formatSockaddr(io::withPort(*v4, 15008)), "10.244.2.5:15008");
  EXPECT_EQ(io::formatSockaddr(io::withPort(*v6, 15008)), "[fd00::5]:15008");
  EXPECT_EQ(io::portOf(*v4), 8080);  // withPort copies

  sockaddr_storage none{};
  EXPECT_EQ(io::formatIp(none), "");
  EXPECT_EQ(io::portOf(none), 0);
  EXPECT_EQ(io::withPort(none, 1).ss_family, 0);
}

TEST(Sockaddr, RejectsWhatIsNotAnIpAndPort) {
  for (const char* text :
       {"", "10.0.0.1", "10.0.0.1:", ":80", "10.0.0.1:65536", "10.0.0.1:8x", "10.0.0.1:-1", "::1:80", "[::1]",
        "[::1]80", "[::1:80", "[10.0.0.1]:80", "[]:80", "localhost:80", "10.0.0.256:80", " 10.0.0.1:80"}) {
    auto r = io::parseHostPort(text);
    EXPECT_FALSE(r.ok()) << "accepted \"" << text << "\"";
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
    }
  }
}

TEST(TcpSocket, IsNonBlockingNoDelayAndMarked) {
  auto s = io::tcpSocket(AF_INET, 0);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(::fcntl(s->get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(s->get(), F_GETFD) & FD_CLOEXEC);
  int nodelay = 0;
  socklen_t len = sizeof(nodelay);
  ::getsockopt(s->get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
  EXPECT_EQ(nodelay, 1);

  auto marked = io::tcpSocket(AF_INET, 0x5a5a);
  if (!marked.ok() && marked.error().code == EPERM) GTEST_SKIP() << "SO_MARK needs CAP_NET_ADMIN";
  ASSERT_TRUE(marked.ok()) << marked.error().message;
  uint32_t mark = 0;
  len = sizeof(mark);
  ::getsockopt(marked->get(), SOL_SOCKET, SO_MARK, &mark, &len);
  EXPECT_EQ(mark, 0x5a5au);
}

TEST(SetNonBlocking, SetsTheFlag) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_FALSE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK);
  ASSERT_TRUE(io::setNonBlocking(fd.get()).ok());
  EXPECT_TRUE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK);
  auto bad = io::setNonBlocking(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, EBADF);
}

TEST(ListenTcp, BindsReusesPortOnlyWhenAskedAndReportsTheAddress) {
  auto first = io::listenTcp(iotest::loopback4(), 0, /*reuseport=*/true, 16);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(::fcntl(first->get(), F_GETFL) & O_NONBLOCK);
  const sockaddr_storage bound = iotest::localAddress(first->get());
  ASSERT_NE(iotest::portOf(bound), 0);

  auto sibling = io::listenTcp(bound, 0, /*reuseport=*/true, 16);
  EXPECT_TRUE(sibling.ok()) << "SO_REUSEPORT should let a second listener share the port";

  auto conflict = io::listenTcp(bound, 0, /*reuseport=*/false, 16);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, EADDRINUSE);
  EXPECT_EQ(conflict.error().message.rfind("bind " + io::formatSockaddr(bound) + ": ", 0), 0u)
      << conflict.error().message;

  // A client can connect to it.
  UniqueFd c = iotest::blockingConnect(bound);
  pollfd both[2] = {{first->get(), POLLIN, 0}, {sibling.ok() ? sibling->get() : -1, POLLIN, 0}};
  EXPECT_EQ(::poll(both, 2, 5000), 1);  // exactly one of the reuseport pair gets it
}

TEST(ListenTcp, Ipv6IsV6OnlySoBothFamiliesCanShareAPort) {
  if (!haveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  auto any6 = io::parseHostPort("[::]:0");
  ASSERT_TRUE(any6.ok());
  // The kernel picks the IPv6 port among the free IPv6 ones only: an unrelated
  // IPv4 socket of another test running beside this one may hold the same number
  // (seen once in 355 parallel tests). So a few picks; with a listener that is not
  // v6-only, the IPv4 bind fails on every one of them.
  std::string lastError;
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto l6 = io::listenTcp(*any6, 0, false, 16);
    ASSERT_TRUE(l6.ok()) << l6.error().message;
    int v6only = 0;
    socklen_t len = sizeof(v6only);
    ::getsockopt(l6->get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
    EXPECT_EQ(v6only, 1);
    const uint16_t port = iotest::portOf(iotest::localAddress(l6->get()));
    auto l4 = io::listenTcp(*io::parseHostPort("0.0.0.0:" + std::to_string(port)), 0, false, 16);
    if (l4.ok()) return;
    lastError = l4.error().message;
  }
  ADD_FAILURE() << "no IPv6 port of ten could be shared with IPv4: " << lastError;
}

TEST(ListenTcp, RejectsANonIpAddress) {
  sockaddr_storage none{};
  auto r = io::listenTcp(none, 0, false, 16);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not an IPv4 or IPv6 address"), std::string::npos);
}

// Runs asyncConnect on the loop and returns its result; checks on the way that
// `done` ran once, on the loop thread, and not inside asyncConnect.
Result<UniqueFd> connectVia(LoopThread& lt, const sockaddr_storage& to, std::chrono::milliseconds timeout) {
  std::promise<Result<UniqueFd>> result;
  std::atomic<int> calls{0};
  std::atomic<bool> inside{false}, reentrant{false}, offLoop{false};
  lt.call([&] {
    auto s = io::tcpSocket(to.ss_family, 0);
    EXPECT_TRUE(s.ok());
    inside = true;
    io::asyncConnect(*lt.loop, std::move(*s), to, timeout, [&](Result<UniqueFd> r) {
      if (inside) reentrant = true;
      if (!lt.loop->inLoopThread()) offLoop = true;
      if (++calls == 1) result.set_value(std::move(r));
    });
    inside = false;
  });
  auto r = result.get_future().get();
  // Nothing of the attempt is left on the loop: a second `done` is impossible.
  EXPECT_EQ(lt.call([&] { return lt.loop->watchCount() + lt.loop->timerCount(); }), 0u);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(reentrant.load()) << "done ran inside asyncConnect";
  EXPECT_FALSE(offLoop.load());
  return r;
}

TEST(AsyncConnect, Connects) {
  LoopThread lt;
  UniqueFd l = iotest::blockingListener();
  const sockaddr_storage to = iotest::localAddress(l.get());
  auto r = connectVia(lt, to, 2s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  ASSERT_EQ(::getpeername(r->get(), reinterpret_cast<sockaddr*>(&peer), &len), 0);
  EXPECT_EQ(io::formatSockaddr(peer), io::formatSockaddr(to));
}

TEST(AsyncConnect, ConnectsOverIpv6) {
  if (!haveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  LoopThread lt;
  auto l = io::listenTcp(*io::parseHostPort("[::1]:0"), 0, false, 16);
  ASSERT_TRUE(l.ok());
  auto r = connectVia(lt, iotest::localAddress(l->get()), 2s);
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST(AsyncConnect, ReportsRefusedWithTheTarget) {
  LoopThread lt;
  sockaddr_storage closed;
  {
    UniqueFd gone = iotest::blockingListener();
    closed = iotest::localAddress(gone.get());
  }
  const size_t fdsBefore = iotest::fdCount();
  auto r = connectVia(lt, closed, 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ECONNREFUSED);
  EXPECT_EQ(r.error().message.rfind("connect to " + io::formatSockaddr(closed) + ": ", 0), 0u) << r.error().message;
  EXPECT_EQ(iotest::fdCount(), fdsBefore) << "the failed socket was not closed";
}

TEST(AsyncConnect, RejectsANonIpTargetAsynchronously) {
  LoopThread lt;
  sockaddr_storage none{};
  std::promise<Result<UniqueFd>> result;
  bool inside = false, reentrant = false;  // loop thread only
  lt.call([&] {
    auto s = io::tcpSocket(AF_INET, 0);
    ASSERT_TRUE(s.ok());
    inside = true;
    io::asyncConnect(*lt.loop, std::move(*s), none, 1s, [&](Result<UniqueFd> res) {
      reentrant = inside;
      result.set_value(std::move(res));
    });
    inside = false;
  });
  auto bad = result.get_future().get();
  EXPECT_FALSE(lt.call([&] { return reentrant; }));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not an IP address"), std::string::npos);
}

// A listener whose accept queue is full drops further SYNs, so a connect to it stays
// in SYN_SENT (the kernel's first SYN retry is a second away) and only the timer can
// end it: a reliable, loopback-only timeout.
TEST(AsyncConnect, TimesOutAgainstAListenerThatDropsSyns) {
  LoopThread lt;
  UniqueFd full = iotest::blockingListener(/*backlog=*/0);
  const sockaddr_storage to = iotest::localAddress(full.get());
  std::vector<UniqueFd> fillers;
  fillers.push_back(iotest::blockingConnect(to));  // takes the only accept-queue slot
  for (int i = 0; i < 3; ++i) {
    UniqueFd f(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(f.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(sockaddr_in));
    fillers.push_back(std::move(f));
  }
  const size_t fdsBefore = iotest::fdCount();
  const auto start = std::chrono::steady_clock::now();
  auto r = connectVia(lt, to, 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok()) << "connected although the accept queue was full";
  EXPECT_EQ(r.error().code, ETIMEDOUT);
  EXPECT_EQ(r.error().message, "connect to " + io::formatSockaddr(to) + " timed out after 200 ms");
  EXPECT_GE(took, 200ms);
  EXPECT_EQ(iotest::fdCount(), fdsBefore) << "the abandoned socket was not closed";
}

// A connect given up by its caller (an HBONE stream reset while the tunnel dials
// the app): the socket closes at once and `done` reports ECANCELED, once.
TEST(AsyncConnect, CancelClosesAPendingConnectAndReportsItOnce) {
  LoopThread lt;
  UniqueFd full = iotest::blockingListener(/*backlog=*/0);
  const sockaddr_storage to = iotest::localAddress(full.get());
  UniqueFd filler = iotest::blockingConnect(to);  // the only accept-queue slot: SYNs are dropped now
  const size_t fdsBefore = iotest::fdCount();
  std::atomic<int> calls{0};
  std::optional<Result<UniqueFd>> result;  // loop thread only
  io::ConnectHandle handle;
  lt.call([&] {
    auto s = io::tcpSocket(AF_INET, 0);
    ASSERT_TRUE(s.ok());
    handle = io::asyncConnectCancellable(*lt.loop, std::move(*s), to, 10s, [&](Result<UniqueFd> r) {
      calls++;
      result.emplace(std::move(r));
    });
  });
  EXPECT_TRUE(lt.call([&] { return handle.pending(); }));
  lt.call([&] { handle.cancel("the stream was reset"); });
  ASSERT_EQ(calls.load(), 1) << "done runs within cancel()";
  lt.call([&] {
    ASSERT_FALSE(result->ok());
    EXPECT_EQ(result->error().code, ECANCELED);
    EXPECT_EQ(result->error().message, "connect to " + io::formatSockaddr(to) + " cancelled: the stream was reset");
    EXPECT_FALSE(handle.pending());
    handle.cancel("again");  // no-op
  });
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(iotest::fdCount(), fdsBefore) << "the cancelled socket was not closed";
  EXPECT_EQ(lt.call([&] { return lt.loop->watchCount() + lt.loop->timerCount(); }), 0u);
}

TEST(AsyncConnect, CancelAfterTheConnectCompletedChangesNothing) {
  LoopThread lt;
  UniqueFd l = iotest::blockingListener();
  const sockaddr_storage to = iotest::localAddress(l.get());
  std::promise<Result<UniqueFd>> result;
  std::atomic<int> calls{0};
  io::ConnectHandle handle;
  lt.call([&] {
    auto s = io::tcpSocket(AF_INET, 0);
    ASSERT_TRUE(s.ok());
    handle = io::asyncConnectCancellable(*lt.loop, std::move(*s), to, 2s, [&](Result<UniqueFd> r) {
      if (++calls == 1) result.set_value(std::move(r));
    });
  });
  auto r = result.get_future().get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  lt.call([&] { handle.cancel("too late"); });
  EXPECT_EQ(calls.load(), 1);
  int err = -1;
  socklen_t len = sizeof(err);
  ASSERT_EQ(::getsockopt(r->get(), SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0) << "the connected socket is the caller's, untouched";
}

}  // namespace
}  // namespace warren
