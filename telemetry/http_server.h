#pragma once
// A minimal HTTP/1.1 server for the tunnel's telemetry ports (metrics, readiness,
// admin). Not a general web server: one request per connection, answered with
// `Connection: close`, no keep-alive, no chunked bodies, no TLS, no HTTP/2.
//
// Why its own: these ports face the pod network (15020/15021), so the server must
// survive hostile or broken clients without ever disturbing the data path. It runs
// on its own thread with non-blocking sockets and poll(2), bounds every buffer, and
// gives every connection a deadline, so a stalled client costs one slot for at most
// `deadline` and never delays anyone else. Slots are capped per source address too
// (ConnectionSlots), so one client's flood of slow connections cannot take them all.
//
// After answering, the server shuts its write side and reads until the client closes
// (or the deadline), instead of closing at once: closing with unread request bytes
// would send a reset that can destroy the answer in flight.
//
// Usage:
//   auto server = HttpServer::create({.name = "metrics", .address = "0.0.0.0:15020"});
//   if (!server) return server.error();
//   (*server)->route("GET", "/metrics", [&](const HttpRequest&) { return HttpResponse{...}; });
//   if (auto st = (*server)->start(); !st) return st.error();
//   ... the destructor stops the thread and closes every connection.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "io/connection_slots.h"

namespace warren::telemetry {

struct HttpRequest {
  std::string method;  // as sent, case-sensitive ("GET", "POST")
  std::string path;    // the target before '?', not percent-decoded (routes match it verbatim)
  // The query string split on '&' and '=', '+' read as space, percent-decoded. A key
  // without '=' maps to "". A repeated key keeps its last value.
  std::map<std::string, std::string> query;
  // Header names lower-cased; a repeated header keeps its last value.
  std::map<std::string, std::string> headers;
  std::string body;  // exactly Content-Length bytes (none without the header)
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers. Content-Type, Content-Length and Connection are always written by
  // the server; do not repeat them here.
  std::vector<std::pair<std::string, std::string>> headers;

  // A one-line plain-text answer (a newline is appended).
  static HttpResponse text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body) + "\n";
    return r;
  }
};

// Handlers run on the server's thread, one at a time: they must be thread-safe with
// respect to the rest of the program and should be quick (a slow handler delays the
// other clients of the same server, never the data path). An exception thrown by a
// handler becomes a 500.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Runs before routing, on every complete request: an answer refuses the request
// (sent instead of the handler's), nullopt lets it through. The admin port's token
// check; it covers routes added later, whoever adds them.
using HttpGate = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

struct HttpServerOptions {
  std::string name = "http";  // for logs and errors: "metrics", "readiness", "admin"
  std::string address;        // "ip:port" or "[ipv6]:port"; port 0 = ephemeral
  // From accept to close: reading the request, the handler, writing the answer. A
  // connection still open at its deadline is closed, whatever it was doing.
  std::chrono::milliseconds deadline{5000};
  // A new connection past either cap is closed at once, unanswered, and counted.
  // From accept to close, a slot lasts at most `deadline`.
  size_t maxConnections = 128;
  size_t maxConnectionsPerSource = 8;  // per source IP; 0: no per-source cap
  size_t maxHeadBytes = 8 * 1024;      // request line + headers; larger: 431
  size_t maxBodyBytes = 64 * 1024;     // Content-Length above this: 413
  HttpGate gate = {};                  // unset: every request reaches its route
  // SO_REUSEPORT: a second process of the same user may bind the same address
  // (a new tunnel started beside the old one during an upgrade; README "Hitless upgrade").
  bool reusePort = false;
};

// Connections closed at accept because a slot cap was reached, over every HttpServer
// of the process (warren_telemetry_connections_refused_total).
struct RefusedConnections {
  std::atomic<uint64_t> serverFull{0};
  std::atomic<uint64_t> sourceFull{0};
};
RefusedConnections& refusedConnections();

// The reason phrase for a status code ("Not Found"), "Unknown" for others.
const char* httpReason(int status);

class HttpServer {
 public:
  // Binds and listens (so a bad or busy address fails here, with the address in the
  // error), without serving yet: add routes, then start().
  static Result<std::unique_ptr<HttpServer>> create(HttpServerOptions options);

  // Stops the thread and closes the listener and every connection.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers (or replaces) the handler for `method path`. Safe from any thread, also
  // after start(). A request to a registered path with another method is a 405 that
  // lists the allowed ones; an unregistered path is a 404.
  void route(std::string method, std::string path, HttpHandler handler);

  // The registered routes as "METHOD path", ordered by path then method (for index pages).
  std::vector<std::string> routes() const;

  // Starts the serving thread. Calling it twice is an error.
  Status start();

  uint16_t port() const { return port_; }                       // the bound port (the real one for port 0)
  const std::string& address() const { return boundAddress_; }  // "127.0.0.1:34567"
  const std::string& name() const { return options_.name; }

 private:
  struct Connection;
  HttpServer(HttpServerOptions options, UniqueFd listener, std::string boundAddress, uint16_t port);

  void run();
  // Returns 0, or the errno that stopped accepting (other than EAGAIN).
  int acceptAll(std::vector<std::unique_ptr<Connection>>& conns, io::ConnectionSlots& slots);
  // Each returns false when the connection is finished and must be closed.
  bool onReadable(Connection& c);
  bool onWritable(Connection& c);
  void respond(Connection& c, const HttpResponse& response);
  HttpResponse dispatch(const HttpRequest& request);

  HttpServerOptions options_;
  UniqueFd listener_;
  UniqueFd wakeFd_;  // eventfd: the destructor's way to interrupt poll()
  std::string boundAddress_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  mutable std::mutex routesMutex_;
  std::map<std::string, std::map<std::string, HttpHandler>> routes_;  // path -> method -> handler
};

}  // namespace warren::telemetry
