// The in-process HBONE stream (ChannelEndpoint + ChannelSocket) through the
// StreamEndpoint seam with a fake session, driven by a real event loop: the
// guarantees FdStreamBridge gives with a socket (flow control, ends, resets),
// kept with the consumer in the socket's place.

#include "hbone/stream_channel.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>

#include <cerrno>
#include <string>

namespace warren::hbone {
namespace {

struct FakeHost : StreamHost {
  size_t consumedBytes = 0;
  int sendReadyCalls = 0, deliveredCalls = 0, afterEventCalls = 0;
  std::string failure;
  void consumed(int32_t id, size_t n) override {
    EXPECT_EQ(id, 7);
    consumedBytes += n;
  }
  void sendReady(int32_t) override { ++sendReadyCalls; }
  int64_t peerWindow(int32_t) const override { return 1 << 30; }
  void appFailed(int32_t, const std::string& reason, AppError) override { failure = reason; }
  void delivered(int32_t) override { ++deliveredCalls; }
  void afterAppEvent() override { ++afterEventCalls; }
};

struct Fixture : ::testing::Test {
  void SetUp() override {
    auto l = io::EventLoop::create();
    ASSERT_TRUE(l);
    loop = std::move(*l);
    auto [e, s] = makeChannel(*loop, 64 * 1024);
    endpoint = std::move(e);
    socket = std::move(s);
    endpoint->attach(host, 7, guard);
  }
  // One round of the loop: what was deferred runs.
  void round() { loop->runOnce(std::chrono::milliseconds(0)); }
  std::string readAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = socket->read(buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  std::unique_ptr<io::EventLoop> loop;
  std::shared_ptr<int> guard = std::make_shared<int>(0);
  FakeHost host;
  std::unique_ptr<ChannelEndpoint> endpoint;
  std::unique_ptr<ChannelSocket> socket;
};

TEST_F(Fixture, OnlyWhatTheConsumerReadIsCreditedToThePeer) {
  endpoint->open();
  std::string big(1 << 20, 'x');
  endpoint->received(big.data(), big.size());
  endpoint->deliver();
  EXPECT_EQ(host.consumedBytes, 0u);  // held until read
  char buf[1000];
  ASSERT_EQ(socket->read(buf, sizeof(buf)), 1000);
  EXPECT_EQ(host.consumedBytes, 1000u);
  EXPECT_EQ(endpoint->undelivered(), big.size() - 1000);
  EXPECT_EQ(readAll().size(), big.size() - 1000);
  EXPECT_EQ(host.consumedBytes, big.size());
  errno = 0;
  EXPECT_EQ(socket->read(buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(Fixture, ReadinessIsReportedLevelTriggeredOnTheLoop) {
  uint32_t seen = 0;
  int calls = 0;
  ASSERT_TRUE(socket->watch(EPOLLIN, [&](uint32_t ev) {
    seen |= ev;
    ++calls;
    char buf[2];
    (void)socket->read(buf, sizeof(buf));  // two bytes a call: still readable after
  }));
  endpoint->open();
  endpoint->received("hello", 5);
  endpoint->deliver();
  EXPECT_EQ(calls, 0);  // never from inside the session's call
  round();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(seen & EPOLLIN);
  round();
  round();
  EXPECT_EQ(calls, 3);  // 2 + 2 + 1 bytes: reported until drained
  round();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(host.consumedBytes, 5u);
}

TEST_F(Fixture, ThePeersEndIsReadAfterItsBytesAndTheStreamIsTold) {
  endpoint->received("hello", 5);
  endpoint->end();  // the answer is not out yet: held
  endpoint->open();
  EXPECT_FALSE(endpoint->endDelivered());
  char buf[16];
  EXPECT_EQ(socket->read(buf, sizeof(buf)), 5);  // the bytes...
  EXPECT_EQ(socket->read(buf, sizeof(buf)), 0);  // ...then the end
  EXPECT_TRUE(endpoint->endDelivered());
  round();
  EXPECT_GE(host.deliveredCalls, 1);
  EXPECT_GE(host.afterEventCalls, 1);
}

TEST_F(Fixture, TheConsumersBytesAreBoundedAndItsCloseIsTheEndAfterThem) {
  std::string big(100 * 1024, 'y');
  ssize_t n = socket->send(big.data(), big.size());
  EXPECT_EQ(n, 64 * 1024);  // the send buffer's bound
  errno = 0;
  EXPECT_EQ(socket->send("z", 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  round();
  EXPECT_GE(host.sendReadyCalls, 1);
  uint8_t buf[100 * 1024];
  bool eof = true;
  EXPECT_EQ(endpoint->take(buf, 1000, &eof), 1000u);
  EXPECT_FALSE(eof);
  int writable = 0;
  ASSERT_TRUE(socket->watch(EPOLLOUT, [&](uint32_t ev) { writable += (ev & EPOLLOUT) != 0; }));
  endpoint->resumeReading();
  round();
  EXPECT_GE(writable, 1);  // room again
  socket->unwatch();
  socket.reset();  // close: END_STREAM after what is buffered
  EXPECT_EQ(endpoint->take(buf, sizeof(buf), &eof), 64u * 1024 - 1000);
  EXPECT_TRUE(eof);
  round();
  EXPECT_TRUE(host.failure.empty()) << host.failure;
}

TEST_F(Fixture, AResetStreamIsConnectionResetToTheConsumer) {
  endpoint->open();
  endpoint->abort();
  char buf[4];
  errno = 0;
  EXPECT_EQ(socket->read(buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(socket->send("x", 1), -1);
}

TEST_F(Fixture, AConsumerResetOrLeavingBytesUnreadResetsTheStream) {
  endpoint->open();
  socket->resetOnClose();
  socket.reset();
  round();
  EXPECT_EQ(host.failure, "reset by the waypoint");

  host.failure.clear();
  auto [e, s] = makeChannel(*loop, 1024);
  e->attach(host, 7, guard);
  e->open();
  e->received("unread", 6);
  e->deliver();
  s.reset();  // closed with bytes unread: as close(2), a reset
  round();
  EXPECT_EQ(host.failure, "the waypoint closed the stream with bytes unread");
  e->close();
}

TEST_F(Fixture, NothingIsCalledOnASessionThatIsGone) {
  endpoint->open();
  ASSERT_EQ(socket->send("x", 1), 1);
  guard.reset();  // the session went away before the loop came round
  round();
  EXPECT_EQ(host.sendReadyCalls, 0);
  EXPECT_EQ(host.afterEventCalls, 0);
}

}  // namespace
}  // namespace warren::hbone
