// acceptOrShed when the process is out of descriptors: the queued connection is
// reset and the listener stops being readable (a plain accept would leave it
// queued and the loop spinning). Each test runs in its own process (ctest runs
// one gtest filter per process), so lowering RLIMIT_NOFILE here is contained.

#include "io/accept.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <vector>

#include <gtest/gtest.h>

#include "io/tcp.h"

namespace warren::io {
namespace {

sockaddr_storage loopback(uint16_t port) {
  sockaddr_storage ss{};
  auto& in = reinterpret_cast<sockaddr_in&>(ss);
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ss;
}

uint16_t portOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

UniqueFd connectTo(uint16_t port) {
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss = loopback(port);
  EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in)), 0);
  return c;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(AcceptOrShed, AcceptsAndReportsAnEmptyQueue) {
  auto l = listenTcp(loopback(0), 0, false, 16);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(acceptOrShed(l->get()).outcome, AcceptOutcome::WouldBlock);
  UniqueFd client = connectTo(portOf(l->get()));
  ASSERT_TRUE(readable(l->get()));
  Accepted a = acceptOrShed(l->get());
  ASSERT_EQ(a.outcome, AcceptOutcome::Accepted);
  EXPECT_TRUE(a.fd);
  EXPECT_EQ(::fcntl(a.fd.get(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
}

TEST(AcceptOrShed, OutOfDescriptorsTheConnectionIsResetAndTheListenerGoesQuiet) {
  auto l = listenTcp(loopback(0), 0, false, 16);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(acceptOrShed(l->get()).outcome, AcceptOutcome::WouldBlock);  // arms the spare
  UniqueFd client = connectTo(portOf(l->get()));

  // Use up every descriptor the limit allows.
  rlimit r{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  rlimit low = r;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<UniqueFd> hog;
  for (;;) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    hog.emplace_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);
  ASSERT_TRUE(readable(l->get()));

  const uint64_t before = shedConnections();
  Accepted a = acceptOrShed(l->get());
  EXPECT_EQ(a.outcome, AcceptOutcome::Shed);
  EXPECT_EQ(shedConnections(), before + 1);
  EXPECT_FALSE(readable(l->get())) << "the queued connection is gone: nothing left to wake the loop";

  hog.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &r), 0);
  // The client was reset, not left hanging.
  char b;
  pollfd p{client.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_EQ(::recv(client.get(), &b, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  // And the next connection is accepted as usual (the spare is back).
  UniqueFd next = connectTo(portOf(l->get()));
  EXPECT_EQ(acceptOrShed(l->get()).outcome, AcceptOutcome::Accepted);
}

TEST(RaiseFileLimit, TheSoftLimitBecomesTheHardOne) {
  rlimit r{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  rlimit low = r;
  low.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(raiseFileLimit(), static_cast<uint64_t>(r.rlim_max));
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  EXPECT_EQ(r.rlim_cur, r.rlim_max);
}

}  // namespace
}  // namespace warren::io
