#include "jwt/base64url.h"

#include <cstdint>

namespace warren::jwt {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string base64urlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buf = (buf << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buf >> bits) & 0x3f]);
    }
    buf &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kAlphabet[(buf << (6 - bits)) & 0x3f]);
  return out;
}

Result<std::string> base64urlDecode(std::string_view text) {
  // 4n+1 characters carry 6 bits past a whole byte: no encoder writes that.
  if (text.size() % 4 == 1) return makeError("base64url: impossible length " + std::to_string(text.size()));
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buf = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = sextet(text[i]);
    if (v < 0) {
      return makeError(text[i] == '=' ? "base64url: padding is not allowed"
                                      : "base64url: invalid character at offset " + std::to_string(i));
    }
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
    buf &= (1u << bits) - 1;
  }
  if (buf != 0) return makeError("base64url: non-zero bits after the last byte");
  return out;
}

}  // namespace warren::jwt
