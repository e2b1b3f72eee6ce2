#include "source/kube/api_client.h"

#include <yaml-cpp/yaml.h>

#include "httpclient/response_reader.h"
#include "source/kube/watch_stream.h"
#include "source/yaml_util.h"

namespace warren::source::kube {

namespace {
// An error answer is a small Status; a list page of 500 pods is a few MiB.
constexpr size_t kMaxAnswer = 64u << 20;
constexpr size_t kMaxErrorBody = 64u << 10;
}  // namespace

std::string ApiAnswer::message() const {
  try {
    const YAML::Node n = YAML::Load(body);
    if (const std::string m = str(at(n, "message")); !m.empty()) return m;
  } catch (const YAML::Exception&) {
  }
  std::string start = body.substr(0, 200);
  for (char& c : start)
    if (c == '\n' || c == '\r') c = ' ';
  return start;
}

Result<httpclient::Connection> ApiClient::connect(const Outgoing& out, httpclient::Clock::time_point deadline) {
  auto token = bearerToken(config_);
  if (!token) return token.error();
  httpclient::ConnectOptions options{config_.tls, cancelFd_};
  auto conn = httpclient::Connection::open(config_.server, options, deadline);
  if (!conn) return withContext(conn.error(), "API server " + config_.server.hostHeader());
  std::string request = out.method + " " + config_.server.target + out.target +
                        " HTTP/1.1\r\nHost: " + config_.server.hostHeader() +
                        "\r\nAccept: application/json\r\nUser-Agent: warren-agent\r\nConnection: close\r\n";
  if (!token->empty()) request += "Authorization: Bearer " + *token + "\r\n";
  if (!out.contentType.empty())
    request += "Content-Type: " + out.contentType + "\r\nContent-Length: " + std::to_string(out.body.size()) + "\r\n";
  request += "\r\n" + out.body;
  if (auto s = conn->writeAll(request, deadline); !s) return withContext(s.error(), "API server");
  return conn;
}

Result<ApiAnswer> ApiClient::get(const std::string& target, std::chrono::milliseconds timeout) {
  return send("GET", target, "", "", timeout);
}

Result<ApiAnswer> ApiClient::send(const std::string& method, const std::string& target, const std::string& contentType,
                                  const std::string& body, std::chrono::milliseconds timeout) {
  const auto deadline = httpclient::Clock::now() + timeout;
  auto conn = connect({method, target, contentType, body}, deadline);
  if (!conn) return conn.error();
  ApiAnswer answer;
  httpclient::ResponseReader reader([&](std::string_view piece) -> Status {
    if (answer.body.size() + piece.size() > kMaxAnswer)
      return makeError("API answer over " + std::to_string(kMaxAnswer) + " bytes");
    answer.body.append(piece);
    return okStatus();
  });
  char buf[65536];
  while (!reader.complete()) {
    auto n = conn->read(buf, sizeof(buf), deadline);
    if (!n) return withContext(n.error(), "API server");
    if (auto s = reader.feed(buf, *n); !s) return withContext(s.error(), "API server");
  }
  answer.status = reader.status();
  return answer;
}

Result<ApiClient::StreamEnd> ApiClient::stream(const std::string& target, std::chrono::milliseconds idleTimeout,
                                               const std::function<Status(std::string_view)>& onLine) {
  auto conn = connect({"GET", target, "", ""}, httpclient::Clock::now() + connectTimeout_);
  if (!conn) return conn.error();
  StreamEnd end;
  LineSplitter lines;
  httpclient::ResponseReader* readerPtr = nullptr;
  httpclient::ResponseReader reader([&](std::string_view piece) -> Status {
    if (readerPtr->status() == 200) return lines.feed(piece, onLine);
    if (end.answer.body.size() + piece.size() <= kMaxErrorBody) end.answer.body.append(piece);
    return okStatus();
  });
  readerPtr = &reader;
  char buf[65536];
  while (!reader.complete()) {
    auto n = conn->read(buf, sizeof(buf), httpclient::Clock::now() + idleTimeout);
    if (!n) return withContext(n.error(), "watch stream");
    if (auto s = reader.feed(buf, *n); !s) return withContext(s.error(), "watch stream");
  }
  end.status = reader.status();
  end.answer.status = end.status;
  if (end.status == 200 && lines.midLine()) return makeError("watch stream ended inside an event");
  return end;
}

}  // namespace warren::source::kube
