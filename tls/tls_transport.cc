#include "tls/tls_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace warren::tls {

namespace {

std::string tlsFailure(SSL* ssl, int sslError, int savedErrno) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) return std::string("peer certificate rejected: ") + X509_verify_cert_error_string(verify);
  unsigned long e = ERR_get_error();
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
  }
  if (sslError == SSL_ERROR_SYSCALL)
    return savedErrno ? std::string(std::strerror(savedErrno)) : "connection closed by peer";
  if (sslError == SSL_ERROR_ZERO_RETURN) return "connection closed by peer (close_notify)";
  return "TLS error " + std::to_string(sslError);
}

}  // namespace

TlsTransport::TlsTransport(io::EventLoop& loop, UniqueFd sock, TlsContextPtr ctx,
                           std::optional<identity::SpiffeId> expectedPeer)
    : loop_(loop), sock_(std::move(sock)), ctx_(std::move(ctx)), expectedPeer_(std::move(expectedPeer)) {}

void TlsTransport::start(std::weak_ptr<void> guard, std::chrono::milliseconds handshakeTimeout, Callbacks callbacks) {
  guard_ = std::move(guard);
  callbacks_ = std::move(callbacks);
  ssl_.reset(SSL_new(ctx_->get()));
  auto bio = ssl_ ? newCipherBio(net_) : Result<BIO*>(ossl::sslError("SSL_new"));
  if (!bio) {
    std::string why = bio.error().message;
    loop_.post([keep = guard_.lock(), this, why] { failed(why); });
    return;
  }
  SSL_set_bio(ssl_.get(), *bio, *bio);  // one BIO, both directions: the SSL owns it
  if (ctx_->role() == Role::Client)
    SSL_set_connect_state(ssl_.get());
  else
    SSL_set_accept_state(ssl_.get());
  sockEvents_ = EPOLLIN | EPOLLOUT;
  std::weak_ptr<void> weak = guard_;
  if (auto st = loop_.watch(sock_.get(), sockEvents_,
                            [weak, this](uint32_t ev) {
                              if (auto keep = weak.lock()) onEvent(ev);
                            });
      !st) {
    std::string why = st.error().message;
    sockEvents_ = 0;
    loop_.post([keep = guard_.lock(), this, why] { failed(why); });
    return;
  }
  handshakeTimer_ = loop_.addTimer(handshakeTimeout, [weak, this, ms = handshakeTimeout.count()] {
    if (auto keep = weak.lock()) {
      handshakeTimer_ = 0;
      if (phase_ == Phase::Handshaking) failed("TLS handshake timed out after " + std::to_string(ms) + " ms");
    }
  });
}

void TlsTransport::failed(const std::string& reason) {
  if (phase_ == Phase::Stopped) return;
  if (callbacks_.onFailed) callbacks_.onFailed(reason);
}

void TlsTransport::onEvent(uint32_t events) {
  if (phase_ == Phase::Stopped) return;
  if (phase_ == Phase::Handshaking) {
    continueHandshake();
    return;
  }
  if (callbacks_.onSocketEvent) callbacks_.onSocketEvent(events);
}

void TlsTransport::continueHandshake() {
  for (;;) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_.get());
    int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
    if (!flush()) return;  // this flight, or the alert that ends the handshake
    if (rc == 1) break;
    if (err == SSL_ERROR_WANT_READ) {
      if (net_.inEof) return failed("TLS handshake: connection closed by peer");
      SocketRead r = readSocket();
      if (r == SocketRead::Failed) return;
      if (r != SocketRead::WouldBlock) continue;
    } else if (err != SSL_ERROR_WANT_WRITE) {
      return failed("TLS handshake: " + tlsFailure(ssl_.get(), err, 0));
    }
    // Wait for the peer's next flight, or for room to send ours.
    uint32_t want = EPOLLIN | (net_.out.pending() ? EPOLLOUT : 0u);
    if (want != sockEvents_ && loop_.modify(sock_.get(), want)) sockEvents_ = want;
    return;
  }
  loop_.cancelTimer(handshakeTimer_);
  handshakeTimer_ = 0;
  const unsigned char* alpn = nullptr;
  unsigned int alpnLen = 0;
  SSL_get0_alpn_selected(ssl_.get(), &alpn, &alpnLen);
  if (alpnLen != 2 || std::memcmp(alpn, "h2", 2) != 0) return failed("peer did not negotiate ALPN h2");
  auto peer = handshakePeerIdentity(ssl_.get(), ctx_->bundle().trustDomain);
  if (!peer) return failed("peer identity: " + peer.error().message);
  if (expectedPeer_ && *peer != *expectedPeer_)
    return failed("server presented identity " + peer->uri() + ", expected " + expectedPeer_->uri());
  peerIdentity_ = *peer;
  phase_ = Phase::Open;
  if (callbacks_.onReady) callbacks_.onReady();
}

