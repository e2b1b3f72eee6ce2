#include "waypoint/proxy/grpc_reply.h"

#include <charconv>

namespace warren::waypoint {

int grpcStatusForHttp(int httpStatus) {
  switch (httpStatus) {
    case 400: return 13;  // INTERNAL
    case 401: return 16;  // UNAUTHENTICATED
    case 403: return 7;   // PERMISSION_DENIED
    case 404: return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504: return 14;  // UNAVAILABLE
    default: return 2;    // UNKNOWN
  }
}

std::string grpcMessageEncode(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

http1::HeaderList grpcLocalReplyFields(int httpStatus, std::string_view message) {
  return {{"content-type", "application/grpc"},
          {"grpc-status", std::to_string(grpcStatusForHttp(httpStatus))},
          {"grpc-message", grpcMessageEncode(message)}};
}

std::optional<int> grpcStatusIn(const http1::HeaderList& fields) {
  for (const auto& [n, v] : fields) {
    if (n != "grpc-status") continue;
    int code = -1;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), code);
    if (ec != std::errc() || end != v.data() + v.size() || code < 0) return std::nullopt;
    return code;
  }
  return std::nullopt;
}

}  // namespace warren::waypoint
