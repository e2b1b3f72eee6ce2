// The waypoint's HTTP/2 pieces that need no sockets: telling HTTP/2 from HTTP/1.1
// by the first bytes, and the HTTP/1.1 head an HTTP/2 request becomes upstream.

#include <gtest/gtest.h>

#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/h2_session.h"
#include "waypoint/proxy/session_sniffer.h"

namespace warren::waypoint {
namespace {

TEST(SessionSniffer, ThePrefaceDecidesAndAnythingElseIsHttp1) {
  const std::string preface(kH2Preface);
  EXPECT_EQ(classifyFirstBytes(preface), DownstreamProtocol::Http2);
  EXPECT_EQ(classifyFirstBytes(preface + "\x00\x00\x00\x04"), DownstreamProtocol::Http2);
  for (size_t n = 1; n < preface.size(); ++n) EXPECT_EQ(classifyFirstBytes(preface.substr(0, n)), std::nullopt) << n;
  EXPECT_EQ(classifyFirstBytes("G"), DownstreamProtocol::Http1);
  EXPECT_EQ(classifyFirstBytes("POST / HTTP/1.1\r\n"), DownstreamProtocol::Http1);  // "P", then not "R"
  EXPECT_EQ(classifyFirstBytes("PRI * HTTP/1.1\r\n"), DownstreamProtocol::Http1);
  EXPECT_EQ(classifyFirstBytes("PRI * HTTP/2.0\r\n\r\nXX"), DownstreamProtocol::Http1);
}

http1::HeaderList pseudo(std::string method, std::string path, std::string authority) {
  return {{":method", method}, {":scheme", "http"}, {":authority", authority}, {":path", path}};
}

TEST(H2RequestHead, BecomesAnHttp1HeadWithTheJudgedFields) {
  auto r = h2RequestHead(pseudo("GET", "/balance/1?x=1", "ledger"),
                         {{"user-agent", "nghttp2"}, {"cookie", "a=1"}, {"cookie", "b=2"}, {"te", "trailers"}}, true);
  ASSERT_EQ(r.errorStatus, 0) << r.why;
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.target, "/balance/1?x=1");
  EXPECT_EQ(r.head.path, "/balance/1");
  EXPECT_EQ(r.head.host, "ledger");
  EXPECT_FALSE(r.head.chunked);
  EXPECT_FALSE(r.head.contentLength);
  EXPECT_EQ(r.head.header("cookie"), "a=1; b=2");
  EXPECT_EQ(r.head.header("te"), std::nullopt);
  EXPECT_TRUE(r.teTrailers);
  EXPECT_EQ(http1::serializeRequestHead(r.head),
            "GET /balance/1?x=1 HTTP/1.1\r\nhost: ledger\r\nuser-agent: nghttp2\r\ncookie: a=1; b=2\r\n\r\n");
}

TEST(H2RequestHead, BodyFramingFollowsContentLengthElseChunked) {
  auto withLength = h2RequestHead(pseudo("POST", "/p", "l"), {{"content-length", "5"}}, false);
  EXPECT_EQ(withLength.head.contentLength, 5u);
  EXPECT_FALSE(withLength.head.chunked);
  EXPECT_NE(http1::serializeRequestHead(withLength.head).find("content-length: 5\r\n"), std::string::npos);
  auto unknown = h2RequestHead(pseudo("POST", "/p", "l"), {}, false);
  EXPECT_TRUE(unknown.head.chunked);
  EXPECT_NE(http1::serializeRequestHead(unknown.head).find("transfer-encoding: chunked\r\n"), std::string::npos);
  auto empty = h2RequestHead(pseudo("POST", "/p", "l"), {}, true);
  EXPECT_EQ(empty.head.contentLength, 0u);
  auto get = h2RequestHead(pseudo("GET", "/p", "l"), {}, true);
  EXPECT_EQ(http1::serializeRequestHead(get.head), "GET /p HTTP/1.1\r\nhost: l\r\n\r\n");
}

TEST(H2RequestHead, AuthorityWinsOverHostAndHostStandsInForIt) {
  auto both = h2RequestHead(pseudo("GET", "/", "ledger"), {{"host", "evil"}}, true);
  EXPECT_EQ(both.head.host, "ledger");
  EXPECT_EQ(http1::serializeRequestHead(both.head), "GET / HTTP/1.1\r\nhost: ledger\r\n\r\n");
  auto hostOnly = h2RequestHead({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}}, {{"host", "l"}}, true);
  EXPECT_EQ(hostOnly.head.host, "l");
  auto none = h2RequestHead({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}}, {}, true);
  EXPECT_EQ(none.errorStatus, 400);
  auto connect = h2RequestHead({{":method", "CONNECT"}, {":authority", "x:1"}}, {}, false);
  EXPECT_EQ(connect.errorStatus, 501);
}

TEST(H2RequestHead, GrpcIsTheRequestProtocolForGrpcContentTypes) {
  EXPECT_EQ(requestProtocol({{"content-type", "application/grpc"}}), "grpc");
  EXPECT_EQ(requestProtocol({{"content-type", "application/grpc+proto"}}), "grpc");
  EXPECT_EQ(requestProtocol({{"content-type", "application/json"}}), "http");
  EXPECT_EQ(requestProtocol({}), "http");
}

}  // namespace
}  // namespace warren::waypoint
