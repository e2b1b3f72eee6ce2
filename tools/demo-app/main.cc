// warren-demo-app: the app the demo runs inside its pods.
//   warren-demo-app serve PORT           echo server; prints each client's address
//   warren-demo-app call IP:PORT MESSAGE connect, print what the app sees, send, print the echo
//   warren-demo-app http PORT [BYTES]    HTTP/1.1 app (keep-alive, Content-Length or chunked bodies): answers
//                                        200 "<METHOD> <target> served", prints each as http: METHOD target,
//                                        then http-header: lines and a chunked body's http-trailer: lines;
//                                        with BYTES, the body is padded with 'x' to BYTES (a benchmark's size);
//                                        a request with x-reply-trailer: fields is answered chunked, each
//                                        field's value a trailer line of the answer, as sent; with
//                                        x-reply-delay-ms: N it answers N ms after the request (a slow app)
// It knows nothing about Warren: what it prints is what any app would see.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string addrString(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
  inet_ntop(AF_INET, &in.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(in.sin_port));
}

int listenOn(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0) {
    std::fprintf(stderr, "listen on :%d: %s\n", port, std::strerror(errno));
    return -1;
  }
  std::printf("listening on :%d\n", port);
  std::fflush(stdout);
  return fd;
}

int serve(int port) {
  int fd = listenOn(port);
  if (fd < 0) return 1;
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int c = ::accept(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    if (c < 0) continue;
    std::printf("server: connection from %s\n", addrString(peer).c_str());
    std::fflush(stdout);
    std::thread([c] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(c, buf, sizeof(buf))) > 0)
        if (::write(c, buf, n) != n) break;
      ::close(c);
    }).detach();
  }
}

// Reads until `buf` holds `delim`; its offset, or npos when the peer closed first.
size_t readUntil(int c, std::string& buf, const char* delim) {
  char tmp[4096];
  size_t at;
  while ((at = buf.find(delim)) == std::string::npos) {
    ssize_t n = ::read(c, tmp, sizeof(tmp));
    if (n <= 0) return std::string::npos;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return at;
}

// A chunked body, dropped, and its trailer section's lines (RFC 9112 7.1); false
// when the peer closed first.
bool readChunked(int c, std::string& buf, std::vector<std::string>& trailers) {
  for (;;) {
    const size_t eol = readUntil(c, buf, "\r\n");
    if (eol == std::string::npos) return false;
    const size_t size = std::strtoul(buf.c_str(), nullptr, 16);
    buf.erase(0, eol + 2);
    if (size == 0) break;
    while (buf.size() < size + 2) {
      char tmp[4096];
      ssize_t n = ::read(c, tmp, sizeof(tmp));
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
    }
    buf.erase(0, size + 2);
  }
  for (;;) {
    const size_t eol = readUntil(c, buf, "\r\n");
    if (eol == std::string::npos) return false;
    std::string line = buf.substr(0, eol);
    buf.erase(0, eol + 2);
    if (line.empty()) return true;
    trailers.push_back(std::move(line));
  }
}

// One HTTP/1.1 connection: requests in turn, each answered 200. Enough of HTTP for
// an app behind the mesh; it trusts its peer (the waypoint normalises requests).
void serveHttp(int c, size_t bodyBytes) {
  std::string buf;
  char tmp[4096];
  for (;;) {
    const size_t end = readUntil(c, buf, "\r\n\r\n");
    if (end == std::string::npos) return (void)::close(c);
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t length = 0;
    if (auto cl = lower.find("\r\ncontent-length:"); cl != std::string::npos)
      length = std::strtoul(lower.c_str() + cl + 17, nullptr, 10);
    while (buf.size() < length) {
      ssize_t n = ::read(c, tmp, sizeof(tmp));
      if (n <= 0) return (void)::close(c);
      buf.append(tmp, static_cast<size_t>(n));
    }
    buf.erase(0, length);
    std::vector<std::string> trailers;
    if (lower.find("\r\ntransfer-encoding: chunked") != std::string::npos && !readChunked(c, buf, trailers))
      return (void)::close(c);
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string request = line.substr(0, line.rfind(' '));  // "GET /balance/1"
    std::printf("http: %s\n", request.c_str());
    // Then its header lines, so tests see what the mesh added or removed.
    for (size_t at = head.find("\r\n"); at != std::string::npos;) {
      const size_t next = head.find("\r\n", at + 2);
      std::printf("http-header: %s\n", head.substr(at + 2, next == std::string::npos ? next : next - at - 2).c_str());
      at = next;
    }
    for (const auto& t : trailers) std::printf("http-trailer: %s\n", t.c_str());
    std::fflush(stdout);
    std::string body = request + " served\n";
    if (body.size() < bodyBytes) body.append(bodyBytes - body.size(), 'x');
    std::string replyTrailers;  // x-reply-trailer values, each a line of the answer's trailer section
    for (size_t at = lower.find("\r\nx-reply-trailer:"); at != std::string::npos;
         at = lower.find("\r\nx-reply-trailer:", at + 2)) {
      size_t from = at + 19, to = head.find("\r\n", from);
      while (from < head.size() && head[from] == ' ') ++from;
      replyTrailers += head.substr(from, to == std::string::npos ? to : to - from) + "\r\n";
    }
    if (auto delay = lower.find("\r\nx-reply-delay-ms:"); delay != std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::strtoul(lower.c_str() + delay + 19, nullptr, 10)));
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", body.size());
    const std::string resp =
        replyTrailers.empty()
            ? "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: " + std::to_string(body.size()) +
                  "\r\n\r\n" + body
            : "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n" + std::string(size) +
                  body + "\r\n0\r\n" + replyTrailers + "\r\n";
    if (::write(c, resp.data(), resp.size()) != static_cast<ssize_t>(resp.size())) break;
  }
  ::close(c);
}

