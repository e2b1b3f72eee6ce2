#pragma once
// Raw-frame HBONE peers (raw_h2.h): a one-connection server for tests of the real
// client (Pool, H2Connection), playing a script on its own thread with kServer's
// certificate, and a raw client of the real server.

#include <functional>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/hbone_fixture.h"
#include "tests/support/raw_h2.h"

namespace warren::hbone {

// A one-connection TLS server with kServer's certificate, running `script` on its
// own thread; the destructor waits for the script to finish.
class RawServer {
 public:
  RawServer(tls::TlsContextPtr ctx, std::function<void(rawh2::RawTls&)> script)
      : listener_(iotest::blockingListener(1)) {
    port_ = iotest::portOf(iotest::localAddress(listener_.get()));
    thread_ = std::thread([this, ctx, script] {
      auto conn = rawh2::RawTls::accept(listener_.get(), *ctx);
      if (!conn) {
        ADD_FAILURE() << "raw server: TLS accept failed";
        return;
      }
      script(*conn);
    });
  }
  ~RawServer() {
    ::shutdown(listener_.get(), SHUT_RDWR);  // an accept that never came returns
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Reads the client's preface and SETTINGS, sends the server's; returns the
// client's SETTINGS frame.
inline std::optional<rawh2::Frame> serverHandshake(rawh2::RawTls& c) {
  if (!c.readPreface()) return std::nullopt;
  auto s = c.readUntil(NGHTTP2_SETTINGS);
  if (s) c.write(rawh2::settings() + rawh2::settingsAck());
  return s;
}

// The HBONE fixture with raw peers: a raw server's TLS context and a dial to its
// port, and a raw client of the real server.
class RawServerFixture : public HboneFixture {
 protected:
  // A raw client with kClient's certificate, past the preface and SETTINGS.
  std::optional<rawh2::RawTls> connectRaw() {
    auto cert = identity_->current(kClient);
    EXPECT_TRUE(cert);
    auto ctx = lt_.call([&] { return tlsCache_.get(tls::Role::Client, *cert, identity_->trustBundle()); });
    EXPECT_TRUE(ctx);
    auto c = rawh2::RawTls::connect(hbonePort_, **ctx);
    EXPECT_TRUE(c) << "TLS to the HBONE server failed";
    if (c) {
      EXPECT_TRUE(c->write(std::string(rawh2::kClientPreface) + rawh2::settings()));
    }
    return c;
  }
  std::string authority(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

  tls::TlsContextPtr serverContext() {
    auto cert = identity_->current(kServer);
    EXPECT_TRUE(cert);
    auto ctx = lt_.call([&] { return tlsCache_.get(tls::Role::Server, *cert, identity_->trustBundle()); });
    EXPECT_TRUE(ctx);
    return *ctx;
  }
  // The pool dials the raw server's port as if it were an HBONE peer.
  Dial rawDial(uint16_t port) {
    Dial d = dialFor(kServer);
    d.key.destination = "127.0.0.1:" + std::to_string(port);
    d.address = iotest::loopback4(port);
    return d;
  }
};

}  // namespace warren::hbone
