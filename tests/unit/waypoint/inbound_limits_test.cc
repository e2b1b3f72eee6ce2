// The waypoint's HBONE port (15008) admits connections as the tunnel's does: idle,
// unauthenticated TCP connections from one source are capped before any TLS work,
// so they cannot take the waypoint's descriptors; past the cap a connection is
// reset on arrival and counted, and a peer from another address is still served.
//
//   127.0.0.2 ──TCP (idle) ×3──▶ ┐
//   127.0.0.2 ──TCP (4th)────▶ reset   WaypointServer::accept on 127.0.0.1:<port>
//   127.0.0.1 ══TLS+h2 CONNECT═══▶ ┘   (answered: served)

#include <sys/socket.h>

#include <filesystem>
#include <future>

#include <gtest/gtest.h>

#include "hbone/connect_request.h"
#include "hbone/pool.h"
#include "identity/identity_manager.h"
#include "identity/local_ca.h"
#include "io/tcp.h"
#include "tests/unit/io/test_util.h"
#include "waypoint/proxy/waypoint_server.h"

namespace warren::waypoint {
namespace {

using namespace std::chrono_literals;
using iotest::LoopThread;
using iotest::waitUntil;

const identity::SpiffeId kWaypoint{"cluster.local", "mesh", "waypoint"};
const identity::SpiffeId kClient{"cluster.local", "mesh", "sa-client"};

class WaypointInboundLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("warren-waypoint-limits-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto ca = identity::LocalCa::open(dir_ / "ca", "cluster.local");
    ASSERT_TRUE(ca) << ca.error().message;
    auto ids = identity::IdentityManager::create(std::move(*ca), {});
    ASSERT_TRUE(ids) << ids.error().message;
    identity_ = std::move(*ids);
    ASSERT_TRUE(identity_->ensure(kWaypoint));
    ASSERT_TRUE(identity_->ensure(kClient));

    WaypointOptions wo;
    wo.self = makeSelf("mesh", "waypoint", "cluster.local");
    wo.identity = kWaypoint;
    wo.hboneInbound = {.total = 4096, .perSource = 3};
    server_ = std::make_unique<WaypointServer>(*lt_.loop, *identity_, state_, wo, [](const RequestOutcome&) {});
    pool_ = std::make_unique<hbone::Pool>(*lt_.loop, hbone::H2Options{});

    auto l = io::listenTcp(iotest::loopback4(), 0, false, 1024);
    ASSERT_TRUE(l) << l.error().message;
    listener_ = std::move(*l);
    port_ = iotest::portOf(iotest::localAddress(listener_.get()));
    lt_.call([this] {
      (void)lt_.loop->watch(listener_.get(), EPOLLIN, [this](uint32_t) {
        int c;
        while ((c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          accepted_++;
          server_->accept(UniqueFd(c));
        }
      });
    });
  }

  void TearDown() override {
    lt_.call([this] {
      if (listener_) lt_.loop->unwatch(listener_.get());
      if (pool_) pool_->closeAll();
      if (server_) server_->closeAll();
    });
    if (pool_) waitUntil([&] { return lt_.call([&] { return pool_->connectionCount() == 0; }); }, 5s);
    lt_.call([this] {
      pool_.reset();
      server_.reset();
    });
    std::filesystem::remove_all(dir_);
  }

  size_t inbound() {
    return lt_.call([&] { return server_->inboundConnections(); });
  }

  // A real HBONE client from 127.0.0.1: the status the waypoint answers its CONNECT
  // with (400 here: the destination is not bound to this waypoint), or 0.
  int connectStatus() {
    auto cert = identity_->current(kClient);
    EXPECT_TRUE(cert);
    hbone::Dial d;
    d.address = iotest::loopback4(port_);
    d.expected = kWaypoint;
    lt_.call([&] {
      auto ctx = tlsCache_.get(tls::Role::Client, *cert, identity_->trustBundle());
      EXPECT_TRUE(ctx);
      d.tls = *ctx;
    });
    d.key = {"uid-client", (*cert)->generation, "127.0.0.1:" + std::to_string(port_), kWaypoint.uri()};
    UniqueFd appListener = iotest::blockingListener(1);
    UniqueFd app = iotest::blockingConnect(iotest::localAddress(appListener.get()));
    UniqueFd tunnelEnd(::accept4(appListener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(io::setNonBlocking(tunnelEnd.get()));
    auto request = hbone::buildConnectRequest("10.96.0.1:80", {"127.0.0.1", "mesh", "client", "sa-client"},
                                              hbone::newTraceparent());
    auto status = std::make_shared<std::promise<int>>();
    auto answered = status->get_future();
    lt_.call([&] {
      hbone::StreamCallbacks cbs;
      cbs.onResponse = [status](int s) { status->set_value(s); };
      pool_->send(d, request, std::move(tunnelEnd), std::move(cbs));
    });
    if (answered.wait_for(5s) != std::future_status::ready) return 0;
    return answered.get();
  }

  LoopThread lt_;
  std::filesystem::path dir_;
  std::unique_ptr<identity::IdentityManager> identity_;
  state::StateStore state_;
  tls::TlsContextCache tlsCache_;
  std::unique_ptr<WaypointServer> server_;
  std::unique_ptr<hbone::Pool> pool_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<size_t> accepted_{0};
};

TEST_F(WaypointInboundLimitsTest, IdleConnectionsFromOneSourceAreCappedAndOtherPeersStillGetIn) {
  std::vector<UniqueFd> held;
  for (int i = 0; i < 3; ++i) held.push_back(iotest::idleConnectFrom("127.0.0.2", port_));
  ASSERT_TRUE(waitUntil([&] { return accepted_.load() == 3; }, 5s));
  ASSERT_EQ(inbound(), 3u);
  // The fourth from the same source is reset on arrival, not left in a handshake.
  UniqueFd over = iotest::idleConnectFrom("127.0.0.2", port_);
  EXPECT_TRUE(iotest::endedByPeer(over.get()));
  EXPECT_EQ(server_->counters().hboneInboundRefused.overSource.load(), 1u);
  EXPECT_EQ(server_->counters().hboneInboundRefused.overTotal.load(), 0u);
  // A real peer from another address gets through TLS and its CONNECT answered.
  EXPECT_EQ(connectStatus(), 400);
  EXPECT_EQ(inbound(), 4u);
  // Closing one of the idle ones gives its source a slot back.
  held.pop_back();
  ASSERT_TRUE(waitUntil([&] { return inbound() == 3u; }, 5s));
  UniqueFd again = iotest::idleConnectFrom("127.0.0.2", port_);
  ASSERT_TRUE(waitUntil([&] { return inbound() == 4u; }, 5s));
  EXPECT_EQ(server_->counters().hboneInboundRefused.overSource.load(), 1u);
}

}  // namespace
}  // namespace warren::waypoint
