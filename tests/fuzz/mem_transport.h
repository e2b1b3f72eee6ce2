#pragma once
// A tls::PlaintextTransport over bytes in memory, for driving an H2Connection
// without a socket or TLS: the client's bytes arrive `piece` at a time, each
// arrival announced by poke() as a socket event would be; everything the session
// writes is kept in `out`, whole, for the caller to parse. The "handshake" ends on
// the loop's next round with a fixed peer identity, as TlsTransport's would.
#include <sys/epoll.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "io/event_loop.h"
#include "tls/plaintext_transport.h"

namespace warren::fuzz {

// What the test and the transport share; outlives the transport (the session owns that).
struct MemWire {
  std::string in;      // every byte the client will send
  size_t arrived = 0;  // of `in`, delivered to the "socket" so far
  size_t taken = 0;    // of `arrived`, read by the session
  size_t piece = 1;    // bytes per arrival
  bool eof = false;    // the client closed, after the last byte of `in`
  std::string out;     // every byte the session wrote
  bool ready = false, stopped = false;
};

class MemTransport final : public tls::PlaintextTransport {
 public:
  MemTransport(io::EventLoop& loop, std::shared_ptr<MemWire> wire, tls::Role role, identity::SpiffeId peer)
      : loop_(loop), wire_(std::move(wire)), role_(role), peer_(std::move(peer)) {}

  void start(std::weak_ptr<void> guard, std::chrono::milliseconds, Callbacks callbacks) override {
    guard_ = std::move(guard);
    callbacks_ = std::move(callbacks);
    loop_.post([guard = guard_, wire = wire_, this] {
      auto hold = guard.lock();
      if (!hold || wire->stopped) return;
      wire->ready = true;
      callbacks_.onReady();
    });
  }
  // A socket event: bytes arrived or the client closed (see MemWire).
  static void poke(const std::weak_ptr<void>& guard, MemTransport* t) {
    auto hold = guard.lock();
    if (!hold || t->wire_->stopped || !t->wire_->ready) return;
    t->callbacks_.onSocketEvent(EPOLLIN);
  }
  std::weak_ptr<void> guard() const { return guard_; }

  SocketRead readSocket() override {
    MemWire& w = *wire_;
    if (w.arrived == w.in.size()) return w.eof ? SocketRead::Eof : SocketRead::WouldBlock;
    w.arrived += std::min(w.piece, w.in.size() - w.arrived);
    return w.arrived < w.in.size() ? SocketRead::Filled : SocketRead::Drained;
  }
  Plaintext readPlain(char* buf, size_t len) override {
    MemWire& w = *wire_;
    if (w.taken < w.arrived) {
      const size_t n = std::min(len, w.arrived - w.taken);
      std::memcpy(buf, w.in.data() + w.taken, n);
      w.taken += n;
      return {Plaintext::Data, n};
    }
    if (w.eof && w.taken == w.in.size()) return {Plaintext::PeerClosed};
    return {Plaintext::Wait};
  }
  void releaseIdleInput() override {}
  size_t writePlain(const uint8_t* data, size_t len) override {
    wire_->out.append(reinterpret_cast<const char*>(data), len);
    return len;
  }
  bool flush() override { return true; }
  bool outputPending() const override { return false; }
  void updateInterest() override {}
  void stop(bool) override { wire_->stopped = true; }
  void closeSocket() override {}
  tls::Role role() const override { return role_; }
  const tls::TlsContext* context() const override { return nullptr; }
  const std::optional<identity::SpiffeId>& peerIdentity() const override { return peer_; }
  std::string describeSession() const override { return "memory"; }
  void sessionNames(const char*& version, const char*& cipher) const override { version = cipher = nullptr; }
  size_t bufferedBytes() const override { return wire_->arrived - wire_->taken; }

 private:
  io::EventLoop& loop_;
  std::shared_ptr<MemWire> wire_;
  tls::Role role_;
  std::optional<identity::SpiffeId> peer_;
  std::weak_ptr<void> guard_;
  Callbacks callbacks_;
};

}  // namespace warren::fuzz
