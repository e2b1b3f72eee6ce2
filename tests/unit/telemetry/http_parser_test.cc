// The request parser alone: what is complete, what is waited for, what is refused.

#include "telemetry/http_parser.h"

#include <gtest/gtest.h>

namespace warren::telemetry {
namespace {

using State = ParseOutcome::State;

ParseOutcome parse(std::string_view raw, HttpRequest& req, ParseLimits limits = {}) {
  return parseRequest(raw, limits, req);
}

TEST(HttpParser, PercentDecoding) {
  EXPECT_EQ(percentDecode("a%20b%2Fc%2f", false), "a b/c/");
  EXPECT_EQ(percentDecode("a+b", true), "a b");
  EXPECT_EQ(percentDecode("a+b", false), "a+b");
  EXPECT_EQ(percentDecode("%E2%9C%93", false), "\xE2\x9C\x93");
  EXPECT_FALSE(percentDecode("%", false));
  EXPECT_FALSE(percentDecode("%4", false));
  EXPECT_FALSE(percentDecode("%zz", false));
}

TEST(HttpParser, QueryStrings) {
  auto q = parseQuery("level=debug&empty=&flag&x=1&x=2&&sp=a+b%21");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("level"), "debug");
  EXPECT_EQ(q->at("empty"), "");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_EQ(q->at("x"), "2");  // last wins
  EXPECT_EQ(q->at("sp"), "a b!");
  EXPECT_EQ(q->size(), 5u);
  EXPECT_FALSE(parseQuery("a=%G0"));
}

TEST(HttpParser, CompleteRequestWithHeadersAndBody) {
  HttpRequest req;
  const auto out =
      parse("POST /logging?level=warn HTTP/1.1\r\nHost: x\r\nX-Thing:  v  \r\nContent-Length: 3\r\n\r\nabc", req);
  ASSERT_EQ(out.state, State::kComplete) << out.errorMessage;
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/logging");
  EXPECT_EQ(req.query.at("level"), "warn");
  EXPECT_EQ(req.headers.at("x-thing"), "v");
  EXPECT_EQ(req.body, "abc");
}

TEST(HttpParser, WaitsForTheRestOfHeadAndBody) {
  HttpRequest req;
  EXPECT_EQ(parse("GET /metr", req).state, State::kIncomplete);
  EXPECT_EQ(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", req).state, State::kIncomplete);
  EXPECT_EQ(parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", req).state, State::kIncomplete);
}

TEST(HttpParser, RefusesMalformedAndUnsupported) {
  struct Case {
    const char* raw;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET\r\n", 400},  // judged as soon as the request line is whole
      {"GET /x\r\n\r\n", 400},
      {"GET /x HTTP/1.1 extra\r\n\r\n", 400},
      {"GET x HTTP/1.1\r\n\r\n", 400},
      {"GET /x FTP/1.0\r\n\r\n", 400},
      {"G(T /x HTTP/1.1\r\n\r\n", 400},
      {"GET /x HTTP/2.0\r\n\r\n", 505},
      {"GET /x?a=%zz HTTP/1.1\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nno colon\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
      {"POST /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
  };
  for (const auto& c : cases) {
    HttpRequest req;
    const auto out = parse(c.raw, req);
    EXPECT_EQ(out.state, State::kError) << c.raw;
    EXPECT_EQ(out.errorStatus, c.status) << c.raw;
  }
}

TEST(HttpParser, EnforcesTheLimits) {
  HttpRequest req;
  const ParseLimits small{64, 10};
  EXPECT_EQ(parse("POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", req, small).errorStatus, 413);
  EXPECT_EQ(parse("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", req, small).state, State::kComplete);
  // Over the head limit with no end in sight, and with an end past the limit.
  EXPECT_EQ(parse("GET /x HTTP/1.1\r\nA: " + std::string(100, 'a'), req, small).errorStatus, 431);
  EXPECT_EQ(parse("GET /x HTTP/1.1\r\nA: " + std::string(100, 'a') + "\r\n\r\n", req, small).errorStatus, 431);
}

}  // namespace
}  // namespace warren::telemetry
