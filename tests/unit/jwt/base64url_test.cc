#include "jwt/base64url.h"

#include <gtest/gtest.h>

#include "tests/support/jwt_mint.h"

namespace warren::jwt {
namespace {

// RFC 4648 §10 test vectors, without their padding.
TEST(Base64url, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64urlEncode(plain), encoded) << plain;
    auto decoded = base64urlDecode(encoded);
    ASSERT_TRUE(decoded) << encoded << ": " << decoded.error().message;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64url, UsesTheUrlSafeAlphabet) {
  const std::string bytes("\xfb\xff\xbf", 3);  // 111110 111111 111110 111111
  EXPECT_EQ(base64urlEncode(bytes), "-_-_");
  auto decoded = base64urlDecode("-_-_");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, bytes);
}

TEST(Base64url, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 7) {
    std::string in = all.substr(all.size() - len);
    // Agrees with the test's own encoder (OpenSSL's base64 with the URL alphabet).
    EXPECT_EQ(base64urlEncode(in), mint::b64url(in)) << len;
    auto out = base64urlDecode(base64urlEncode(in));
    ASSERT_TRUE(out) << len;
    EXPECT_EQ(*out, in);
  }
}

TEST(Base64url, RejectsWhatNoEncoderWrites) {
  for (const char* bad : {
           "Zg==",   // padding
           "Zm9v=",  // padding
           "Zm+v",   // '+' of standard base64
           "Zm/v",   // '/'
           "Zm9 v",  // whitespace
           "Zm9v\n",
           "Z",  // 4n+1 characters cannot end on a byte
           "Zm9vY",
           "Zh",   // "f" with non-zero unused bits: a second spelling of "Zg"
           "Zm9",  // "fo" is "Zm8"
       }) {
    auto r = base64urlDecode(bad);
    EXPECT_FALSE(r) << "accepted " << bad;
  }
  EXPECT_FALSE(base64urlDecode(std::string_view("Zm9v\0", 5)));
}

}  // namespace
}  // namespace warren::jwt
