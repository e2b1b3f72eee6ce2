// HTTP/2 flow control of HBONE under stalled readers: the connection window is
// returned as DATA arrives (so a few stalled streams cannot freeze the others on
// their connection) while the process stays within its receive budget
// (hbone/receive_budget.h). Small windows keep the test quick; the shapes are those
// of the defaults (4 MiB streams, 16 MiB connection: four stalled streams froze the rest).

#include <fcntl.h>
#include <sys/socket.h>

#include "tests/support/hbone_fixture.h"

namespace warren::hbone {
namespace {

constexpr uint32_t kStreamWindow = 64u << 10;
constexpr uint32_t kConnectionWindow = 256u << 10;

class FlowControlTest : public HboneFixture {
 protected:
  explicit FlowControlTest(ReceiveBudget* budget = nullptr) {
    h2_.streamWindow = kStreamWindow;
    h2_.connectionWindow = kConnectionWindow;
    h2_.receiveBudget = budget;
  }

  // Opens n streams to a sink that does not read and writes into each until the
  // whole path (the sink's socket buffers, then the stream's window) is full.
  std::vector<Stream> stall(App& sink, int n) {
    std::vector<Stream> streams;
    for (int i = 0; i < n; ++i) {
      streams.push_back(open(sink.port(), dialFor(kServer)));
      ::fcntl(streams.back().app.get(), F_SETFL, O_NONBLOCK);
    }
    std::string chunk(64 * 1024, 'x');
    auto lastProgress = std::chrono::steady_clock::now();
    // No signal says "the path is full"; that nothing moves for a while is the sign.
    while (std::chrono::steady_clock::now() - lastProgress < 300ms) {
      bool moved = false;
      for (auto& s : streams) {
        ssize_t n = ::send(s.app.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n > 0) {
          written_ += n;
          moved = true;
        }
      }
      if (moved)
        lastProgress = std::chrono::steady_clock::now();
      else
        std::this_thread::sleep_for(5ms);
      if (written_ > (1ull << 30)) {
        ADD_FAILURE() << "the tunnel kept accepting data the reader never took";
        break;
      }
    }
    return streams;
  }

  // Every stalled stream's bytes arrive once the sink reads, and every stream ends.
  void drain(App& sink, std::vector<Stream>& streams) {
    sink.release();
    for (auto& s : streams) {
      ::fcntl(s.app.get(), F_SETFL, 0);
      ::shutdown(s.app.get(), SHUT_WR);
      EXPECT_EQ(iotest::readAll(s.app.get()), "");
    }
    for (auto& s : streams) EXPECT_EQ(s.result.get().endReason, "closed");
    EXPECT_EQ(sink.sunk_.load(), written_);
  }

