#include "telemetry/http_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "io/tcp.h"
#include "telemetry/http_parser.h"

namespace warren::telemetry {
namespace {

using Clock = std::chrono::steady_clock;

// One recv() at most this much: bounds the time one busy client holds the thread.
constexpr size_t kReadChunk = 16 * 1024;
// Accepts per wake-up, so a connect flood cannot starve connections already open.
constexpr int kAcceptBurst = 256;
// After EMFILE and friends the listener stays readable; without a pause the loop
// would spin at 100% CPU until a descriptor frees up.
constexpr std::chrono::milliseconds kAcceptPause{100};

std::string serialize(const HttpResponse& r) {
  std::string out;
  out.reserve(160 + r.body.size());
  out += "HTTP/1.1 " + std::to_string(r.status) + " " + httpReason(r.status) + "\r\n";
  out += "Content-Type: " + r.contentType + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

}  // namespace

RefusedConnections& refusedConnections() {
  static RefusedConnections counts;
  return counts;
}

const char* httpReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

struct HttpServer::Connection {
  enum class Phase {
    kReading,   // collecting the request
    kWriting,   // sending the answer
    kDraining,  // answer sent and write side shut: read until the client closes, so
                // unread request bytes cannot turn our close into a reset that
                // destroys the answer before the client has read it
  };
  UniqueFd fd;
  std::string source;  // sourceKey(peer): its slot is given back under this key
  Clock::time_point deadline;
  Phase phase = Phase::kReading;
  std::string in;
  std::string out;
  size_t written = 0;
};

HttpServer::HttpServer(HttpServerOptions options, UniqueFd listener, std::string boundAddress, uint16_t port)
    : options_(std::move(options)),
      listener_(std::move(listener)),
      boundAddress_(std::move(boundAddress)),
      port_(port) {}

Result<std::unique_ptr<HttpServer>> HttpServer::create(HttpServerOptions options) {
  const std::string what = options.name + " server";
  auto addr = io::parseHostPort(options.address);
  if (!addr) return withContext(addr.error(), what);
  auto listener = io::listenTcp(*addr, /*mark=*/0, options.reusePort, /*backlog=*/1024);
  if (!listener) return withContext(listener.error(), what);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(listener->get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return withContext(errnoError("getsockname " + options.address), what);
  auto server = std::unique_ptr<HttpServer>(
      new HttpServer(std::move(options), std::move(*listener), io::formatSockaddr(bound), io::portOf(bound)));
  server->wakeFd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!server->wakeFd_) return withContext(errnoError("eventfd"), what);
  return server;
}

HttpServer::~HttpServer() {
  if (thread_.joinable()) {
    stopping_ = true;
    uint64_t one = 1;
    // Cannot fail short of a counter overflow; poll() wakes on any non-zero value.
    [[maybe_unused]] auto n = ::write(wakeFd_.get(), &one, sizeof(one));
    thread_.join();
  }
}

void HttpServer::route(std::string method, std::string path, HttpHandler handler) {
  std::lock_guard lock(routesMutex_);
  routes_[std::move(path)][std::move(method)] = std::move(handler);
}

std::vector<std::string> HttpServer::routes() const {
  std::lock_guard lock(routesMutex_);
  std::vector<std::string> out;
  for (const auto& [path, methods] : routes_)
    for (const auto& entry : methods) out.push_back(entry.first + " " + path);
  return out;
}

Status HttpServer::start() {
  if (started_) return makeError(options_.name + " server: already started");
  started_ = true;
  thread_ = std::thread([this] { run(); });
  spdlog::info("{} server listening on {}", options_.name, boundAddress_);
  return okStatus();
}

HttpResponse HttpServer::dispatch(const HttpRequest& request) {
  if (options_.gate)
    if (auto refusal = options_.gate(request)) return std::move(*refusal);
  HttpHandler handler;
  {
    std::lock_guard lock(routesMutex_);
    auto byPath = routes_.find(request.path);
    if (byPath == routes_.end()) return HttpResponse::text(404, "not found: " + request.path);
    auto byMethod = byPath->second.find(request.method);
    if (byMethod == byPath->second.end()) {
      std::string allow;
      for (const auto& entry : byPath->second) allow += (allow.empty() ? "" : ", ") + entry.first;
      HttpResponse r = HttpResponse::text(
          405, "method " + request.method + " not allowed on " + request.path + "; allowed: " + allow);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    handler = byMethod->second;  // copied: the handler runs without the lock held
  }
  try {
    return handler(request);
  } catch (const std::exception& e) {
    spdlog::warn("{} server: handler for {} {} failed: {}", options_.name, request.method, request.path, e.what());
    return HttpResponse::text(500, "internal error");
  } catch (...) {
    spdlog::warn("{} server: handler for {} {} failed", options_.name, request.method, request.path);
    return HttpResponse::text(500, "internal error");
  }
}

void HttpServer::respond(Connection& c, const HttpResponse& response) {
  c.out = serialize(response);
  c.written = 0;
  c.phase = Connection::Phase::kWriting;
  c.in.clear();
  c.in.shrink_to_fit();  // up to 72 KiB per connection we no longer need
}

bool HttpServer::onReadable(Connection& c) {
  if (c.phase == Connection::Phase::kDraining) {
    char sink[4096];
    for (int i = 0; i < 16; ++i) {  // bounded: a client streaming garbage gets no more than its turn
      const ssize_t n = ::recv(c.fd.get(), sink, sizeof(sink), 0);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
      return false;  // EOF or error: the client has what it will get
    }
    return true;
  }

  // A complete request never exceeds the two limits together, so a buffer this full
  // always parses to an answer: reading more could only waste memory.
  const size_t cap = options_.maxHeadBytes + options_.maxBodyBytes;
  bool eof = false;
  while (c.in.size() < cap) {
    const size_t want = std::min(kReadChunk, cap - c.in.size());
    const size_t old = c.in.size();
    c.in.resize(old + want);
    const ssize_t n = ::recv(c.fd.get(), c.in.data() + old, want, 0);
    c.in.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) continue;
    if (n == 0)
      eof = true;
    else if (errno == EINTR)
      continue;
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
      return false;
    break;
  }

  HttpRequest request;
  const ParseOutcome outcome = parseRequest(c.in, ParseLimits{options_.maxHeadBytes, options_.maxBodyBytes}, request);
  switch (outcome.state) {
    case ParseOutcome::State::kComplete: respond(c, dispatch(request)); break;
    case ParseOutcome::State::kError:
      spdlog::debug("{} server: refusing request: {} {}", options_.name, outcome.errorStatus, outcome.errorMessage);
      respond(c, HttpResponse::text(outcome.errorStatus, outcome.errorMessage));
      break;
    case ParseOutcome::State::kIncomplete:
      // A client that closes mid-request will never complete it: nothing to answer.
      return !eof;
  }
  return onWritable(c);
}

bool HttpServer::onWritable(Connection& c) {
  while (c.written < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // the client went away
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  c.phase = Connection::Phase::kDraining;
  c.out.clear();
  c.out.shrink_to_fit();
  return true;
}

int HttpServer::acceptAll(std::vector<std::unique_ptr<Connection>>& conns, io::ConnectionSlots& slots) {
  for (int i = 0; i < kAcceptBurst; ++i) {
    sockaddr_storage peer{};
    socklen_t peerLen = sizeof(peer);
    UniqueFd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &peerLen, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
      return 0;
    }
    std::string source = io::sourceKey(peer);
    const io::Admission admission = slots.take(source);
    if (admission != io::Admission::kAdmitted) {
      auto& refused = refusedConnections();
      (admission == io::Admission::kSourceFull ? refused.sourceFull : refused.serverFull)++;
      spdlog::debug("{} server: closing a new connection from {}: {} ({} open, {} from it)", options_.name,
                    io::formatSockaddr(peer), io::admissionName(admission), slots.open(), slots.openFrom(source));
      continue;  // fd closes here: the caps are what keep a flood from eating descriptors
    }
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->source = std::move(source);
    c->deadline = Clock::now() + options_.deadline;
    conns.push_back(std::move(c));
  }
  return 0;
}

void HttpServer::run() {
  std::vector<std::unique_ptr<Connection>> conns;
  io::ConnectionSlots slots(options_.maxConnections, options_.maxConnectionsPerSource);
  std::vector<pollfd> pfds;
  Clock::time_point acceptPausedUntil{};

  while (!stopping_) {
    const auto now = Clock::now();
    const bool acceptPaused = now < acceptPausedUntil;
    pfds.clear();
    pfds.push_back({wakeFd_.get(), POLLIN, 0});
    pfds.push_back({acceptPaused ? -1 : listener_.get(), POLLIN, 0});  // fd -1: poll skips it
    Clock::time_point wakeAt = acceptPaused ? acceptPausedUntil : Clock::time_point::max();
    for (const auto& c : conns) {
      pfds.push_back({c->fd.get(), static_cast<short>(c->phase == Connection::Phase::kWriting ? POLLOUT : POLLIN), 0});
      wakeAt = std::min(wakeAt, c->deadline);
    }
    int timeoutMs = -1;
    if (wakeAt != Clock::time_point::max()) {
      // Round up, or a deadline 0.4 ms away would spin through poll(0) until it passes.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(wakeAt - now).count();
      timeoutMs = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    const int ready = ::poll(pfds.data(), pfds.size(), timeoutMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{} server: poll failed: {}; stopping", options_.name, std::strerror(errno));
      return;
    }
    if (stopping_) return;

    const auto after = Clock::now();
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = *conns[i];
      const short revents = pfds[i + 2].revents;
      bool keep = true;
      if (revents & (POLLIN | POLLOUT | POLLHUP | POLLERR))
        keep = c.phase == Connection::Phase::kWriting ? onWritable(c) : onReadable(c);
      if (keep && after >= c.deadline) {
        spdlog::debug("{} server: connection reached its {} ms deadline, closing", options_.name,
                      options_.deadline.count());
        keep = false;
      }
      if (!keep) {
        slots.release(c.source);
        conns[i].reset();
      }
    }
    std::erase_if(conns, [](const auto& c) { return c == nullptr; });

    if (pfds[1].revents & POLLIN) {
      if (const int err = acceptAll(conns, slots)) {
        // EMFILE, ENFILE, ENOBUFS...: the process is short of something; back off
        // rather than spin, and keep serving the connections we have.
        spdlog::warn("{} server: accept failed: {}; pausing accepts for {} ms", options_.name, std::strerror(err),
                     kAcceptPause.count());
        acceptPausedUntil = Clock::now() + kAcceptPause;
      }
    }
  }
}

}  // namespace warren::telemetry
