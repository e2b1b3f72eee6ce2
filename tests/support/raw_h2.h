#pragma once
// HTTP/2 frames written and read by hand over a blocking TLS connection: the peer
// an abuse or liveness test needs and no real HTTP/2 library will play (a header
// block left open, RST_STREAMs by the hundred, a server that never answers a
// CONNECT or a PING). Test code only: minimal HPACK (literal fields, no Huffman),
// no flow control, one thread.

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "common/unique_fd.h"
#include "ossl/ossl.h"
#include "tls/tls_context.h"

namespace warren::rawh2 {

inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

inline std::string u32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// One frame: 9-byte header + payload (RFC 9113 4.1).
inline std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  f += u32(stream & 0x7fffffff);  // the reserved top bit stays 0
  f.append(payload);
  return f;
}

inline std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& entries = {}) {
  std::string p;
  for (auto [id, value] : entries) {
    p.push_back(static_cast<char>(id >> 8));
    p.push_back(static_cast<char>(id));
    p += u32(value);
  }
  return frame(NGHTTP2_SETTINGS, 0, 0, p);
}
inline std::string settingsAck() { return frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, ""); }
inline std::string rstStream(uint32_t stream, uint32_t code) { return frame(NGHTTP2_RST_STREAM, 0, stream, u32(code)); }

// HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` holds the pattern bits.
inline std::string hpackInt(uint8_t first, int prefixBits, size_t v) {
  const size_t max = (1u << prefixBits) - 1;
  std::string out;
  if (v < max) {
    out.push_back(static_cast<char>(first | v));
    return out;
  }
  out.push_back(static_cast<char>(first | max));
  v -= max;
  while (v >= 128) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A "literal header field without indexing, new name" (RFC 7541 6.2.2).
inline std::string hpackLiteral(std::string_view name, std::string_view value) {
  std::string out = hpackInt(0x00, 4, 0);
  out += hpackInt(0x00, 7, name.size());
  out.append(name);
  out += hpackInt(0x00, 7, value.size());
  out.append(value);
  return out;
}

// The header block of `CONNECT authority` (plus any extra fields).
inline std::string connectBlock(std::string_view authority,
                                const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  std::string b = hpackLiteral(":method", "CONNECT") + hpackLiteral(":authority", authority);
  for (const auto& [k, v] : extra) b += hpackLiteral(k, v);
  return b;
}

struct Frame {
  uint8_t type = 0, flags = 0;
  uint32_t stream = 0;
  std::string payload;
  uint32_t errorCode() const {  // GOAWAY's or RST_STREAM's
    size_t at = type == NGHTTP2_GOAWAY ? 4 : 0;
    if (payload.size() < at + 4) return 0;
    const auto* p = reinterpret_cast<const uint8_t*>(payload.data()) + at;
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
  }
  // SETTINGS entries by id.
  std::optional<uint32_t> setting(uint16_t id) const {
    for (size_t i = 0; i + 6 <= payload.size(); i += 6) {
      const auto* p = reinterpret_cast<const uint8_t*>(payload.data()) + i;
      if (((p[0] << 8) | p[1]) == id)
        return (uint32_t(p[2]) << 24) | (uint32_t(p[3]) << 16) | (uint32_t(p[4]) << 8) | p[5];
    }
    return std::nullopt;
  }
};

// A blocking TLS connection (client or server end) speaking raw frames.
class RawTls {
 public:
  // Client: TCP to 127.0.0.1:port, TLS with `ctx` (our client certificate).
  static std::optional<RawTls> connect(uint16_t port, const tls::TlsContext& ctx) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return std::nullopt;
    RawTls t(std::move(fd), ctx);
    if (SSL_connect(t.ssl_.get()) != 1) return std::nullopt;
    return t;
  }
  // Server: a connection accepted from `listener`, TLS with `ctx`.
  static std::optional<RawTls> accept(int listener, const tls::TlsContext& ctx) {
    UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) return std::nullopt;
    RawTls t(std::move(fd), ctx);
    if (SSL_accept(t.ssl_.get()) != 1) return std::nullopt;
    return t;
  }

  bool write(std::string_view bytes) {
    while (!bytes.empty()) {
      int n = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next frame, or nothing if the peer closed (or reset) the connection or
  // `limit` passed first (timedOut() says which).
  std::optional<Frame> readFrame(std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    timedOut_ = false;
    setReadTimeout(limit);
    std::string hdr;
    if (!readExactly(9, hdr)) return std::nullopt;
    const auto* h = reinterpret_cast<const uint8_t*>(hdr.data());
    Frame f;
    const size_t len = (size_t(h[0]) << 16) | (size_t(h[1]) << 8) | h[2];
    f.type = h[3];
    f.flags = h[4];
    f.stream = ((uint32_t(h[5]) & 0x7f) << 24) | (uint32_t(h[6]) << 16) | (uint32_t(h[7]) << 8) | h[8];
    if (!readExactly(len, f.payload)) return std::nullopt;
    return f;
  }
  // Reads frames until one of `type` (returned), the connection's end or `limit`.
  std::optional<Frame> readUntil(uint8_t type, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timedOut_ = true;
        return std::nullopt;
      }
      auto f = readFrame(left);
      if (!f || f->type == type) return f;
    }
  }
  // Server: the client's connection preface (not a frame).
  bool readPreface() {
    std::string p;
    setReadTimeout(std::chrono::milliseconds(5000));
    return readExactly(kClientPreface.size(), p) && p == kClientPreface;
  }
  bool timedOut() const { return timedOut_; }
  int fd() const { return fd_.get(); }
  // TLS records received so far (OpenSSL reports each record's header to the
  // message callback): how the peer packed its frames.
  size_t recordsReceived() const { return *recordsIn_; }

 private:
  RawTls(UniqueFd fd, const tls::TlsContext& ctx) : fd_(std::move(fd)), ssl_(SSL_new(ctx.get())) {
    SSL_set_fd(ssl_.get(), fd_.get());
    SSL_set_msg_callback(ssl_.get(), [](int writeP, int, int contentType, const void*, size_t, SSL*, void* arg) {
      if (!writeP && contentType == SSL3_RT_HEADER) ++*static_cast<size_t*>(arg);
    });
    SSL_set_msg_callback_arg(ssl_.get(), recordsIn_.get());
  }
  void setReadTimeout(std::chrono::milliseconds limit) {
    timeval tv{static_cast<time_t>(limit.count() / 1000), static_cast<suseconds_t>((limit.count() % 1000) * 1000)};
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  bool readExactly(size_t n, std::string& out) {
    out.resize(n);
    size_t got = 0;
    while (got < n) {
      int r = SSL_read(ssl_.get(), out.data() + got, static_cast<int>(n - got));
      if (r <= 0) {
        const int err = SSL_get_error(ssl_.get(), r);
        // SO_RCVTIMEO expiring reads as "want read" (or a syscall error EAGAIN).
        timedOut_ =
            err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK));
        ERR_clear_error();
        return false;
      }
      got += static_cast<size_t>(r);
    }
    return true;
  }

  UniqueFd fd_;
  ossl::SslPtr ssl_;
  bool timedOut_ = false;
  std::unique_ptr<size_t> recordsIn_ = std::make_unique<size_t>(0);  // stable across moves
};

}  // namespace warren::rawh2
