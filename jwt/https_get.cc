#include "jwt/https_get.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include "common/unique_fd.h"
#include "ossl/ossl.h"

namespace warren::jwt {

Result<Url> parseUrl(const std::string& text) {
  Url u;
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    u.tls = false;
    u.port = 80;
    rest.remove_prefix(7);
  } else {
    return makeError("'" + text + "' is not an http:// or https:// URL");
  }
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view target = rest.substr(slash);
    target = target.substr(0, target.find('#'));
    u.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) return makeError("'" + text + "': user-info is not supported");
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return makeError("'" + text + "': unclosed '[' in the host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return makeError("'" + text + "': junk after the IPv6 host");
      port = after.substr(1);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, u.host.c_str(), &a6) != 1) return makeError("'" + text + "': bad IPv6 literal");
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return makeError("'" + text + "' has no host");
  if (!port.empty() || authority.ends_with(":")) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return makeError("'" + text + "': bad port '" + std::string(port) + "'");
    u.port = static_cast<uint16_t>(value);
  }
  return u;
}

namespace {

using Clock = std::chrono::steady_clock;


int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

Status waitFor(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int left = msLeft(deadline);
    if (left == 0) return makeError(std::string("timed out ") + what);
    int n = ::poll(&p, 1, left);
    if (n > 0) return okStatus();
    if (n == 0) return makeError(std::string("timed out ") + what);
    if (errno != EINTR) return errnoError("poll");
  }
}

std::string sslErrors() {
  std::string out;
  for (unsigned long e; (e = ERR_get_error()) != 0;) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "TLS error" : out;
}

Result<UniqueFd> connectTo(const Url& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return makeError("resolve " + url.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, ::freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd) return errnoError("socket");
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    if (auto w = waitFor(fd.get(), POLLOUT, deadline, "connecting"); !w) return w.error();
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return fd;
    last = std::strerror(err);
  }
  return makeError("connect to " + url.host + ":" + port + ": " + last);
}

// The byte stream: plain or TLS, both with the deadline.
class Stream {
 public:
  Stream(UniqueFd fd, ossl::SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}

  Status writeAll(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      ssize_t n;
      if (ssl_) {
        size_t written = 0;
        int rc = SSL_write_ex(ssl_.get(), data.data(), data.size(), &written);
        if (rc == 1) {
          data.remove_prefix(written);
          continue;
        }
        if (auto s = waitSsl(rc, deadline, "writing the request"); !s) return s;
        continue;
      }
      n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (auto s = waitFor(fd_.get(), POLLOUT, deadline, "writing the request"); !s) return s;
      } else {
        return errnoError("send");
      }
    }
    return okStatus();
  }

  // Bytes read (0 at the end of the stream).
  Result<size_t> read(char* buf, size_t len, Clock::time_point deadline) {
    for (;;) {
      if (ssl_) {
        size_t got = 0;
        int rc = SSL_read_ex(ssl_.get(), buf, len, &got);
        if (rc == 1) return got;
        const int err = SSL_get_error(ssl_.get(), rc);
        if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
        // A peer that closes without close_notify ends a read-to-close body too;
        // the HTTP parser decides whether that body was complete.
        if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return size_t{0};
        if (auto s = waitSsl(rc, deadline, "reading the response"); !s) return s.error();
        continue;
      }
      ssize_t n = ::recv(fd_.get(), buf, len, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EAGAIN && errno != EINTR) return errnoError("recv");
      if (auto s = waitFor(fd_.get(), POLLIN, deadline, "reading the response"); !s) return s.error();
    }
  }

  Status handshake(Clock::time_point deadline) {
    for (;;) {
      int rc = SSL_connect(ssl_.get());
      if (rc == 1) return okStatus();
      if (auto s = waitSsl(rc, deadline, "in the TLS handshake"); !s) return s;
    }
  }

 private:
  Status waitSsl(int rc, Clock::time_point deadline, const char* what) {
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ) return waitFor(fd_.get(), POLLIN, deadline, what);
    if (err == SSL_ERROR_WANT_WRITE) return waitFor(fd_.get(), POLLOUT, deadline, what);
    const long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK)
      return makeError(std::string("TLS: certificate verification failed: ") + X509_verify_cert_error_string(verify));
    return makeError(std::string("TLS ") + what + ": " + sslErrors());
  }

  UniqueFd fd_;
  ossl::SslPtr ssl_;
};

