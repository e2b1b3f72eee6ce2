#pragma once
// Requests to the Kubernetes API: one HTTPS connection per request, verified
// against the cluster CA, with `Authorization: Bearer` read from the token file
// at every connect (projected service-account tokens rotate). A whole answer
// for lists, a line-by-line stream for watches. Blocking; a cancel descriptor
// interrupts any wait.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "source/kube/kube_config.h"

namespace warren::source::kube {

struct ApiAnswer {
  int status = 0;
  std::string body;  // a non-2xx answer's body: usually a Status object
  // The API's own words from a Status body ("pods is forbidden: User ... cannot
  // list resource ..."), else the body's start.
  std::string message() const;
};

class ApiClient {
 public:
  ApiClient(KubeConfig config, int cancelFd, std::chrono::milliseconds connectTimeout = std::chrono::seconds(10))
      : config_(std::move(config)), cancelFd_(cancelFd), connectTimeout_(connectTimeout) {}

  // GET target (path and query), the whole answer within timeout.
  Result<ApiAnswer> get(const std::string& target, std::chrono::milliseconds timeout);
  // Any method with a body (PATCH with a merge patch), the whole answer within timeout.
  Result<ApiAnswer> send(const std::string& method, const std::string& target, const std::string& contentType,
                         const std::string& body, std::chrono::milliseconds timeout);

  struct StreamEnd {
    int status = 0;  // 200: the stream ran; otherwise `answer` holds the error answer
    ApiAnswer answer;
  };
  // GET target and hand each line of a 200 answer to onLine as it arrives; an
  // error from onLine stops the stream and is returned. idleTimeout bounds each
  // wait for bytes (a watch whose server went silent is dropped). Returns when
  // the server ends the answer; a stream cut before its end is an error (and
  // the lines delivered before it stand).
  Result<StreamEnd> stream(const std::string& target, std::chrono::milliseconds idleTimeout,
                           const std::function<Status(std::string_view)>& onLine);

  const KubeConfig& config() const { return config_; }

 private:
  struct Outgoing {
    std::string method = "GET", target, contentType, body;
  };
  Result<httpclient::Connection> connect(const Outgoing& out, httpclient::Clock::time_point deadline);

  KubeConfig config_;
  int cancelFd_;
  std::chrono::milliseconds connectTimeout_;  // connect, TLS handshake and sending the request
};

}  // namespace warren::source::kube
