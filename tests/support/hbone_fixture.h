#pragma once
// In-process HBONE fixture shared by the HBONE and interop tests: the tunnel's real
// server (Proxy::handleHbone) on a loopback listener, the real client pool, real
// TLS 1.3 with certificates from a real local CA, and blocking TCP apps. The "pod"
// is the test's own network namespace (root: the tunnel setns()es into it).
//
//   app end ──TCP──▶ Pool ══TLS+h2 CONNECT══▶ Proxy::handleHbone ──TCP──▶ echo / sink app
//                           127.0.0.1:<hbone>                      127.0.0.1:<app>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "hbone/connect_request.h"
#include "hbone/pool.h"
#include "identity/identity_manager.h"
#include "identity/local_ca.h"
#include "io/tcp.h"
#include "tests/unit/io/test_util.h"
#include "tunnel/proxy/proxy.h"

namespace warren::hbone {

using namespace std::chrono_literals;
using iotest::LoopThread;
using iotest::waitUntil;

const identity::SpiffeId kClient{"cluster.local", "mesh", "sa-client"};
const identity::SpiffeId kServer{"cluster.local", "mesh", "sa-server"};

// A blocking TCP app on 127.0.0.1: echoes each connection (or, as a sink, holds it
// unread until released), one thread per connection.
class App {
 public:
  enum class Mode { Echo, Sink, Reset };
  explicit App(Mode mode) : mode_(mode), listener_(iotest::blockingListener()) {
    port_ = iotest::portOf(iotest::localAddress(listener_.get()));
    thread_ = std::thread([this] { run(); });
  }
  ~App() {
    release();
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
    for (auto& t : conns_) t.join();
  }
  uint16_t port() const { return port_; }
  size_t accepted() const { return accepted_; }
  void release() { released_ = true; }

 private:
  void run() {
    for (;;) {
      int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      accepted_++;
      conns_.emplace_back([this, c] { serve(UniqueFd(c)); });
    }
  }
  void serve(UniqueFd fd) {
    if (mode_ == Mode::Reset) {
      linger lg{1, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      char b;
      (void)!::read(fd.get(), &b, 1);  // wait for the first byte, then reset
      return;
    }
    if (mode_ == Mode::Sink)
      while (!released_) std::this_thread::sleep_for(5ms);  // a reader that is not reading
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0)
      if (mode_ == Mode::Echo && !iotest::writeAll(fd.get(), {buf, static_cast<size_t>(n)}))
        return;
      else if (mode_ == Mode::Sink)
        sunk_ += n;
    ::shutdown(fd.get(), SHUT_WR);
  }

 public:
  std::atomic<uint64_t> sunk_{0};

 private:
  Mode mode_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<size_t> accepted_{0};
  std::atomic<bool> released_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

class HboneFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root: the tunnel setns()es into the pod's netns";
    ::signal(SIGPIPE, SIG_IGN);  // as warren-tunnel does: OpenSSL writes with write(2)
    dir_ = std::filesystem::temp_directory_path() / ("warren-hbone-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    identity_ = makeIdentity(dir_ / "ca", opts_);
    ASSERT_TRUE(identity_);
    ASSERT_TRUE(identity_->ensure(kClient));
    ASSERT_TRUE(identity_->ensure(kServer));

    h2_.maxConcurrentStreams = 256;
    proxy::ProxyOptions po;
    po.h2 = h2_;
    po.hboneInbound = hboneInbound_;
    po.plaintextInbound = plaintextInbound_;
    po.overload = overload_;
    po.overloadSampleEvery = std::chrono::milliseconds(0);
    proxy_ = std::make_unique<proxy::Proxy>(*lt_.loop, nullptr, proxy::ProxyInputs{.identity = identity_.get()}, po);
    pool_ = std::make_unique<Pool>(*lt_.loop, h2_);

    auto ctx = std::make_shared<proxy::PodContext>();
    ctx->uid = "uid-server";
    ctx->name = "server";
    ctx->ns = "mesh";
    ctx->serviceAccount = "sa-server";
    ctx->ips = {"127.0.0.1"};
    ctx->netns = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    serverPod_ = ctx;
    selfNetns_ = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));

