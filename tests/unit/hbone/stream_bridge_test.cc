// FdStreamBridge alone, through the StreamEndpoint seam, with a fake session
// (StreamHost) and a socketpair for the app: the flow-control and half-close
// guarantees the session relies on, without TLS or nghttp2.

#include "hbone/stream_bridge.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

namespace warren::hbone {
namespace {

struct FakeHost : StreamHost {
  std::function<void()> onSendReady;
  int64_t window = 1 << 30;  // the peer's window, as the session would answer it
  size_t consumedBytes = 0;
  int sendReadyCalls = 0, deliveredCalls = 0, afterEventCalls = 0;
  std::string failure;
  void consumed(int32_t id, size_t n) override {
    EXPECT_EQ(id, 7);
    consumedBytes += n;
  }
  void sendReady(int32_t) override {
    ++sendReadyCalls;
    if (onSendReady) onSendReady();
  }
  int64_t peerWindow(int32_t) const override { return window; }
  void appFailed(int32_t, const std::string& reason, AppError) override { failure = reason; }
  void delivered(int32_t) override { ++deliveredCalls; }
  void afterAppEvent() override { ++afterEventCalls; }
};

struct Fixture : ::testing::Test {
  void SetUp() override {
    auto l = io::EventLoop::create();
    ASSERT_TRUE(l);
    loop = std::move(*l);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    app = UniqueFd(sv[1]);
    bridge = std::make_unique<FdStreamBridge>(*loop, UniqueFd(sv[0]), 64 * 1024);
    bridge->attach(host, 7, guard);
  }
  std::unique_ptr<io::EventLoop> loop;
  std::shared_ptr<int> guard = std::make_shared<int>(0);
  FakeHost host;
  UniqueFd app;
  std::unique_ptr<FdStreamBridge> bridge;
};

TEST_F(Fixture, HboneStreamBridgeCreditsOnlyWhatTheAppSocketTook) {
  bridge->open();
  std::string big(8 << 20, 'x');  // far more than a socketpair holds
  bridge->received(big.data(), big.size());
  EXPECT_EQ(host.consumedBytes, 0u);  // nothing is credited before deliver()
  bridge->deliver();
  EXPECT_GT(host.consumedBytes, 0u);
  EXPECT_LT(host.consumedBytes, big.size());
  EXPECT_EQ(host.consumedBytes + bridge->undelivered(), big.size());
  EXPECT_TRUE(host.failure.empty());
  bridge->close();
}

TEST_F(Fixture, HboneStreamBridgeHoldsLittleMoreThanWhatTheAppHasNotTakenOnALongTransfer) {
  // An app always a little slower than the peer: each round 16 KiB arrive and the
  // app reads one byte less, so the buffer is never empty. What it holds must stay
  // near what is undelivered, not grow with everything ever received.
  bridge->open();
  const std::string backlog(1 << 20, 'x');  // fills the socket: the app is behind from the start
  bridge->received(backlog.data(), backlog.size());
  bridge->deliver();
  const std::string chunk(16 * 1024, 'x');
  std::string sink(chunk.size(), '\0');
  size_t received = backlog.size();
  for (int round = 0; round < 400; ++round) {
    bridge->received(chunk.data(), chunk.size());
    received += chunk.size();
    bridge->deliver();
    ASSERT_GT(::read(app.get(), sink.data(), chunk.size() - 1), 0);
  }
  bridge->deliver();
  EXPECT_EQ(host.consumedBytes + bridge->undelivered(), received);
  EXPECT_GT(bridge->undelivered(), 0u);
  EXPECT_LE(bridge->receiveBufferBytes(), 2 * bridge->undelivered() + chunk.size())
      << "received " << received << ", undelivered " << bridge->undelivered();
  EXPECT_TRUE(host.failure.empty());
  bridge->close();
}

TEST_F(Fixture, HboneStreamBridgeForwardsThePeersEndAfterItsBytes) {
  bridge->received("hello", 5);
  bridge->end();  // not open yet: nothing moves
  EXPECT_EQ(host.consumedBytes, 0u);
  EXPECT_FALSE(bridge->endDelivered());
  bridge->open();
  EXPECT_EQ(host.consumedBytes, 5u);
  EXPECT_TRUE(bridge->endDelivered());
  EXPECT_EQ(host.deliveredCalls, 1);
  char buf[16];
  ASSERT_EQ(::read(app.get(), buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(::read(app.get(), buf, sizeof(buf)), 0);  // then EOF: shutdown(SHUT_WR)
  bridge->close();
}

TEST_F(Fixture, HboneStreamBridgeReportsTheAppsBytesThenItsEnd) {
  bridge->open();  // watches the socket for reading
  ASSERT_EQ(::write(app.get(), "abc", 3), 3);
  ASSERT_EQ(::shutdown(app.get(), SHUT_WR), 0);
  bool eof = false;
  std::string got;
  host.onSendReady = [&] {  // pulls as the session does, from the loop
    uint8_t buf[16];
    size_t n = bridge->take(buf, sizeof(buf), &eof);
    got.append(reinterpret_cast<char*>(buf), n);
    bridge->resumeReading();
    if (eof) loop->stop();
  };
  loop->addTimer(std::chrono::milliseconds(2000), [this] { loop->stop(); });
  loop->run();
  EXPECT_EQ(got, "abc");
  EXPECT_TRUE(eof);
  EXPECT_GE(host.sendReadyCalls, 1);
  EXPECT_GE(host.afterEventCalls, 1);
  EXPECT_TRUE(host.failure.empty());
  bridge->close();
}

// A connection idle between messages holds no send buffer: it goes back once
// drained (10,000 held connections kept one touched page each before).
TEST_F(Fixture, HboneStreamBridgeGivesTheSendBufferBackOnceDrained) {
  bridge->open();
  EXPECT_EQ(bridge->sendBufferMemory(), 0u);
  ASSERT_EQ(::write(app.get(), "abcdef", 6), 6);
  std::string got;
  size_t heldWhileFull = 0;
  host.onSendReady = [&] {
    heldWhileFull = std::max(heldWhileFull, bridge->sendBufferMemory());
    uint8_t buf[4];  // two takes: still held after the first, given back after the second
    bool eof = false;
    while (got.size() < 6) {
      size_t n = bridge->take(buf, sizeof(buf), &eof);
      if (n == 0) break;
      got.append(reinterpret_cast<char*>(buf), n);
      if (got.size() < 6) {
        EXPECT_EQ(bridge->sendBufferMemory(), 64u * 1024);
      }
    }
    EXPECT_FALSE(eof);  // the app did not end: the stream stays open
    if (got.size() == 6) loop->stop();
  };
  loop->addTimer(std::chrono::milliseconds(2000), [this] { loop->stop(); });
  loop->run();
  EXPECT_EQ(got, "abcdef");
  EXPECT_EQ(heldWhileFull, 64u * 1024);
  EXPECT_EQ(bridge->sendBufferMemory(), 0u);
  EXPECT_TRUE(host.failure.empty());
  bridge->close();
}

TEST_F(Fixture, HboneStreamBridgeAResetAppFailsTheStream) {
  bridge->open();
  bridge->received("x", 1);
  app.reset();  // the app went away: the send fails
  bridge->deliver();
  EXPECT_FALSE(host.failure.empty());
  bridge->close();
}

// The zero-window reader (attack suite): a peer whose window stays at 0 gets
// nothing read from the app for it, and the app socket is not even watched for
// reading (a readable socket left watched would wake the level-triggered loop on
// every round); a WINDOW_UPDATE lets exactly the window's bytes in.
TEST_F(Fixture, HboneStreamBridgeReadsTheAppOnlyAsFarAsThePeersWindow) {
  host.window = 0;
  const std::string output(1000, 'o');
  ASSERT_EQ(::write(app.get(), output.data(), output.size()), static_cast<ssize_t>(output.size()));
  bridge->open();
  loop->runOnce(std::chrono::milliseconds(0));
  EXPECT_EQ(bridge->bufferedBytes(), 0u);
  EXPECT_EQ(loop->watchCount(), 0u) << "the app socket is watched while its bytes could not leave";
  EXPECT_EQ(host.sendReadyCalls, 0);

  host.window = 100;
  bridge->windowOpened();
  EXPECT_EQ(loop->watchCount(), 1u);
  loop->runOnce(std::chrono::milliseconds(2000));  // the app's bytes are waiting: returns at once
  EXPECT_EQ(bridge->bufferedBytes(), 100u);
  EXPECT_EQ(host.sendReadyCalls, 1);
  EXPECT_EQ(loop->watchCount(), 0u) << "the window is full: no more reading";

  // The session takes them and the peer opens its window again: the rest follows.
  uint8_t buf[2000];
  bool eof = false;
  EXPECT_EQ(bridge->take(buf, sizeof(buf), &eof), 100u);
  host.window = 1 << 20;
  bridge->resumeReading();
  bridge->windowOpened();
  loop->runOnce(std::chrono::milliseconds(2000));
  EXPECT_EQ(bridge->bufferedBytes(), 900u);
  EXPECT_TRUE(host.failure.empty());
  bridge->close();
}

}  // namespace
}  // namespace warren::hbone