  // An echo through a fresh stream on the same pooled connection, with a deadline.
  // Frozen past it, the sink is released so that everything drains and the test
  // fails instead of hanging.
  std::string echoWithin(App& sink, std::chrono::seconds limit) {
    App echo(App::Mode::Echo);
    auto s = open(echo.port(), dialFor(kServer));
    timeval tv{static_cast<time_t>(limit.count()), 0};
    ::setsockopt(s.app.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string got = roundTrip(s.app.get(), "still moving");
    if (got.empty()) {
      sink.release();
      ::setsockopt(s.app.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      iotest::readAll(s.app.get());
    }
    return got;
  }

  uint64_t written_ = 0;
};

TEST_F(FlowControlTest, StalledStreamsDoNotFreezeTheOtherStreamsOfTheirConnection) {
  App sink(App::Mode::Sink);
  // Stalled streams whose windows add up to well over the connection window: held
  // back as they were delivered, their bytes used it all up.
  static_assert(10 * kStreamWindow > 2 * kConnectionWindow);
  auto stalled = stall(sink, 10);
  EXPECT_EQ(echoWithin(sink, 10s), "still moving");
  EXPECT_EQ(lt_.call([&] { return pool_->counters().connectionsOpened; }), 1u);
  drain(sink, stalled);
  EXPECT_EQ(ReceiveBudget::process().held(), 0u);
}

class OverBudgetTest : public FlowControlTest {
 protected:
  OverBudgetTest() : FlowControlTest(&budget_) {}
  ReceiveBudget budget_{128u << 10};
};

TEST_F(OverBudgetTest, PastTheBudgetTheConnectionWindowComesBackOnlyAsBytesAreDelivered) {
  App sink(App::Mode::Sink);
  auto stalled = stall(sink, 8);
  // Held: the budget, plus at most the connection window granted past it; less than
  // the eight stream windows the peer could otherwise fill.
  static_assert(8 * kStreamWindow > (128u << 10) + kConnectionWindow);
  EXPECT_GT(budget_.overBudgetCount(), 0u);
  EXPECT_LE(budget_.held(), budget_.limit() + kConnectionWindow);
  EXPECT_LT(budget_.held(), 8 * kStreamWindow);
  // Delivery gives the window back: everything arrives and nothing stays counted.
  drain(sink, stalled);
  EXPECT_EQ(echoWithin(sink, 10s), "still moving");
  EXPECT_EQ(budget_.held(), 0u);
}

TEST(ReceiveBudget, HoldsWithinTheLimitAndCountsWhatGoesPastIt) {
  ReceiveBudget b(100);
  EXPECT_TRUE(b.hold(60));
  EXPECT_TRUE(b.hold(40));
  EXPECT_FALSE(b.hold(1));  // counted all the same: the bytes are held
  EXPECT_EQ(b.overBudgetCount(), 1u);
  EXPECT_EQ(b.held(), 101u);
  b.release(41);
  EXPECT_TRUE(b.hold(40));
  EXPECT_EQ(b.held(), 100u);
}

// Overload: past a (tiny) watermark of bytes held for slow readers, the tunnel
// resets new connections on arrival while the streams it carries keep working;
// below it again, it admits them.
class OverloadTest : public FlowControlTest {
 protected:
  OverloadTest() { overload_ = {.fdPercent = 0, .heldBytes = 16u << 10}; }
};

TEST_F(OverloadTest, PastTheWatermarkNewConnectionsAreResetAndExistingOnesKeepWorking) {
  App echo(App::Mode::Echo);
  auto existing = open(echo.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(existing.app.get(), "before"));
  char buf[16];
  ASSERT_EQ(::read(existing.app.get(), buf, 6), 6);
  App sink(App::Mode::Sink);
  auto stalled = stall(sink, 1);  // the sink does not read: its bytes are held
  ASSERT_GE(ReceiveBudget::process().held(), 16u << 10);
  // A new connection (from another address, so no pooled one) is reset on arrival.
  UniqueFd fresh = iotest::idleConnectFrom("127.0.0.3", hbonePort_);
  EXPECT_TRUE(iotest::endedByPeer(fresh.get()));
  EXPECT_EQ(proxy_->counters().overloadShed.load(), 1u);
  EXPECT_TRUE(proxy_->counters().overloaded.load());
  // The existing stream still echoes.
  ASSERT_TRUE(iotest::writeAll(existing.app.get(), "during"));
  ASSERT_EQ(::read(existing.app.get(), buf, 6), 6);
  EXPECT_EQ(std::string(buf, 6), "during");
  // Drained, the tunnel admits again.
  drain(sink, stalled);
  auto inbound = [&] { return lt_.call([&] { return proxy_->inboundHboneConnections(); }); };
  const size_t open = inbound();
  UniqueFd after = iotest::idleConnectFrom("127.0.0.3", hbonePort_);
  ASSERT_TRUE(waitUntil([&] { return inbound() == open + 1; }, 5s));
  EXPECT_FALSE(proxy_->counters().overloaded.load());
  EXPECT_EQ(proxy_->counters().overloadShed.load(), 1u);
}

}  // namespace
}  // namespace warren::hbone