    auto l = io::listenTcp(iotest::loopback4(), 0, false, 1024);
    ASSERT_TRUE(l) << l.error().message;
    hboneListener_ = std::move(*l);
    hbonePort_ = iotest::portOf(iotest::localAddress(hboneListener_.get()));
    lt_.call([this] {
      (void)lt_.loop->watch(hboneListener_.get(), EPOLLIN, [this](uint32_t) {
        int c;
        while ((c = ::accept4(hboneListener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          accepted_++;
          proxy_->handleHbone(serverPod_, UniqueFd(c));
        }
      });
    });
  }

  void TearDown() override {
    lt_.call([this] {
      lt_.loop->unwatch(hboneListener_.get());
      pool_->closeAll();
      if (proxy_) proxy_->closeAll();
    });
    // Let GOAWAYs and closes run before the loop stops.
    waitUntil([&] { return lt_.call([&] { return pool_->connectionCount() == 0; }); }, 5s);
    lt_.call([this] {
      pool_.reset();
      proxy_.reset();
    });
    std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<identity::IdentityManager> makeIdentity(const std::filesystem::path& caDir,
                                                                 identity::IdentityOptions opts) {
    auto ca = identity::LocalCa::open(caDir, "cluster.local");
    if (!ca) {
      ADD_FAILURE() << ca.error().message;
      return nullptr;
    }
    auto m = identity::IdentityManager::create(std::move(*ca), opts);
    if (!m) {
      ADD_FAILURE() << m.error().message;
      return nullptr;
    }
    return std::move(*m);
  }

  // The client side with other options than the server's (h2_): a new pool.
  void replacePool(const H2Options& client) {
    lt_.call([&] { pool_ = std::make_unique<Pool>(*lt_.loop, client); });
  }

  Dial dialFor(const identity::SpiffeId& expected, identity::IdentityManager* ids = nullptr,
               const identity::SpiffeId& source = kClient) {
    if (!ids) ids = identity_.get();
    Dial d;
    auto cert = ids->current(source);
    EXPECT_TRUE(cert);
    auto ctx = lt_.call([&] { return tlsCache_.get(tls::Role::Client, *cert, ids->trustBundle()); });
    EXPECT_TRUE(ctx);
    d.key = {"uid-client", (*cert)->generation, "127.0.0.1:" + std::to_string(hbonePort_), expected.uri()};
    d.address = iotest::loopback4(hbonePort_);
    d.netns = selfNetns_.get();
    d.tls = *ctx;
    d.expected = expected;
    return d;
  }

  struct Stream {
    UniqueFd app;  // the test's end, as the application
    std::shared_ptr<std::promise<StreamStats>> done = std::make_shared<std::promise<StreamStats>>();
    std::future<StreamStats> result = done->get_future();
  };

  // Opens a CONNECT stream to 127.0.0.1:port through the pool.
  Stream open(uint16_t port, const Dial& dial, const std::string& authorityIp = "127.0.0.1") {
    // A real TCP pair, as a captured app connection is: a reset must be a reset.
    UniqueFd listener = iotest::blockingListener(1);
    Stream s;
    s.app = iotest::blockingConnect(iotest::localAddress(listener.get()));
    UniqueFd tunnelEnd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(io::setNonBlocking(tunnelEnd.get()));
    auto request = buildConnectRequest(authorityIp + ":" + std::to_string(port),
                                       {"127.0.0.1", "mesh", "client", "sa-client"}, newTraceparent());
    lt_.call([&] {
      StreamCallbacks cbs;
      cbs.onDone = [done = s.done](const StreamStats& st) { done->set_value(st); };
      pool_->send(dial, request, std::move(tunnelEnd), std::move(cbs));
    });
    return s;
  }

  identity::IdentityOptions opts_;
  LoopThread lt_;
  std::filesystem::path dir_;
  std::unique_ptr<identity::IdentityManager> identity_;
  H2Options h2_;
  // A derived fixture may set these before SetUp.
  io::SlotLimits hboneInbound_{.total = 4096, .perSource = 0};
  io::SlotLimits plaintextInbound_{.total = 4096, .perSource = 0};
  proxy::Watermarks overload_{.fdPercent = 0, .heldBytes = 0};
  std::unique_ptr<proxy::Proxy> proxy_;
  std::unique_ptr<Pool> pool_;
  tls::TlsContextCache tlsCache_;
  proxy::PodContextPtr serverPod_;
  UniqueFd selfNetns_;
  UniqueFd hboneListener_;
  uint16_t hbonePort_ = 0;
  std::atomic<size_t> accepted_{0};
};

inline std::string roundTrip(int fd, const std::string& payload) {
  EXPECT_TRUE(iotest::writeAll(fd, payload));
  ::shutdown(fd, SHUT_WR);
  return iotest::readAll(fd);
}

}  // namespace warren::hbone
