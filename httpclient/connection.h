#pragma once
// A blocking client connection: TCP (non-blocking underneath, so every wait has a
// deadline) and, for https, TLS verified against a chosen CA, optionally with a
// client certificate. Every wait also watches a cancel descriptor, so a thread
// blocked on a long read (a Kubernetes watch) stops at once on shutdown.
// Never on an event loop. OpenSSL writes with write(2): the process must ignore
// SIGPIPE (every Warren daemon does, common/daemon.h), or a peer that went away
// kills it instead of failing the write.

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"
#include "httpclient/url.h"
#include "ossl/ossl.h"

namespace warren::httpclient {

using Clock = std::chrono::steady_clock;

// PEM text from a file or given inline. A file is read at every connect, so a
// rotated certificate or CA bundle is picked up without a restart.
struct PemSource {
  std::string file;
  std::string pem;
  bool empty() const { return file.empty() && pem.empty(); }
  Result<std::string> load() const;
};

struct TlsOptions {
  PemSource ca;          // empty: the system trust store
  PemSource clientCert;  // with clientKey: mutual TLS (a kubeconfig's client-certificate)
  PemSource clientKey;
  std::string serverName;  // "": the URL's host; else the name the certificate must carry
};

struct ConnectOptions {
  TlsOptions tls;
  // Readable (an eventfd written, a pipe closed) = give up now: every wait then
  // fails with ECANCELED.
  int cancelFd = -1;
};

class Connection {
 public:
  // Connects (and handshakes, for https) before the deadline.
  static Result<Connection> open(const Url& url, const ConnectOptions& options, Clock::time_point deadline);

  Status writeAll(std::string_view data, Clock::time_point deadline);
  // Bytes read into buf; 0 at the end of the stream (a TLS peer that closes
  // without close_notify included: the HTTP framing decides if that was complete).
  Result<size_t> read(char* buf, size_t len, Clock::time_point deadline);

 private:
  Connection(UniqueFd fd, ossl::SslPtr ssl, int cancelFd)
      : fd_(std::move(fd)), ssl_(std::move(ssl)), cancelFd_(cancelFd) {}
  Status waitFor(short events, Clock::time_point deadline, const char* what);
  Status waitSsl(int rc, Clock::time_point deadline, const char* what);

  UniqueFd fd_;
  ossl::SslPtr ssl_;  // null for http://
  int cancelFd_ = -1;
};

}  // namespace warren::httpclient
