// EventLoop: cross-thread posting, timers, and watches that are removed (or whose
// fd number is reused) while their events are still pending in the same batch.

#include <sys/eventfd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/io/test_util.h"

namespace warren {
namespace {

using namespace std::chrono_literals;
using iotest::LoopThread;

TEST(EventLoop, PostsFromManyThreadsRunOnTheLoopInOrder) {
  LoopThread lt;
  constexpr int kThreads = 4, kPerThread = 2000;
  std::map<int, std::vector<int>> seen;  // touched on the loop thread only
  std::atomic<bool> allOnLoop{true};
  std::promise<void> all;
  int total = 0;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        lt.loop->post([&, t, i] {
          if (!lt.loop->inLoopThread()) allOnLoop = false;
          seen[t].push_back(i);
          if (++total == kThreads * kPerThread) all.set_value();
        });
    });
  for (auto& p : posters) p.join();
  all.get_future().wait();
  EXPECT_TRUE(allOnLoop);
  EXPECT_FALSE(lt.loop->inLoopThread());
  for (int t = 0; t < kThreads; ++t) {
    std::vector<int> want(kPerThread);
    for (int i = 0; i < kPerThread; ++i) want[static_cast<size_t>(i)] = i;
    EXPECT_EQ(seen[t], want) << "thread " << t;
  }
}

TEST(EventLoop, DeferredWorkRunsAtTheEndOfTheRoundAndDoesNotWait) {
  auto loop = io::EventLoop::create();
  ASSERT_TRUE(loop);
  std::vector<int> order;
  (*loop)->defer([&] {
    order.push_back(1);
    (*loop)->defer([&] { order.push_back(3); });  // deferred by deferred work: next round
  });
  (*loop)->defer([&] { order.push_back(2); });
  // Deferred work makes the round wait for nothing: an hour's wait returns at once.
  const auto start = std::chrono::steady_clock::now();
  (*loop)->runOnce(std::chrono::hours(1));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  (*loop)->runOnce(std::chrono::hours(1));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // With nothing deferred, a round waits for events up to its bound.
  const auto idle = std::chrono::steady_clock::now();
  (*loop)->runOnce(50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - idle, 40ms);
}