int http(int port, size_t bodyBytes) {
  int fd = listenOn(port);
  if (fd < 0) return 1;
  for (;;) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c >= 0) std::thread(serveHttp, c, bodyBytes).detach();
  }
}

int call(const std::string& target, const std::string& message) {
  auto colon = target.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "call: want IP:PORT\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
  if (inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "call: bad IP in %s\n", target.c_str());
    return 2;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::printf("client: connect %s failed: %s\n", target.c_str(), std::strerror(errno));
    return 1;
  }
  sockaddr_storage local{}, peer{};
  socklen_t len = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  len = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    // Already reset: the tunnel refused the connection right after accepting it.
    std::printf("client: connection to %s refused: %s\n", target.c_str(), std::strerror(errno));
    ::close(fd);
    return 1;
  }
  std::printf("client: connected %s -> %s (getpeername)\n", addrString(local).c_str(), addrString(peer).c_str());
  std::string reply;
  int err = 0;
  if (::write(fd, message.data(), message.size()) < 0) err = errno;
  char buf[4096];
  while (!err && reply.size() < message.size()) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) err = errno;
    if (n <= 0) break;
    reply.append(buf, n);
  }
  if (err)
    std::printf("client: sent \"%s\", got no answer: %s\n", message.c_str(), std::strerror(err));
  else
    std::printf("client: sent \"%s\", echo \"%s\"\n", message.c_str(), reply.c_str());
  ::close(fd);
  return reply == message ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "serve") return serve(std::atoi(argv[2]));
  if (argc == 4 && std::string(argv[1]) == "call") return call(argv[2], argv[3]);
  if ((argc == 3 || argc == 4) && std::string(argv[1]) == "http")
    return http(std::atoi(argv[2]), argc == 4 ? std::strtoul(argv[3], nullptr, 10) : 0);
  std::fprintf(stderr, "usage: warren-demo-app serve PORT | call IP:PORT MESSAGE | http PORT [BYTES]\n");
  return 2;
}