std::string TlsTransport::describeSession() const { return tls::describeSession(ssl_.get()); }

void TlsTransport::sessionNames(const char*& version, const char*& cipher) const {
  const SSL_CIPHER* c = ssl_ && peerIdentity_ ? SSL_get_current_cipher(ssl_.get()) : nullptr;  // verified handshake
  version = c ? SSL_get_version(ssl_.get()) : nullptr;
  cipher = c ? SSL_CIPHER_get_name(c) : nullptr;
}

TlsTransport::SocketRead TlsTransport::readSocket() {
  if (net_.inEof) return SocketRead::Eof;
  if (net_.in.room() == 0) return SocketRead::NoRoom;
  for (;;) {
    char* dst = net_.in.writePtr();
    size_t room = net_.in.writable();
    ssize_t n = ::read(sock_.get(), dst, room);
    if (n > 0) {
      net_.in.commit(n);
      return static_cast<size_t>(n) == room ? SocketRead::Filled : SocketRead::Drained;
    }
    if (n == 0) {
      net_.inEof = true;
      return SocketRead::Eof;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return SocketRead::WouldBlock;
    failed(std::string("socket read: ") + std::strerror(errno));
    return SocketRead::Failed;
  }
}

TlsTransport::Plaintext TlsTransport::readPlain(char* buf, size_t len) {
  ERR_clear_error();
  int n = SSL_read(ssl_.get(), buf, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (n > 0) return {Plaintext::Data, static_cast<size_t>(n)};
  int err = SSL_get_error(ssl_.get(), n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {Plaintext::Wait};  // more bytes, or room
  // close_notify, or the socket's EOF without one: either way the peer is gone.
  if (err == SSL_ERROR_ZERO_RETURN || (net_.inEof && net_.in.pending() == 0)) return {Plaintext::PeerClosed};
  failed("TLS read: " + tlsFailure(ssl_.get(), err, 0));
  return {Plaintext::Failed};
}

void TlsTransport::releaseIdleInput() {
  if (net_.in.pending() == 0) net_.in.release();
}

size_t TlsTransport::writePlain(const uint8_t* data, size_t len) {
  size_t taken = 0;
  while (taken < len) {
    ERR_clear_error();
    // Partial-write mode: each call takes one record's worth.
    int n = SSL_write(ssl_.get(), data + taken, static_cast<int>(std::min<size_t>(len - taken, INT_MAX)));
    if (n > 0) {
      taken += n;
      continue;
    }
    int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;  // net_.out is full
    failed("TLS write: " + tlsFailure(ssl_.get(), err, 0));
    break;
  }
  return taken;
}

bool TlsTransport::flush() {
  while (net_.out.pending() > 0) {
    ssize_t n = ::send(sock_.get(), net_.out.readPtr(), net_.out.pending(), MSG_NOSIGNAL);
    if (n > 0) {
      net_.out.consume(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;  // EPOLLOUT resumes (updateInterest)
    failed(std::string("socket write: ") + std::strerror(n < 0 ? errno : EPIPE));
    return false;
  }
  net_.out.release();  // an idle connection holds no ciphertext buffer
  return true;
}

void TlsTransport::updateInterest() {
  if (phase_ != Phase::Open) return;
  uint32_t want = EPOLLIN | (net_.out.pending() > 0 ? EPOLLOUT : 0u);
  if (want == sockEvents_) return;
  if (loop_.modify(sock_.get(), want)) sockEvents_ = want;
}

void TlsTransport::stop(bool closeNotify) {
  if (phase_ == Phase::Stopped) return;
  phase_ = Phase::Stopped;
  loop_.cancelTimer(handshakeTimer_);
  handshakeTimer_ = 0;
  if (sockEvents_) loop_.unwatch(sock_.get());
  sockEvents_ = 0;
  if (closeNotify) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // best effort close_notify; the socket is non-blocking
    ERR_clear_error();
    flush();
  }
}

}  // namespace warren::tls
