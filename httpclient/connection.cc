#include "httpclient/connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace warren::httpclient {

Result<std::string> PemSource::load() const {
  if (!pem.empty()) return pem;
  std::ifstream in(file);
  if (!in) return errnoError("read " + file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(std::min<long long>(left, 1 << 30)) : 0;
}

// Waits for fd (and the cancel fd, if any) before the deadline.
Status pollFor(int fd, short events, int cancelFd, Clock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p[2] = {{fd, events, 0}, {cancelFd, POLLIN, 0}};
    const int left = msLeft(deadline);
    if (left == 0) return makeError(std::string("timed out ") + what, ETIMEDOUT);
    int n = ::poll(p, cancelFd >= 0 ? 2 : 1, left);
    if (n > 0 && cancelFd >= 0 && p[1].revents) return makeError(std::string("cancelled ") + what, ECANCELED);
    if (n > 0) return okStatus();
    if (n == 0) return makeError(std::string("timed out ") + what, ETIMEDOUT);
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

Result<UniqueFd> connectTo(const Url& url, int cancelFd, Clock::time_point deadline) {
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
    if (auto w = pollFor(fd.get(), POLLOUT, cancelFd, deadline, "connecting"); !w) return w.error();
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return fd;
    last = std::strerror(err);
  }
  return makeError("connect to " + url.host + ":" + port + ": " + last);
}

using X509InfoStack = std::unique_ptr<STACK_OF(X509_INFO), void (*)(STACK_OF(X509_INFO)*)>;
void freeInfos(STACK_OF(X509_INFO) * s) { sk_X509_INFO_pop_free(s, X509_INFO_free); }

// Every certificate in a PEM text, in order.
Result<std::vector<ossl::X509Ptr>> certificatesIn(const std::string& pem, const std::string& what) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return makeError("TLS: " + sslErrors());
  X509InfoStack infos(PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr), freeInfos);
  std::vector<ossl::X509Ptr> out;
  if (infos)
    for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i)
      if (X509* x = sk_X509_INFO_value(infos.get(), i)->x509) out.push_back(ossl::share(x));
  ERR_clear_error();
  if (out.empty()) return makeError(what + " holds no PEM certificate");
  return out;
}

std::string describe(const PemSource& s, const std::string& inlineName) { return s.pem.empty() ? s.file : inlineName; }

Status loadTrust(SSL_CTX* ctx, const PemSource& ca) {
  if (ca.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return makeError("TLS: the system trust store: " + sslErrors());
    return okStatus();
  }
  const std::string what = "the CA " + describe(ca, "(inline data)");
  auto text = ca.load();
  if (!text) return withContext(text.error(), "TLS: the CA");
  auto certs = certificatesIn(*text, what);
  if (!certs) return withContext(certs.error(), "TLS");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (auto& c : *certs)
    if (X509_STORE_add_cert(store, c.get()) != 1) return makeError("TLS: " + what + ": " + sslErrors());
  return okStatus();
}

Status loadClientIdentity(SSL_CTX* ctx, const TlsOptions& o) {
  if (o.clientCert.empty() && o.clientKey.empty()) return okStatus();
  if (o.clientCert.empty() || o.clientKey.empty())
    return makeError("TLS: a client certificate needs both the certificate and its key");
  const std::string certWhat = "the client certificate " + describe(o.clientCert, "(inline data)");
  auto certText = o.clientCert.load();
  if (!certText) return withContext(certText.error(), "TLS: the client certificate");
  auto certs = certificatesIn(*certText, certWhat);
  if (!certs) return withContext(certs.error(), "TLS");
  if (SSL_CTX_use_certificate(ctx, (*certs)[0].get()) != 1) return makeError("TLS: " + certWhat + ": " + sslErrors());
  for (size_t i = 1; i < certs->size(); ++i)
    if (SSL_CTX_add1_chain_cert(ctx, (*certs)[i].get()) != 1) return makeError("TLS: " + certWhat + ": " + sslErrors());
  auto keyText = o.clientKey.load();
  if (!keyText) return withContext(keyText.error(), "TLS: the client key");
  ossl::BioPtr bio(BIO_new_mem_buf(keyText->data(), static_cast<int>(keyText->size())));
  ossl::EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  const std::string keyWhat = "the client key " + describe(o.clientKey, "(inline data)");
  if (!key) return makeError("TLS: " + keyWhat + " holds no PEM private key: " + sslErrors());
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    return makeError("TLS: " + keyWhat + " does not match " + certWhat + ": " + sslErrors());
  return okStatus();
}

