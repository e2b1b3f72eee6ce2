// Sockets land in the netns they were created in; ScopedNetns returns the thread
// to where it was. Needs root (unshare(CLONE_NEWNET)).

#include "common/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <thread>

#include <gtest/gtest.h>

namespace warren {
namespace {

// A fresh netns, made on a scratch thread so this thread's netns is untouched.
UniqueFd makeNetns() {
  UniqueFd out;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) == 0) out = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
  return out;
}

TEST(Netns, SocketInNetnsLivesThereAndTheThreadComesBack) {
  UniqueFd other = makeNetns();
  ASSERT_TRUE(other) << "unshare(CLONE_NEWNET) needs root";
  auto otherCookie = netnsCookie(other.get());
  ASSERT_TRUE(otherCookie.ok()) << otherCookie.error().message;

  UniqueFd here(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto hereCookie = socketNetnsCookie(here.get());
  ASSERT_TRUE(hereCookie.ok());
  EXPECT_NE(*hereCookie, *otherCookie);

  auto s = socketInNetns(other.get(), AF_INET, SOCK_STREAM);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(*socketNetnsCookie(s->get()), *otherCookie);

  // Back home afterwards: new sockets are created here again.
  UniqueFd after(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(*socketNetnsCookie(after.get()), *hereCookie);
}

TEST(Netns, EnteringWithAHeldHomeReturnsThereAndMovesOnce) {
  UniqueFd other = makeNetns();
  ASSERT_TRUE(other) << "unshare(CLONE_NEWNET) needs root";
  auto home = homeNetns();
  ASSERT_TRUE(home.ok()) << home.error().message;
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const uint64_t hereCookie = *socketNetnsCookie(probe.get());
  const uint64_t otherCookie = *netnsCookie(other.get());
  for (int i = 0; i < 3; ++i) {  // the held fd serves every entry
    auto in = ScopedNetns::enter(other.get(), home->get());
    ASSERT_TRUE(in.ok()) << in.error().message;
    ScopedNetns moved = std::move(*in);  // the moved-from one must not switch back early
    UniqueFd inside(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(*socketNetnsCookie(inside.get()), otherCookie);
  }
  UniqueFd after(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(*socketNetnsCookie(after.get()), hereCookie);
  EXPECT_GE(::fcntl(home->get(), F_GETFD), 0) << "the caller's home fd was closed";
}

TEST(Netns, OpenNetnsNamesTheMissingPath) {
  auto r = openNetns("/var/run/netns/warren-does-not-exist");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("warren-does-not-exist"), std::string::npos);
  EXPECT_EQ(r.error().code, ENOENT);
}

}  // namespace
}  // namespace warren
