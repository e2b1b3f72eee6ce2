#pragma once
// TLS 1.3 over one non-blocking TCP socket, on the event loop: the transport under
// an HBONE connection, with no HTTP/2 in it, so that whatever speaks HTTP/2 (the
// tunnel's H2Connection, later the waypoint) can reuse the socket and TLS part.
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
#include "tls/tls_context.h"

namespace warren::tls {

class TlsTransport {
 public:
  struct Callbacks {
    // The handshake completed and the peer is verified: plaintext may flow. Once.
    std::function<void()> onReady;
    // A socket event after the handshake: the owner reads and writes.
    std::function<void(uint32_t events)> onSocketEvent;
    // The transport cannot go on. The owner stops it (it may already be stopped:
    // then ignore). Never called after stop().
    std::function<void(const std::string& reason)> onFailed;
  };

  // A client passes the identity the server must present.
  TlsTransport(io::EventLoop& loop, UniqueFd sock, TlsContextPtr ctx, std::optional<identity::SpiffeId> expectedPeer);
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Creates the TLS session, watches the socket and arms the handshake timeout.
  // Callbacks run only while `guard` (the owner's weak_from_this()) lives, and hold
  // it while they run. A setup error reaches onFailed from the loop, not from here.
  void start(std::weak_ptr<void> guard, std::chrono::milliseconds handshakeTimeout, Callbacks callbacks);

  // --- after onReady ---

  enum class SocketRead { Filled, Drained, WouldBlock, Eof, NoRoom, Failed };
  // One read(2) into the ciphertext buffer. Filled: it took all the room there was
  // (more may be waiting). Failed: onFailed has been called.
  SocketRead readSocket();

  struct Plaintext {
    enum Kind {
      Data,        // `size` bytes were written to the caller's buffer
      Wait,        // nothing more until more ciphertext arrives (or output drains)
      PeerClosed,  // close_notify, or the socket's EOF after the last whole record
      Failed,      // TLS error: onFailed has been called
    } kind;
    size_t size = 0;
  };
  // The next plaintext decrypted from buffered ciphertext: at most len bytes.
  Plaintext readPlain(char* buf, size_t len);
  // Frees the input buffer when it holds nothing (an idle connection holds none).
  void releaseIdleInput();

  // Encrypts into the output buffer: bytes taken, fewer than len (maybe 0) when it
  // is full. On a TLS error onFailed is called and the count so far returned.
  size_t writePlain(const uint8_t* data, size_t len);
  // Sends the output buffer until it is empty or the socket is full (then EPOLLOUT
  // resumes, see updateInterest). false: the socket failed (onFailed called).
  bool flush();
  bool outputPending() const { return net_.out.pending() > 0; }
  // Watches EPOLLIN, plus EPOLLOUT while output is pending. After the handshake only.
  void updateInterest();

  // --- closing ---

  // Stops watching the socket and cancels the handshake timeout; with closeNotify,
  // a best-effort close_notify is sent. No callback runs after this.
  void stop(bool closeNotify);
  // Closes the socket (after stop()).
  void closeSocket() { sock_.reset(); }

  bool stopped() const { return phase_ == Phase::Stopped; }
  int socketFd() const { return sock_.get(); }  // for socket options; the transport does the I/O
  const std::optional<identity::SpiffeId>& peerIdentity() const { return peerIdentity_; }
  const TlsContext& context() const { return *ctx_; }
  // "TLSv1.3 ..." for logs (tls::describeSession).
  std::string describeSession() const;
  // The session's protocol and cipher names (static strings), or nulls before
  // the handshake completed.
  void sessionNames(const char*& version, const char*& cipher) const;
  // Ciphertext held in user space (input not yet decrypted, output not yet sent).
  size_t bufferedBytes() const { return net_.in.pending() + net_.out.pending(); }

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