Result<ossl::SslPtr> tlsFor(const Url& url, const GetOptions& o, int fd) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return makeError("TLS: " + sslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = o.caFile.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                                      : SSL_CTX_load_verify_locations(ctx.get(), o.caFile.c_str(), nullptr);
  if (loaded != 1)
    return makeError("TLS: cannot load " + (o.caFile.empty() ? std::string("the system trust store") : o.caFile) +
                     ": " + sslErrors());
  ossl::SslPtr ssl(SSL_new(ctx.get()));  // holds its own reference to ctx
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return makeError("TLS: " + sslErrors());
  in6_addr addr{};
  const bool ipLiteral = inet_pton(AF_INET, url.host.c_str(), &addr) == 1 || inet_pton(AF_INET6, url.host.c_str(), &addr) == 1;
  if (ipLiteral) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), url.host.c_str()) != 1)
      return makeError("TLS: " + sslErrors());
  } else {
    if (SSL_set_tlsext_host_name(ssl.get(), url.host.c_str()) != 1 || SSL_set1_host(ssl.get(), url.host.c_str()) != 1)
      return makeError("TLS: " + sslErrors());
  }
  return ssl;
}

// libhttp-parser callbacks: the status, the body (capped), and completion.
struct Response {
  std::string body;
  size_t maxBytes = 0;
  bool tooLarge = false, complete = false;
};

int onBody(http_parser* p, const char* at, size_t len) {
  auto* r = static_cast<Response*>(p->data);
  if (r->body.size() + len > r->maxBytes) {
    r->tooLarge = true;
    return 1;
  }
  r->body.append(at, len);
  return 0;
}
int onComplete(http_parser* p) {
  static_cast<Response*>(p->data)->complete = true;
  return 0;
}

}  // namespace

Result<std::string> httpGet(const Url& url, const GetOptions& o) {
  const auto deadline = Clock::now() + o.timeout;
  auto fd = connectTo(url, deadline);
  if (!fd) return fd.error();
  ossl::SslPtr ssl;
  if (url.tls) {
    auto made = tlsFor(url, o, fd->get());
    if (!made) return made.error();
    ssl = std::move(*made);
  }
  Stream stream(std::move(*fd), std::move(ssl));
  if (url.tls)
    if (auto s = stream.handshake(deadline); !s) return s.error();

  const bool v6 = url.host.find(':') != std::string::npos;
  const bool defaultPort = url.port == (url.tls ? 443 : 80);
  const std::string host = (v6 ? "[" + url.host + "]" : url.host) + (defaultPort ? "" : ":" + std::to_string(url.port));
  const std::string request = "GET " + url.target + " HTTP/1.1\r\nHost: " + host +
                              "\r\nAccept: application/json\r\nUser-Agent: warren-waypoint\r\nConnection: close\r\n\r\n";
  if (auto s = stream.writeAll(request, deadline); !s) return s.error();

  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_body = onBody;
  settings.on_message_complete = onComplete;
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  Response response;
  response.maxBytes = o.maxBytes;
  parser.data = &response;
  char buf[16384];
  while (!response.complete) {
    auto n = stream.read(buf, sizeof(buf), deadline);
    if (!n) return n.error();
    // 0 bytes tells the parser the stream ended: a read-to-close body completes,
    // anything cut short is an error.
    const size_t used = http_parser_execute(&parser, &settings, buf, *n);
    if (response.tooLarge) return makeError("response body over " + std::to_string(o.maxBytes) + " bytes");
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || used != *n)
      return makeError(std::string("malformed HTTP response: ") + http_errno_description(HTTP_PARSER_ERRNO(&parser)));
    if (*n == 0 && !response.complete) return makeError("connection closed before the response was complete");
  }
  if (parser.status_code < 200 || parser.status_code > 299)
    return makeError("answered HTTP " + std::to_string(parser.status_code));
  return std::move(response.body);
}

}  // namespace warren::jwt
