// Relay: integrity both ways, half-close, reset propagation, back-pressure from a
// slow reader, and many concurrent relays that leave no fd behind.

#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <atomic>
#include <vector>

#include "tests/unit/io/test_util.h"
#include "tunnel/proxy/relay.h"

namespace warren {
namespace {

using namespace std::chrono_literals;
using iotest::LoopThread;
using iotest::RelayRig;

// What a relay reported, and whether onDone ran once, on the loop thread.
struct DoneProbe {
  std::promise<proxy::RelayStats> stats;
  std::atomic<int> calls{0};
  std::atomic<bool> offLoop{false};

  std::function<void(const proxy::RelayStats&)> callback(LoopThread& lt) {
    return [this, &lt](const proxy::RelayStats& s) {
      if (!lt.loop->inLoopThread()) offLoop = true;
      if (++calls == 1) stats.set_value(s);
    };
  }
  proxy::RelayStats wait(LoopThread& lt) {
    auto s = stats.get_future().get();
    // A second call would have to come from a callback still on the loop.
    EXPECT_EQ(lt.call([&] { return lt.loop->watchCount(); }), 0u) << "relay left a watch behind";
    EXPECT_EQ(calls.load(), 1);
    EXPECT_FALSE(offLoop.load());
    return s;
  }
};

std::shared_ptr<proxy::Relay> startRelay(LoopThread& lt, RelayRig& rig, DoneProbe& probe,
                                         size_t bufferBytes = 64 * 1024) {
  return lt.call([&] {
    return proxy::Relay::start(*lt.loop, std::move(rig.relayA), std::move(rig.relayB), probe.callback(lt), bufferBytes);
  });
}

// Both directions at once, each with its own writer and reader thread.
void copiesBothWaysIntact(size_t bytes, size_t bufferBytes) {
  LoopThread lt;
  RelayRig rig;
  DoneProbe probe;
  startRelay(lt, rig, probe, bufferBytes);
  const std::string up = iotest::randomBytes(bytes, 1), down = iotest::randomBytes(bytes, 2);
  std::string gotUp, gotDown;
  std::thread clientWriter([&] {
    EXPECT_TRUE(iotest::writeAll(rig.client.get(), up));
    ::shutdown(rig.client.get(), SHUT_WR);
  });
  std::thread serverWriter([&] {
    EXPECT_TRUE(iotest::writeAll(rig.server.get(), down));
    ::shutdown(rig.server.get(), SHUT_WR);
  });
  std::thread serverReader([&] { gotUp = iotest::readAll(rig.server.get()); });
  gotDown = iotest::readAll(rig.client.get());
  for (auto* t : {&clientWriter, &serverWriter, &serverReader}) t->join();
  // Compare sizes first so that a failure does not print megabytes.
  ASSERT_EQ(gotUp.size(), up.size());
  ASSERT_EQ(gotDown.size(), down.size());
  EXPECT_TRUE(gotUp == up) << "a->b bytes differ";
  EXPECT_TRUE(gotDown == down) << "b->a bytes differ";
  auto s = probe.wait(lt);
  EXPECT_EQ(s.bytesAtoB, bytes);
  EXPECT_EQ(s.bytesBtoA, bytes);
  EXPECT_EQ(s.endReason, "closed");
  EXPECT_GT(s.duration.count(), 0);
}

TEST(Relay, CopiesEightMegabytesEachWayConcurrently) { copiesBothWaysIntact(8 << 20, 64 * 1024); }

// An odd, small buffer: partial writes, compaction and many refills.
TEST(Relay, CopiesIntactThroughASmallOddSizedBuffer) { copiesBothWaysIntact(1 << 20, 4093); }

TEST(Relay, HalfCloseLetsTheReplyThrough) {
  LoopThread lt;
  RelayRig rig;
  DoneProbe probe;
  startRelay(lt, rig, probe);
  ASSERT_TRUE(iotest::writeAll(rig.client.get(), "request"));
  ::shutdown(rig.client.get(), SHUT_WR);  // "that's all I'm sending"
  // The server sees the request and then EOF, while the connection stays open ...
  EXPECT_EQ(iotest::readAll(rig.server.get()), "request");
  // ... and its reply, sent after that EOF, still reaches the client in full.
  const std::string reply = iotest::randomBytes(1 << 20, 7);
  std::thread w([&] {
    EXPECT_TRUE(iotest::writeAll(rig.server.get(), reply));
    ::shutdown(rig.server.get(), SHUT_WR);
  });
  int err = -1;
  std::string got = iotest::readAll(rig.client.get(), &err);
  w.join();
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(got == reply);
  auto s = probe.wait(lt);
  EXPECT_EQ(s.endReason, "closed");
  EXPECT_EQ(s.bytesAtoB, 7u);
  EXPECT_EQ(s.bytesBtoA, reply.size());
}

void resetAndClose(UniqueFd& fd) {
  linger lg{1, 0};
  ASSERT_EQ(::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  fd.reset();
}

TEST(Relay, AResetByTheServerReachesTheClientAsAReset) {
  LoopThread lt;
  RelayRig rig;
  DoneProbe probe;
  startRelay(lt, rig, probe);
  ASSERT_TRUE(iotest::writeAll(rig.client.get(), "hello"));
  char buf[5];
  ASSERT_EQ(::recv(rig.server.get(), buf, sizeof(buf), MSG_WAITALL), 5);  // the relay is up
  resetAndClose(rig.server);
  auto s = probe.wait(lt);
  EXPECT_EQ(s.endReason, "reset by b");
  int err = 0;
  iotest::readAll(rig.client.get(), &err);
  EXPECT_EQ(err, ECONNRESET) << "the client saw a clean close instead of a reset";
}

TEST(Relay, AResetByTheClientReachesTheServerAsAReset) {
  LoopThread lt;
  RelayRig rig;
  DoneProbe probe;
  startRelay(lt, rig, probe);
  ASSERT_TRUE(iotest::writeAll(rig.server.get(), "hello"));
  char buf[5];
  ASSERT_EQ(::recv(rig.client.get(), buf, sizeof(buf), MSG_WAITALL), 5);
  resetAndClose(rig.client);
  auto s = probe.wait(lt);
  EXPECT_EQ(s.endReason, "reset by a");
  int err = 0;
  iotest::readAll(rig.server.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
}

// The server never reads while the client pushes 16 MiB. Socket buffers are pinned
// small so that everything between the two ends — kernel buffers on four sockets
// plus the relay's buffer — holds far less than 16 MiB: the writer *cannot* finish
// before the server reads, unless the relay buffers without bound.
TEST(Relay, ASlowReaderPushesBackInsteadOfGrowingTheBuffer) {
  LoopThread lt;
  constexpr int kSocketBuffer = 256 * 1024;
  constexpr size_t kBuffer = 16 * 1024;
  RelayRig rig(kSocketBuffer);
  size_t inFlightLimit = kBuffer;  // what the chain can hold, kernel-accounted
  for (int fd : {rig.client.get(), rig.relayA.get(), rig.relayB.get(), rig.server.get()}) {
    int v = 0;
    socklen_t len = sizeof(v);
    ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
    inFlightLimit += static_cast<size_t>(v);
    ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len);
    inFlightLimit += static_cast<size_t>(v);
  }
  const std::string data = iotest::randomBytes(16 << 20, 3);
  ASSERT_LT(inFlightLimit, data.size() / 2) << "socket buffers too large for this test to mean anything";

  DoneProbe probe;
  auto relay = startRelay(lt, rig, probe, kBuffer);
  // Sample bufferedBytes() on the loop every millisecond for the whole test.
  // The pending timer refers to this frame's locals, so it is cancelled on the loop
  // before the test returns (a timer firing after the frame is gone would be a
  // use-after-free).
  std::atomic<size_t> maxBuffered{0};
  uint64_t sampleTimer = 0;
  std::function<void()> sample = [&] {
    maxBuffered = std::max(maxBuffered.load(), relay->bufferedBytes());
    sampleTimer = relay->done() ? 0 : lt.loop->addTimer(1ms, sample);
  };
  lt.call([&] { sample(); });
  struct StopSampling {
    LoopThread& lt;
    uint64_t& timer;
    ~StopSampling() {
      lt.call([&] {
        if (timer != 0) lt.loop->cancelTimer(timer);
        timer = 0;
      });
    }
  } stopSampling{lt, sampleTimer};

  std::atomic<size_t> written{0};
  std::promise<void> writerDone;
  std::thread writer([&] {
    for (size_t off = 0; off < data.size(); off += 64 * 1024) {
      if (!iotest::writeAll(rig.client.get(), std::string_view(data).substr(off, 64 * 1024))) break;
      written += std::min<size_t>(64 * 1024, data.size() - off);
    }
    ::shutdown(rig.client.get(), SHUT_WR);
    writerDone.set_value();
  });

  // The relay fills its buffer and then has to stop reading the client.
  ASSERT_TRUE(iotest::waitUntil([&] { return lt.call([&] { return relay->bufferedBytes(); }) >= kBuffer; }));
  // Back-pressure: the writer stays blocked. By the capacity argument above this can
  // never time out wrongly; the wait only gives an unbounded relay the time to
  // swallow all 16 MiB and so fail here.
  auto finished = writerDone.get_future();
  EXPECT_EQ(finished.wait_for(300ms), std::future_status::timeout) << "the writer was never pushed back";
  EXPECT_LE(written.load(), inFlightLimit + 64 * 1024);  // + the chunk being sent
  EXPECT_EQ(lt.call([&] { return relay->bufferedBytes(); }), kBuffer);

  // The reader catches up: every byte arrives, in order.
  std::string got = iotest::readAll(rig.server.get());
  finished.wait();
  writer.join();
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  ::shutdown(rig.server.get(), SHUT_WR);
  auto s = probe.wait(lt);
  EXPECT_EQ(s.endReason, "closed");
  EXPECT_EQ(s.bytesAtoB, data.size());
  EXPECT_LE(maxBuffered.load(), kBuffer);
  EXPECT_EQ(maxBuffered.load(), kBuffer);  // the sampler did see it full
  EXPECT_EQ(lt.call([&] { return relay->bufferedBytes(); }), 0u);
}

TEST(Relay, TwoHundredConcurrentRelaysCompleteAndCloseEveryFd) {
  constexpr int kRelays = 200;
  constexpr size_t kPayload = 16 * 1024;  // fits the kernel buffers: one thread per connection suffices
  LoopThread lt;
  const size_t baseline = iotest::fdCount();
  {
    std::vector<std::unique_ptr<RelayRig>> rigs;
    for (int i = 0; i < kRelays; ++i) rigs.push_back(std::make_unique<RelayRig>());
    ASSERT_EQ(iotest::fdCount(), baseline + 4 * kRelays);
    std::atomic<int> finished{0}, clean{0};
    std::promise<void> all;
    lt.call([&] {
      for (auto& r : rigs)
        proxy::Relay::start(*lt.loop, std::move(r->relayA), std::move(r->relayB), [&](const proxy::RelayStats& s) {
          if (s.endReason == "closed" && s.bytesAtoB == kPayload && s.bytesBtoA == kPayload) ++clean;
          if (++finished == kRelays) all.set_value();
        });
    });
    std::atomic<int> intact{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRelays; ++i)
      threads.emplace_back([&, i] {
        auto& r = *rigs[static_cast<size_t>(i)];
        const std::string msg = iotest::randomBytes(kPayload, 100 + static_cast<unsigned>(i));
        iotest::writeAll(r.client.get(), msg);
        ::shutdown(r.client.get(), SHUT_WR);
        std::string echoed = iotest::readAll(r.server.get());  // the server echoes it back
        iotest::writeAll(r.server.get(), echoed);
        ::shutdown(r.server.get(), SHUT_WR);
        if (iotest::readAll(r.client.get()) == msg) ++intact;
      });
    for (auto& t : threads) t.join();
    all.get_future().wait();
    EXPECT_EQ(intact.load(), kRelays);
    EXPECT_EQ(clean.load(), kRelays);
    EXPECT_EQ(lt.call([&] { return lt.loop->watchCount(); }), 0u);
    // Only the test's own ends are left: the relays closed both of theirs.
    EXPECT_EQ(iotest::fdCount(), baseline + 2 * kRelays);
  }
  EXPECT_EQ(iotest::fdCount(), baseline);
}

TEST(Relay, ACannotStartRelayReportsOnceLaterAndResetsTheGoodSide) {
  LoopThread lt;
  RelayRig rig;
  DoneProbe probe;
  bool inside = false, reentrant = false;  // loop thread only
  lt.call([&] {
    inside = true;
    proxy::Relay::start(*lt.loop, UniqueFd(), std::move(rig.relayB), [&](const proxy::RelayStats& s) {
      reentrant = inside;
      probe.callback(lt)(s);
    });
    inside = false;
  });
  auto s = probe.wait(lt);
  EXPECT_FALSE(lt.call([&] { return reentrant; })) << "onDone ran inside start()";
  EXPECT_EQ(s.endReason.rfind("error: starting relay: ", 0), 0u) << s.endReason;
  int err = 0;
  iotest::readAll(rig.server.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
}

TEST(Relay, BlockingSocketsAreMadeNonBlocking) {
  LoopThread lt;
  RelayRig rig;  // accept4/connect without SOCK_NONBLOCK: blocking
  const int a = rig.relayA.get();
  DoneProbe probe;
  startRelay(lt, rig, probe);
  EXPECT_TRUE(::fcntl(a, F_GETFL) & O_NONBLOCK);
  ::shutdown(rig.client.get(), SHUT_WR);
  ::shutdown(rig.server.get(), SHUT_WR);
  EXPECT_EQ(probe.wait(lt).endReason, "closed");
}

}  // namespace
}  // namespace warren
