#include "telemetry/admin_auth.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <string_view>

#include "common/file_io.h"

namespace warren::telemetry {
namespace {

constexpr std::string_view kBearer = "Bearer ";

// Constant time in the token's length, so the answer's timing tells nothing about
// how many leading characters were right.
bool sameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

AdminVerdict judgeAdminRequest(const HttpRequest& request, const std::optional<std::string>& token) {
  if (request.method == "GET") return AdminVerdict::kAllowed;
  if (!token) return AdminVerdict::kDisabled;
  auto it = request.headers.find("authorization");
  if (it == request.headers.end() || it->second.compare(0, kBearer.size(), kBearer) != 0)
    return AdminVerdict::kNoCredentials;
  return sameToken(std::string_view(it->second).substr(kBearer.size()), *token) ? AdminVerdict::kAllowed
                                                                                : AdminVerdict::kWrongToken;
}

HttpResponse adminRefusal(AdminVerdict verdict, const HttpRequest& request, const std::string& tokenFile) {
  const std::string what = request.method + " " + request.path;
  switch (verdict) {
    case AdminVerdict::kNoCredentials: {
      HttpResponse r = HttpResponse::text(
          401, what +
                   " changes the daemon and needs the admin token: send \"Authorization: Bearer <token>\" with "
                   "the token from " +
                   tokenFile + " (root only; warrenctl run as root on the node sends it)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"warren-admin\"");
      return r;
    }
    case AdminVerdict::kWrongToken:
      return HttpResponse::text(403, what + ": the bearer token is not this daemon's admin token (" + tokenFile +
                                         " holds the current one; it changes at every start)");
    case AdminVerdict::kDisabled:
      return HttpResponse::text(
          403, what + ": changes through the admin port are disabled: the admin token file " +
                   (tokenFile.empty() ? std::string("is not configured") : tokenFile + " could not be written"));
    case AdminVerdict::kAllowed: break;
  }
  return HttpResponse::text(500, "BUG: adminRefusal called for an allowed request");
}

Result<std::string> makeAdminToken() {
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof(raw)) {
    const ssize_t n = ::getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("getrandom");
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char c : raw) {
    token += hex[c >> 4];
    token += hex[c & 15];
  }
  return token;
}

Status writeAdminToken(const std::string& path, const std::string& token) {
  if (path.empty()) return makeError("no admin token file configured");
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errnoError("create " + dir);
  }
  return writeFileAtomic(path, token + "\n", 0600);
}

std::atomic<uint64_t>& adminRefusals() {
  static std::atomic<uint64_t> count{0};
  return count;
}

}  // namespace warren::telemetry
