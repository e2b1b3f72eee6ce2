// HBONE in process: the tunnel's real client and server over loopback with real
// TLS 1.3 and HTTP/2 (see tests/support/hbone_fixture.h for the set-up).

#include "tests/support/hbone_fixture.h"

namespace warren::hbone {
namespace {

class HboneTest : public HboneFixture {};

// Reads exactly n bytes (blocking), or what arrived before EOF/error.
std::string readExactly(int fd, size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t r = ::read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

TEST_F(HboneTest, EchoThroughMutualTlsWithHalfClose) {
  App app(App::Mode::Echo);
  auto s = open(app.port(), dialFor(kServer));
  std::string payload = iotest::randomBytes(300000, 1);
  EXPECT_EQ(roundTrip(s.app.get(), payload), payload);
  auto stats = s.result.get();
  EXPECT_EQ(stats.status, 200);
  EXPECT_EQ(stats.bytesToPeer, payload.size());
  EXPECT_EQ(stats.bytesFromPeer, payload.size());
  EXPECT_EQ(stats.endReason, "closed");
  // The server saw the client's SPIFFE identity.
  EXPECT_EQ(proxy_->counters().hboneInbound.load(), 1u);
}

TEST_F(HboneTest, PooledConnectionServesTheNextStreamWithoutAHandshake) {
  App app(App::Mode::Echo);
  auto dial = dialFor(kServer);
  for (int i = 0; i < 5; ++i) {
    auto s = open(app.port(), dial);
    EXPECT_EQ(roundTrip(s.app.get(), "ping" + std::to_string(i)), "ping" + std::to_string(i));
    s.result.get();
  }
  auto c = lt_.call([&] { return pool_->counters(); });
  EXPECT_EQ(c.connectionsOpened, 1u);
  EXPECT_EQ(c.streamsReused, 4u);
  EXPECT_EQ(accepted_.load(), 1u);  // one TCP (and so one TLS handshake) at the server
}

TEST_F(HboneTest, ANewTrustBundleTakesNewStreamsToANewConnectionAndDrainsTheOld) {
  App app(App::Mode::Echo);
  auto before = open(app.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(before.app.get(), "old"));  // a stream still open on the first connection
  EXPECT_EQ(readExactly(before.app.get(), 3), "old");
  // The roots are read again (as when the CA's bundle changes): a new generation.
  ASSERT_TRUE(identity_->reloadTrustBundle());
  auto after = open(app.port(), dialFor(kServer));
  EXPECT_EQ(roundTrip(after.app.get(), "new"), "new");
  after.result.get();
  auto c = lt_.call([&] { return pool_->counters(); });
  EXPECT_EQ(c.connectionsOpened, 2u) << "a stream rode a connection verified against the old bundle";
  EXPECT_EQ(c.drainedForTrust, 1u);
  EXPECT_EQ(accepted_.load(), 2u);
  // The old connection was told GOAWAY: its stream still finishes, then it closes.
  ::shutdown(before.app.get(), SHUT_WR);
  EXPECT_EQ(iotest::readAll(before.app.get()), "");
  EXPECT_EQ(before.result.get().endReason, "closed");
  ASSERT_TRUE(waitUntil([&] {
    return lt_.call([&] {
      for (auto& conn : pool_->connections())
        if (conn->tlsContext()->bundle().generation != identity_->trustBundle()->generation) return false;
      return true;
    });
  })) << "the connection of the old bundle stayed open";
}

TEST_F(HboneTest, ATrustBundleChangeSendsGoawayOnEveryConnectionOfTheOldBundle) {
  App app(App::Mode::Echo);
  auto connectionsClose = [&] {
    return waitUntil([&] {
      return lt_.call([&] { return proxy_->inboundHboneConnections() == 0 && pool_->connectionCount() == 0; });
    });
  };
  // The server's end: what a tunnel's SIGHUP does to its inbound connections.
  auto first = open(app.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(first.app.get(), "old"));  // a stream still open on the connection
  EXPECT_EQ(readExactly(first.app.get(), 3), "old");
  ASSERT_EQ(lt_.call([&] { return proxy_->inboundHboneConnections(); }), 1u);
  ASSERT_TRUE(identity_->reloadTrustBundle());
  lt_.call([&] { proxy_->trustBundleChanged(identity_->trustBundle()->generation); });
  EXPECT_EQ(roundTrip(first.app.get(), "still"), "still");  // the running stream finishes...
  EXPECT_EQ(first.result.get().endReason, "closed");
  ASSERT_TRUE(connectionsClose()) << "the server kept a connection of the old bundle open";  // ...then it closes

  // The client's end: what it does to its pool (the lazy path is in the test above).
  auto second = open(app.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(second.app.get(), "two"));
  EXPECT_EQ(readExactly(second.app.get(), 3), "two");
  ASSERT_TRUE(identity_->reloadTrustBundle());
  lt_.call([&] { pool_->drainOlderThan(identity_->trustBundle()->generation); });
  EXPECT_EQ(lt_.call([&] { return pool_->counters().drainedForTrust; }), 1u);
  EXPECT_EQ(roundTrip(second.app.get(), "still"), "still");
  EXPECT_EQ(second.result.get().endReason, "closed");
  ASSERT_TRUE(connectionsClose()) << "the pool kept a connection of the old bundle open";
  EXPECT_EQ(accepted_.load(), 2u);
}

TEST_F(HboneTest, TwoHundredConcurrentStreamsShareOnePooledConnection) {
  App app(App::Mode::Echo);
  auto dial = dialFor(kServer);
  std::vector<Stream> streams;
  for (int i = 0; i < 200; ++i) streams.push_back(open(app.port(), dial));
  // All 200 are open at once before any finishes: each sends, none has closed yet.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(iotest::writeAll(streams[i].app.get(), "stream-" + std::to_string(i)));
  ASSERT_TRUE(waitUntil([&] { return app.accepted() == 200; }));
  EXPECT_EQ(lt_.call([&] { return pool_->connectionCount(); }), 1u);
  for (int i = 0; i < 200; ++i) {
    ::shutdown(streams[i].app.get(), SHUT_WR);
    EXPECT_EQ(iotest::readAll(streams[i].app.get()), "stream-" + std::to_string(i));
  }
  for (auto& s : streams) EXPECT_EQ(s.result.get().endReason, "closed");
  EXPECT_EQ(lt_.call([&] { return pool_->counters().connectionsOpened; }), 1u);
  EXPECT_EQ(accepted_.load(), 1u);
}

TEST_F(HboneTest, SlowReaderPushesBackWithoutUnboundedBuffering) {
  App sink(App::Mode::Sink);
  auto s = open(sink.port(), dialFor(kServer));
  ::fcntl(s.app.get(), F_SETFL, O_NONBLOCK);
  // Write until the whole path is full and the app's writes block.
  std::string chunk(64 * 1024, 'x');
  uint64_t written = 0;
  auto lastProgress = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - lastProgress < 500ms) {
    ssize_t n = ::send(s.app.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      written += n;
      lastProgress = std::chrono::steady_clock::now();
    } else {
      ASSERT_EQ(errno, EAGAIN);
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_LT(written, 256u << 20) << "the tunnel kept accepting data the reader never took";
  }
  // What the two tunnel ends hold in user space is bounded by the windows and
  // buffers, not by how much the app tried to send.
  size_t held = lt_.call([&] {
    size_t n = 0;
    for (auto& c : pool_->connections()) n += c->bufferedBytes();
    return n;
  });
  size_t bound = h2_.streamWindow + 2 * h2_.sendBufferBytes + 2 * 64 * 1024;
  EXPECT_LE(held, bound);
  EXPECT_GT(written, 0u);
  // Release the reader: every byte arrives, in order and complete.
  sink.release();
  ::fcntl(s.app.get(), F_SETFL, 0);
  ::shutdown(s.app.get(), SHUT_WR);
  EXPECT_EQ(iotest::readAll(s.app.get()), "");
  auto stats = s.result.get();
  EXPECT_EQ(stats.bytesToPeer, written);
  EXPECT_EQ(sink.sunk_.load(), written);
}

TEST_F(HboneTest, AppResetBecomesAResetAtTheOtherEnd) {
  App app(App::Mode::Reset);
  auto s = open(app.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(s.app.get(), "x"));
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
  EXPECT_NE(s.result.get().endReason.find("reset"), std::string::npos);
}

TEST_F(HboneTest, AuthorityOfAnotherPodIs400) {
  App app(App::Mode::Echo);
  auto s = open(app.port(), dialFor(kServer), "127.0.0.2");
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
  auto st400 = s.result.get();
  EXPECT_EQ(st400.status, 400) << st400.endReason;
  EXPECT_EQ(app.accepted(), 0u);
  EXPECT_EQ(proxy_->counters().hboneBadRequests.load(), 1u);
}

TEST_F(HboneTest, UnreachableAppIs503) {
  uint16_t closedPort;
  {
    App gone(App::Mode::Echo);
    closedPort = gone.port();
  }
  auto s = open(closedPort, dialFor(kServer));
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
  EXPECT_EQ(s.result.get().status, 503);
}

TEST_F(HboneTest, ServerWithTheWrongIdentityIsRefusedByTheClient) {
  App app(App::Mode::Echo);
  identity::SpiffeId other{"cluster.local", "mesh", "sa-other"};
  auto s = open(app.port(), dialFor(other));
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
  auto stats = s.result.get();
  EXPECT_NE(stats.endReason.find("expected spiffe://cluster.local/ns/mesh/sa/sa-other"), std::string::npos)
      << stats.endReason;
  EXPECT_EQ(app.accepted(), 0u);
}

TEST_F(HboneTest, ClientFromAnotherRootIsRefusedAtTheTlsLayer) {
  App app(App::Mode::Echo);
  auto foreign = makeIdentity(dir_ / "other-ca", opts_);
  ASSERT_TRUE(foreign);
  ASSERT_TRUE(foreign->ensure(kClient));
  // The foreign client trusts our root, so only the server's check can stop it.
  auto dial = dialFor(kServer, foreign.get());
  auto cert = foreign->current(kClient);
  auto ctx = lt_.call([&] { return tls::TlsContext::create(tls::Role::Client, *cert, identity_->trustBundle()); });
  ASSERT_TRUE(ctx);
  dial.tls = *ctx;
  auto s = open(app.port(), dial);
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
  EXPECT_EQ(s.result.get().status, 0);  // no HTTP answer: refused in the handshake
  EXPECT_EQ(app.accepted(), 0u);
}

// A CA that can be taken down, to let a certificate run out.
class SwitchableCa : public identity::CaClient {
 public:
  explicit SwitchableCa(std::unique_ptr<identity::CaClient> inner, std::shared_ptr<std::atomic<bool>> down)
      : inner_(std::move(inner)), down_(std::move(down)) {}
  Result<std::vector<std::string>> sign(const identity::CertificateRequest& req) override {
    if (*down_) return makeError("CA unreachable (test)");
    return inner_->sign(req);
  }
  Result<std::vector<std::string>> trustRoots() override { return inner_->trustRoots(); }

 private:
  std::unique_ptr<identity::CaClient> inner_;
  std::shared_ptr<std::atomic<bool>> down_;
};

TEST_F(HboneTest, ExpiredCertificateFailsClosedWhileTheCaIsDown) {
  App app(App::Mode::Echo);
  // The server pod's identity comes from a manager with 2 s certificates from the
  // same root, whose CA then becomes unreachable.
  auto down = std::make_shared<std::atomic<bool>>(false);
  auto ca = identity::LocalCa::open(dir_ / "ca", "cluster.local");
  ASSERT_TRUE(ca);
  auto shortOpts = opts_;
  shortOpts.certTtl = 2s;
  auto m = identity::IdentityManager::create(std::make_unique<SwitchableCa>(std::move(*ca), down), shortOpts);
  ASSERT_TRUE(m);
  std::unique_ptr<identity::IdentityManager> late = std::move(*m);
  ASSERT_TRUE(late->ensure(kServer));
  proxy::ProxyOptions po;
  po.h2 = h2_;
  lt_.call([&] {
    proxy_ = std::make_unique<proxy::Proxy>(*lt_.loop, nullptr, proxy::ProxyInputs{.identity = late.get()}, po);
  });
  {
    auto s = open(app.port(), dialFor(kServer));
    EXPECT_EQ(roundTrip(s.app.get(), "before"), "before");
    s.result.get();
  }
  lt_.call([&] { pool_->closeAll(); });
  *down = true;
  ASSERT_TRUE(waitUntil([&] { return !late->current(kServer).ok(); }, 10s));
  auto err = late->current(kServer).error().message;
  EXPECT_NE(err.find("expired"), std::string::npos) << err;

  auto refusalsBefore = proxy_->counters().identityRefusals.load();
  auto s = open(app.port(), dialFor(kServer));
  int rc = 0;
  iotest::readAll(s.app.get(), &rc);
  EXPECT_EQ(rc, ECONNRESET);
  EXPECT_EQ(app.accepted(), 1u);  // only the connection from before the expiry
  EXPECT_GT(proxy_->counters().identityRefusals.load(), refusalsBefore);
  lt_.call([&] {
    pool_->closeAll();
    proxy_.reset();
  });
}

TEST_F(HboneTest, RotationWithShortLivedCertificatesKeepsStreamsAndHandshakesWithTheNewOne) {
  App app(App::Mode::Echo);
  // 3 s certificates for both ends: renewed at about 1.5 s.
  auto shortOpts = opts_;
  shortOpts.certTtl = 3s;
  auto rotating = makeIdentity(dir_ / "ca", shortOpts);
  ASSERT_TRUE(rotating);
  ASSERT_TRUE(rotating->ensure(kClient));
  ASSERT_TRUE(rotating->ensure(kServer));
  auto firstClient = *rotating->current(kClient);
  auto firstServer = *rotating->current(kServer);
  proxy::ProxyOptions po;
  po.h2 = h2_;
  lt_.call([&] {
    proxy_ = std::make_unique<proxy::Proxy>(*lt_.loop, nullptr, proxy::ProxyInputs{.identity = rotating.get()}, po);
  });

  // A long-lived stream, opened with the first certificates.
  auto before = open(app.port(), dialFor(kServer, rotating.get()));
  ASSERT_TRUE(iotest::writeAll(before.app.get(), "one"));
  EXPECT_EQ(readExactly(before.app.get(), 3), "one");

  ASSERT_TRUE(waitUntil([&] { return rotating->counters().renewed.load() >= 2; }, 5s)) << "no renewal within 5 s";
  auto secondClient = *rotating->current(kClient);
  auto secondServer = *rotating->current(kServer);
  EXPECT_NE(secondClient->serialHex, firstClient->serialHex);
  EXPECT_NE(secondServer->serialHex, firstServer->serialHex);
  EXPECT_GT(secondClient->generation, firstClient->generation);

  // A new app connection handshakes again, with the renewed client certificate, and
  // the server answers with its renewed one.
  {
    auto after = open(app.port(), dialFor(kServer, rotating.get()));
    EXPECT_EQ(roundTrip(after.app.get(), "two"), "two");
    EXPECT_EQ(after.result.get().status, 200);
  }
  EXPECT_EQ(lt_.call([&] { return pool_->counters().connectionsOpened; }), 2u);
  EXPECT_EQ(accepted_.load(), 2u);
  auto serials = lt_.call([&] {
    std::vector<std::string> out;
    for (auto& c : pool_->connections()) out.push_back(c->tlsContext()->cert().serialHex);
    return out;
  });
  EXPECT_NE(std::find(serials.begin(), serials.end(), secondClient->serialHex), serials.end());

  // The stream from before the renewal still carries bytes, past the old
  // certificate's expiry: an established session is not cut by a rotation.
  std::this_thread::sleep_until(std::chrono::steady_clock::now() +
                                (firstClient->notAfter - std::chrono::system_clock::now()) + 200ms);
  ASSERT_TRUE(firstClient->expiredAt(std::chrono::system_clock::now()));
  ASSERT_TRUE(firstServer->expiredAt(std::chrono::system_clock::now()));
  ASSERT_TRUE(iotest::writeAll(before.app.get(), "three"));
  EXPECT_EQ(readExactly(before.app.get(), 5), "three");
  ::shutdown(before.app.get(), SHUT_WR);
  EXPECT_EQ(iotest::readAll(before.app.get()), "");
  EXPECT_EQ(before.result.get().endReason, "closed");
  lt_.call([&] {
    pool_->closeAll();
    proxy_->closeAll();
  });
  ASSERT_TRUE(waitUntil([&] { return lt_.call([&] { return pool_->connectionCount() == 0; }); }, 5s));
  lt_.call([&] { proxy_.reset(); });
}

}  // namespace
}  // namespace warren::hbone