TEST(EventLoop, RoundEndWorkRunsAfterTheRoundsDeferredWork) {
  auto loop = io::EventLoop::create();
  ASSERT_TRUE(loop);
  std::vector<std::string> order;
  // Queued first, still run last: after every deferred task of the round, however
  // they were queued (a connection's one send after its streams' events).
  (*loop)->atRoundEnd([&] {
    order.push_back("flush");
    (*loop)->atRoundEnd([&] { order.push_back("next flush"); });  // next round
  });
  (*loop)->defer([&] {
    order.push_back("stream 1");
    (*loop)->defer([&] { order.push_back("stream 3"); });  // next round
  });
  (*loop)->defer([&] { order.push_back("stream 2"); });
  const auto start = std::chrono::steady_clock::now();
  (*loop)->runOnce(std::chrono::hours(1));
  EXPECT_EQ(order, (std::vector<std::string>{"stream 1", "stream 2", "flush"}));
  (*loop)->runOnce(std::chrono::hours(1));  // queued round-end work waits for nothing either
  EXPECT_EQ(order, (std::vector<std::string>{"stream 1", "stream 2", "flush", "stream 3", "next flush"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(EventLoop, StopFromAnotherThreadEndsRun) {
  auto l = io::EventLoop::create();
  ASSERT_TRUE(l.ok());
  std::promise<void> returned;
  std::thread t([&] {
    (*l)->run();
    returned.set_value();
  });
  std::promise<void> running;
  (*l)->post([&] { running.set_value(); });
  running.get_future().wait();
  (*l)->stop();
  returned.get_future().wait();
  t.join();
}

TEST(EventLoop, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  LoopThread lt;
  std::vector<std::string> order;  // loop thread only
  std::promise<void> done;
  uint64_t second = 0;
  lt.call([&] {
    auto& loop = *lt.loop;
    loop.addTimer(30ms, [&] { order.push_back("30"); });
    uint64_t cancelled = loop.addTimer(10ms, [&] { order.push_back("cancelled"); });
    loop.addTimer(5ms, [&] { order.push_back("5"); });
    loop.addTimer(20ms, [&] { order.push_back("20"); });
    // Same deadline: the first added runs first, and may cancel the second.
    loop.addTimer(15ms, [&] {
      order.push_back("15a");
      loop.cancelTimer(second);
    });
    second = loop.addTimer(15ms, [&] { order.push_back("15b"); });
    // A timer may add timers; zero delay runs in a later round, not re-entrantly.
    loop.addTimer(25ms, [&] {
      order.push_back("25");
      loop.addTimer(0ms, [&] { order.push_back("25+0"); });
    });
    loop.addTimer(40ms, [&] { done.set_value(); });
    loop.cancelTimer(cancelled);
    loop.cancelTimer(cancelled);  // twice: ignored
    loop.cancelTimer(12345);      // unknown: ignored
  });
  done.get_future().wait();
  // "25+0" runs after "25"; whether before "30" depends on how late the loop thread
  // woke (a loaded machine may find both due at once), so it is checked apart.
  auto zero = std::find(order.begin(), order.end(), "25+0");
  ASSERT_NE(zero, order.end()) << "the zero-delay timer never ran";
  EXPECT_GT(zero - order.begin(), std::find(order.begin(), order.end(), "25") - order.begin());
  order.erase(zero);
  EXPECT_EQ(order, (std::vector<std::string>{"5", "15a", "20", "25", "30"}));
  EXPECT_EQ(lt.call([&] { return lt.loop->timerCount(); }), 0u);
}

TEST(EventLoop, CancellingATimerFreesItsClosureAtOnce) {
  LoopThread lt;
  auto owned = std::make_shared<int>(7);
  std::weak_ptr<int> watch = owned;
  uint64_t id = lt.call([&] { return lt.loop->addTimer(1h, [o = std::move(owned)] { (void)o; }); });
  EXPECT_FALSE(watch.expired());
  lt.call([&] { lt.loop->cancelTimer(id); });
  EXPECT_TRUE(watch.expired());
}

TEST(EventLoop, TimerIsNotEarly) {
  LoopThread lt;
  std::promise<std::chrono::steady_clock::time_point> fired;
  auto start = std::chrono::steady_clock::now();
  lt.call([&] { lt.loop->addTimer(50ms, [&] { fired.set_value(std::chrono::steady_clock::now()); }); });
  EXPECT_GE(fired.get_future().get() - start, 50ms);
}

// Two eventfds are readable before one epoll_wait, so both events arrive in one
// batch. Whichever callback runs first unwatches the other fd and re-uses its number
// for a new, not readable, eventfd with a new watch. The stale event still in the
// batch must be dropped: delivering it would call the new watch (or, with a raw
// pointer in the epoll data, a destroyed callback — ASan catches that).
TEST(EventLoop, EventsOfAWatchReplacedInTheSameBatchAreDropped) {
  LoopThread lt;
  int fds[2] = {::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK), ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK)};
  ASSERT_GE(fds[0], 0);
  ASSERT_GE(fds[1], 0);
  int firstCalls = 0, replacementCalls = 0;  // loop thread only
  std::promise<void> batchOver, replacementFired;
  lt.call([&] {
    for (int self = 0; self < 2; ++self) {
      const int mine = fds[self], other = fds[1 - self];
      auto st = lt.loop->watch(mine, EPOLLIN, [&, mine, other, payload = std::string(1000, 'x')](uint32_t) {
        ++firstCalls;
        lt.loop->unwatch(other);
        int fresh = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_EQ(::dup2(fresh, other), other);  // closes the old file, same number
        ::close(fresh);
        ASSERT_TRUE(lt.loop
                        ->watch(other, EPOLLIN,
                                [&, other](uint32_t) {
                                  uint64_t v;
                                  (void)!::read(other, &v, sizeof(v));  // level-triggered: drain
                                  if (++replacementCalls == 1) replacementFired.set_value();
                                })
                        .ok());
        lt.loop->unwatch(mine);
        // Runs the captures after unwatch destroyed the map entry: must still be alive.
        EXPECT_EQ(payload.size(), 1000u);
        // Posted now, so it runs after this whole batch.
        lt.loop->post([&] { batchOver.set_value(); });
      });
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
  });
  batchOver.get_future().wait();
  EXPECT_EQ(lt.call([&] { return firstCalls; }), 1);
  EXPECT_EQ(lt.call([&] { return replacementCalls; }), 0) << "a stale event reached the new watch";

  // The replacement watch itself works.
  ASSERT_EQ(lt.call([&] { return lt.loop->watchCount(); }), 1u);
  for (int fd : fds) {
    uint64_t one = 1;
    (void)!::write(fd, &one, sizeof(one));  // only the replacement is still watched
  }
  replacementFired.get_future().wait();
  lt.call([&] {
    for (int fd : fds) lt.loop->unwatch(fd);
  });
  for (int fd : fds) ::close(fd);
}

TEST(EventLoop, WatchErrorsAreReported) {
  LoopThread lt;
  int efd = ::eventfd(0, EFD_CLOEXEC);
  lt.call([&] {
    auto bad = lt.loop->watch(-1, EPOLLIN, [](uint32_t) {});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, EBADF);
    ASSERT_TRUE(lt.loop->watch(efd, EPOLLIN, [](uint32_t) {}).ok());
    auto twice = lt.loop->watch(efd, EPOLLIN, [](uint32_t) {});
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(twice.error().code, EEXIST);
    lt.loop->unwatch(efd);
    lt.loop->unwatch(efd);  // idempotent
    EXPECT_FALSE(lt.loop->modify(efd, EPOLLOUT).ok());
    EXPECT_EQ(lt.loop->watchCount(), 0u);
  });
  ::close(efd);
}

TEST(EventLoop, ModifyChangesTheEventsReported) {
  LoopThread lt;
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // always writable, not readable
  std::promise<uint32_t> first;
  lt.call([&] {
    ASSERT_TRUE(lt.loop
                    ->watch(efd, EPOLLIN,
                            [&](uint32_t ev) {
                              lt.loop->unwatch(efd);
                              first.set_value(ev);
                            })
                    .ok());
    ASSERT_TRUE(lt.loop->modify(efd, EPOLLOUT).ok());
  });
  EXPECT_EQ(first.get_future().get() & (EPOLLIN | EPOLLOUT), static_cast<uint32_t>(EPOLLOUT));
  ::close(efd);
}

}  // namespace
}  // namespace warren
