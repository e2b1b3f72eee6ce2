#pragma once
// TLS 1.3 over one non-blocking TCP socket, on the event loop: the transport under
// every HBONE connection (plaintext_transport.h), with no HTTP/2 in it, so that
// whatever speaks HTTP/2 (hbone::H2Connection, for the tunnel and the waypoint)
// can reuse the socket and TLS part.
//
// It owns the socket, the SSL and the ciphertext buffers (CipherBuffers): runs the
// handshake under a timeout, then checks what the context alone cannot (ALPN "h2"
// was negotiated, the peer's SPIFFE identity, and that it is the expected one).
// After that the owner drives the bytes, pull style, from its socket events:
// readSocket() does one read(2) of ciphertext, readPlain() hands out what decrypts
// from it, writePlain() encrypts into the output buffer (bytes taken, 0 when that
// buffer is full: the back-pressure), flush() sends it with send(2) until EAGAIN.
// Socket I/O is thus batched: one read(2) takes many records, one send(2) sends
// what a burst of records produced. Every send uses MSG_NOSIGNAL: a peer that went
// away is an error, not a SIGPIPE.
//
// Errors: a failure (handshake, timeout, socket or TLS error) is reported once
// through onFailed; the owner then stops the transport (stop(), then closeSocket()).
// The transport logs nothing: its owner names the connection in its logs.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/unique_fd.h"
#include "identity/identity.h"
#include "io/event_loop.h"
#include "tls/cipher_bio.h"
#include "tls/plaintext_transport.h"
#include "tls/tls_context.h"

namespace warren::tls {

class TlsTransport final : public PlaintextTransport {
 public:
  // A client passes the identity the server must present.
  TlsTransport(io::EventLoop& loop, UniqueFd sock, TlsContextPtr ctx, std::optional<identity::SpiffeId> expectedPeer);
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Creates the TLS session, watches the socket and arms the handshake timeout.
  void start(std::weak_ptr<void> guard, std::chrono::milliseconds handshakeTimeout, Callbacks callbacks) override;

  // --- after onReady (plaintext_transport.h) ---
  // One read(2) into the ciphertext buffer.
  SocketRead readSocket() override;
  // What decrypts from buffered ciphertext. PeerClosed: close_notify, or the
  // socket's EOF after the last whole record.
  Plaintext readPlain(char* buf, size_t len) override;
  void releaseIdleInput() override;
  // Encrypts into the output buffer.
  size_t writePlain(const uint8_t* data, size_t len) override;
  // send(2) until the output buffer is empty or EAGAIN (EPOLLOUT resumes).
  bool flush() override;
  bool outputPending() const override { return net_.out.pending() > 0; }
  // Watches EPOLLIN, plus EPOLLOUT while output is pending. After the handshake only.
  void updateInterest() override;

  // --- closing ---
  // Stops watching the socket and cancels the handshake timeout; with closeNotify,
  // a best-effort close_notify is sent.
  void stop(bool closeNotify) override;
  void closeSocket() override { sock_.reset(); }

  bool stopped() const { return phase_ == Phase::Stopped; }
  int socketFd() const { return sock_.get(); }  // for socket options; the transport does the I/O
  Role role() const override { return ctx_->role(); }
  const TlsContext* context() const override { return ctx_.get(); }
  const std::optional<identity::SpiffeId>& peerIdentity() const override { return peerIdentity_; }
  std::string describeSession() const override;
  void sessionNames(const char*& version, const char*& cipher) const override;
  // Ciphertext held in user space (input not yet decrypted, output not yet sent).
  size_t bufferedBytes() const override { return net_.in.pending() + net_.out.pending(); }

 private:
  enum class Phase { Handshaking, Open, Stopped };
  void onEvent(uint32_t events);
  void continueHandshake();
  void failed(const std::string& reason);

  io::EventLoop& loop_;
  UniqueFd sock_;
  uint32_t sockEvents_ = 0;  // what epoll watches on sock_; 0 = not registered
  TlsContextPtr ctx_;
  CipherBuffers net_;  // declared before ssl_: its BIO points here
  ossl::SslPtr ssl_;
  std::optional<identity::SpiffeId> expectedPeer_, peerIdentity_;
  Phase phase_ = Phase::Handshaking;
  uint64_t handshakeTimer_ = 0;
  std::weak_ptr<void> guard_;
  Callbacks callbacks_;
};

}  // namespace warren::tls
