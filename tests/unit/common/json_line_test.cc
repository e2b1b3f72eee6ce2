#include "common/json_line.h"

#include <cstdint>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/utf8.h"

namespace warren {
namespace {

// What the access logs wrote before JsonLine: nlohmann's dump in replace mode.
std::string nlohmannString(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string escaped(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

TEST(JsonLine, EscapesAsNlohmannDoes) {
  for (std::string s : {std::string(""), std::string("plain"), std::string("q\"b\\s"), std::string("\b\f\n\r\t"),
                        std::string("\x01\x1f\x7f", 3), std::string("nul\0in", 6), std::string("é€😀"),
                        std::string("\xff\xfe"), std::string("\xc0\xaf"), std::string("\xe2\x82"),
                        std::string("\xe2\x82"
                                    "A"),
                        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"), std::string("\xf0\x9f\x98"),
                        std::string("a\x80"
                                    "b"),
                        std::string("\xe0\x80\xaf")})
    EXPECT_EQ(escaped(s), nlohmannString(s)) << nlohmannString(s);
}

TEST(JsonLine, AgreesWithNlohmannOnRandomBytes) {
  // Bytes drawn mostly from the places where UTF-8 decoders differ: lead bytes,
  // continuation bytes, the edges of the E0/ED/F0/F4 ranges, controls and quotes.
  const unsigned char alphabet[] = {0x00, 0x09, 0x0a, 0x1f, 0x20, '"',  '\\', 'a',  0x7f, 0x80, 0x8f,
                                    0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec,
                                    0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  std::mt19937 rng(20261205);
  std::uniform_int_distribution<size_t> pick(0, sizeof(alphabet) - 1), len(0, 12);
  for (int n = 0; n < 50000; ++n) {
    std::string s;
    for (size_t k = len(rng); k > 0; --k) s += static_cast<char>(alphabet[pick(rng)]);
    ASSERT_EQ(escaped(s), nlohmannString(s)) << "input #" << n << ": " << nlohmannString(s);
  }
}

TEST(JsonLine, ObjectKeepsFieldOrderAndParses) {
  const std::string line = JsonLine()
                               .field("start_time", "2024-05-01T12:00:00.123Z")
                               .field("code", 403)
                               .field("bytes", uint64_t{18446744073709551615u})
                               .field("neg", int64_t{-7})
                               .field("path", std::string("/a\xff\n"))
                               .field("audit", std::vector<std::string>{"ns/p1", "q\""})
                               .field("none", std::vector<std::string>{})
                               .finish();
  EXPECT_EQ(line,
            "{\"start_time\":\"2024-05-01T12:00:00.123Z\",\"code\":403,\"bytes\":18446744073709551615,\"neg\":-7,"
            "\"path\":\"/a\xEF\xBF\xBD\\n\",\"audit\":[\"ns/p1\",\"q\\\"\"],\"none\":[]}");
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("bytes").get<uint64_t>(), 18446744073709551615u);
  EXPECT_EQ(std::string(JsonLine().finish()), "{}");
}

TEST(Utf8, SequenceLengthsFollowTheUnicodeTable) {
  EXPECT_EQ(utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(utf8SequenceLength("\xc3\xa9", 0), 2u);
  EXPECT_EQ(utf8SequenceLength("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(utf8SequenceLength("\xc1\xbf", 0), 0u);          // overlong
  EXPECT_EQ(utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8SequenceLength("\xe2\x82", 0), 0u);          // cut short
  EXPECT_EQ(utf8MaximalSubpart("\xe2\x82"
                               "A",
                               0),
            2u);
  EXPECT_EQ(utf8MaximalSubpart("\xed\xa0\x80", 0), 1u);
  EXPECT_EQ(utf8MaximalSubpart("\xff", 0), 1u);
}

}  // namespace
}  // namespace warren
