#include "tools/warrenctl/admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/file_io.h"
#include "common/unique_fd.h"

namespace warren::ctl {
namespace {

constexpr int kTimeoutMs = 5000;

// "127.0.0.1:15000", "[::1]:15000": literal addresses only (the admin port is
// local; no resolver in a debugging tool's path).
Result<sockaddr_storage> parseAddress(const std::string& a) {
  sockaddr_storage ss{};
  auto colon = a.rfind(':');
  if (colon == std::string::npos) return makeError("admin address '" + a + "' is not HOST:PORT");
  std::string host = a.substr(0, colon), port = a.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p <= 0 || p > 65535) return makeError("admin address '" + a + "': bad port");
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(p));
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(p));
  } else {
    return makeError("admin address '" + a + "': '" + host + "' is not an IP address");
  }
  return ss;
}

bool waitFor(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, kTimeoutMs) == 1;
}

}  // namespace

std::string queryEscape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Result<std::string> readAdminToken(const std::string& file) {
  auto token = readTokenFile(file);
  if (!token)
    return makeError("cannot read warren-tunnel's admin token: " + token.error().message +
                     " (changing the tunnel needs root on its node, where warren-tunnel writes the token at start; "
                     "--admin-token-file selects another file)");
  return token;
}

Result<std::string> adminRequest(const std::string& address, const std::string& method, const std::string& target,
                                 const std::string& bearer, const std::string& body) {
  auto addr = parseAddress(address);
  if (!addr) return addr.error();
  const std::string where = "warren-tunnel's admin endpoint at " + address;
  UniqueFd fd(::socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
  socklen_t len = addr->ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), len) != 0)
    return makeError("cannot reach " + where + ": " + std::strerror(errno) +
                     " (is warren-tunnel running on this node? --admin selects another address)");
  const std::string auth = bearer.empty() ? "" : "Authorization: Bearer " + bearer + "\r\n";
  const std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + address + "\r\n" + auth +
                          "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd.get(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("send to " + where);
    off += static_cast<size_t>(n);
  }
  std::string raw;
  for (;;) {
    if (!waitFor(fd.get(), POLLIN)) return makeError(where + " did not answer within 5 s");
    char buf[16384];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("read from " + where);
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  auto headEnd = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || headEnd == std::string::npos)
    return makeError(where + " answered something that is not HTTP/1.1");
  int status = std::atoi(raw.c_str() + 9);
  std::string answer = raw.substr(headEnd + 4);
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  if (status < 200 || status > 299)
    return makeError(where + ": " + method + " " + target + ": " + std::to_string(status) + ": " + answer);
  return answer;
}

Result<Json> adminJson(const std::string& address, const std::string& method, const std::string& target,
                       const std::string& bearer, const std::string& body) {
  auto answer = adminRequest(address, method, target, bearer, body);
  if (!answer) return answer.error();
  auto j = Json::parse(*answer, nullptr, false);
  if (j.is_discarded()) return makeError("warren-tunnel's " + target + " is not JSON");
  return j;
}

}  // namespace warren::ctl