Result<ossl::SslPtr> tlsFor(const Url& url, const TlsOptions& o, int fd) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return makeError("TLS: " + sslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (auto s = loadTrust(ctx.get(), o.ca); !s) return s.error();
  if (auto s = loadClientIdentity(ctx.get(), o); !s) return s.error();
  ossl::SslPtr ssl(SSL_new(ctx.get()));  // holds its own reference to ctx
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return makeError("TLS: " + sslErrors());
  const std::string& name = o.serverName.empty() ? url.host : o.serverName;
  in6_addr addr{};
  const bool ipLiteral = inet_pton(AF_INET, name.c_str(), &addr) == 1 || inet_pton(AF_INET6, name.c_str(), &addr) == 1;
  if (ipLiteral) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str()) != 1)
      return makeError("TLS: " + sslErrors());
  } else {
    if (SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1 || SSL_set1_host(ssl.get(), name.c_str()) != 1)
      return makeError("TLS: " + sslErrors());
  }
  return ssl;
}

}  // namespace

Result<Connection> Connection::open(const Url& url, const ConnectOptions& options, Clock::time_point deadline) {
  auto fd = connectTo(url, options.cancelFd, deadline);
  if (!fd) return fd.error();
  ossl::SslPtr ssl;
  if (url.tls) {
    auto made = tlsFor(url, options.tls, fd->get());
    if (!made) return made.error();
    ssl = std::move(*made);
  }
  Connection c(std::move(*fd), std::move(ssl), options.cancelFd);
  if (c.ssl_) {
    for (;;) {
      int rc = SSL_connect(c.ssl_.get());
      if (rc == 1) break;
      if (auto s = c.waitSsl(rc, deadline, "in the TLS handshake"); !s) return s.error();
    }
  }
  return c;
}

Status Connection::writeAll(std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
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
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto s = waitFor(POLLOUT, deadline, "writing the request"); !s) return s;
    } else {
      return errnoError("send");
    }
  }
  return okStatus();
}

Result<size_t> Connection::read(char* buf, size_t len, Clock::time_point deadline) {
  for (;;) {
    if (ssl_) {
      size_t got = 0;
      int rc = SSL_read_ex(ssl_.get(), buf, len, &got);
      if (rc == 1) return got;
      const int err = SSL_get_error(ssl_.get(), rc);
      if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        ERR_clear_error();
        return size_t{0};
      }
      if (auto s = waitSsl(rc, deadline, "reading the response"); !s) return s.error();
      continue;
    }
    ssize_t n = ::recv(fd_.get(), buf, len, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EAGAIN && errno != EINTR) return errnoError("recv");
    if (auto s = waitFor(POLLIN, deadline, "reading the response"); !s) return s.error();
  }
}

Status Connection::waitFor(short events, Clock::time_point deadline, const char* what) {
  return pollFor(fd_.get(), events, cancelFd_, deadline, what);
}

Status Connection::waitSsl(int rc, Clock::time_point deadline, const char* what) {
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ) return waitFor(POLLIN, deadline, what);
  if (err == SSL_ERROR_WANT_WRITE) return waitFor(POLLOUT, deadline, what);
  const long verify = SSL_get_verify_result(ssl_.get());
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return makeError(std::string("TLS: certificate verification failed: ") + X509_verify_cert_error_string(verify));
  }
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    const int e = errno;
    return makeError(std::string("TLS ") + what + ": " + (e ? std::strerror(e) : "connection closed by the peer"), e);
  }
  return makeError(std::string("TLS ") + what + ": " + sslErrors());
}

}  // namespace warren::httpclient
