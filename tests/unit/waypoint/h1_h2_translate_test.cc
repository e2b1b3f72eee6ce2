// Translation between HTTP/1.1 and HTTP/2 at the waypoint (h1_h2_translate.h):
// the HTTP/2 request an HTTP/1.1 (or HTTP/2) client's request becomes upstream,
// and the HTTP/1.1 response, framing and trailers an HTTP/2 upstream's answer
// becomes for an HTTP/1.1 client.

#include "waypoint/proxy/h1_h2_translate.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace warren::waypoint {
namespace {

using http1::HeaderList;

TEST(ConnectionSpecific, HopByHopNamesAndThoseConnectionLists) {
  const HeaderList fields = {{"connection", "close, X-Hop"}, {"x-hop", "1"}, {"x-end", "2"}};
  struct Case {
    const char* name;
    bool specific;
  } cases[] = {{"connection", true},        {"keep-alive", true}, {"proxy-connection", true},
               {"transfer-encoding", true}, {"upgrade", true},    {"te", true},
               {"trailer", true},           {"x-hop", true},      {"x-end", false},
               {"content-length", false},   {"host", false},      {"content-type", false}};
  for (const auto& c : cases) EXPECT_EQ(connectionSpecific(c.name, fields), c.specific) << c.name;
}

TEST(AcceptsTrailers, TeListsTrailersInAnyCase) {
  struct Case {
    HeaderList fields;
    bool accepts;
  } cases[] = {{{{"te", "trailers"}}, true},
               {{{"te", "gzip, Trailers"}}, true},
               {{{"te", "gzip"}, {"te", "trailers"}}, true},
               {{{"te", "gzip"}}, false},
               {{{"te", "trailersx"}}, false},
               {{{"x-te", "trailers"}}, false},
               {{}, false}};
  for (const auto& c : cases) EXPECT_EQ(acceptsTrailers(c.fields), c.accepts) << ::testing::PrintToString(c.fields);
}

http1::MessageHead http1Request(std::string method, HeaderList headers) {
  http1::MessageHead h;
  h.method = std::move(method);
  h.target = "/balance/1?x=1";
  h.path = "/balance/1";
  h.host = "10.96.0.22:8082";
  h.headers = std::move(headers);
  return h;
}

TEST(H2UpstreamRequest, PseudoHeadersFromTheJudgedHeadAndNoConnectionFields) {
  http1::MessageHead h;
  h.method = "POST";
  h.target = "/warren.demo.ledger.v1.Ledger/Balance";
  h.host = "10.96.0.21:9090";
  h.headers = {
      {"host", "evil"},    {"content-type", "application/grpc"}, {"connection", "x-hop"},   {"x-hop", "1"},
      {"keep-alive", "5"}, {"transfer-encoding", "chunked"},     {"grpc-timeout", "4999m"}, {"upgrade", "h2c"}};
  auto r = h2UpstreamRequest(h, /*teTrailers=*/true);
  EXPECT_EQ(r.pseudo, (HeaderList{{":method", "POST"},
                                  {":scheme", "http"},
                                  {":authority", "10.96.0.21:9090"},
                                  {":path", "/warren.demo.ledger.v1.Ledger/Balance"}}));
  EXPECT_EQ(r.fields,
            (HeaderList{{"content-type", "application/grpc"}, {"grpc-timeout", "4999m"}, {"te", "trailers"}}));
  EXPECT_EQ(h2UpstreamRequest(h, false).fields.back(), (std::pair<std::string, std::string>{"grpc-timeout", "4999m"}));
}

TEST(H2RequestForHttp1, HostBecomesAuthorityAndHopByHopFieldsGo) {
  struct Case {
    const char* what;
    HeaderList in, fields;
  } cases[] = {
      {"host is the :authority, not a field", {{"host", "10.96.0.22:8082"}, {"accept", "*/*"}}, {{"accept", "*/*"}}},
      {"connection, keep-alive, proxy-connection, upgrade go",
       {{"connection", "keep-alive, Upgrade"},
        {"keep-alive", "timeout=5"},
        {"proxy-connection", "keep-alive"},
        {"upgrade", "h2c"},
        {"accept", "*/*"}},
       {{"accept", "*/*"}}},
      {"names listed in Connection go", {{"connection", "x-hop"}, {"x-hop", "1"}, {"x-end", "2"}}, {{"x-end", "2"}}},
      {"transfer-encoding goes, the body is DATA",
       {{"transfer-encoding", "chunked"}, {"content-type", "text/plain"}},
       {{"content-type", "text/plain"}}},
      {"content-length stays (it frames DATA)", {{"content-length", "5"}}, {{"content-length", "5"}}},
      {"te other than trailers goes", {{"te", "gzip, deflate"}}, {}},
      {"te listing trailers is sent as te: trailers", {{"te", "gzip, trailers"}}, {{"te", "trailers"}}},
      {"expect: 100-continue is answered here, not passed on",
       {{"expect", "100-continue"}, {"content-length", "3"}},
       {{"content-length", "3"}}},
  };
  for (const auto& c : cases) {
    auto r = h2RequestForHttp1(http1Request("POST", c.in));
    EXPECT_EQ(r.fields, c.fields) << c.what;
    EXPECT_EQ(
        r.pseudo,
        (HeaderList{
            {":method", "POST"}, {":scheme", "http"}, {":authority", "10.96.0.22:8082"}, {":path", "/balance/1?x=1"}}))
        << c.what;
  }
}

TEST(ExpectsContinue, OnlyAnHttp11Expect100Continue) {
  auto h = http1Request("POST", {{"expect", "100-Continue"}});
  EXPECT_TRUE(expectsContinue(h));
  h.versionMinor = 0;
  EXPECT_FALSE(expectsContinue(h));
  EXPECT_FALSE(expectsContinue(http1Request("POST", {{"expect", "something-else"}})));
  EXPECT_FALSE(expectsContinue(http1Request("POST", {})));
}

TEST(Http1ResponseHead, FramingFollowsTheUpstreamsLengthElseChunked) {
  struct Case {
    const char* what;
    int status;
    HeaderList fields;
    bool endStream, headRequest, http10;
    std::string head;
    bool bodyless, chunked, closeDelimited;
    bool keepAlive = true;
  } cases[] = {
      {"a length stays the length",
       200,
       {{"content-type", "text/plain"}, {"content-length", "5"}},
       false,
       false,
       false,
       "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n",
       false,
       false,
       false},
      {"no length: chunked",
       200,
       {{"content-type", "text/plain"}},
       false,
       false,
       false,
       "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
       false,
       true,
       false},
      {"ended with its head: an empty body, stated",
       200,
       {{"server", "h2"}},
       true,
       false,
       false,
       "HTTP/1.1 200 OK\r\nserver: h2\r\ncontent-length: 0\r\n\r\n",
       false,
       false,
       false},
      {"to HTTP/1.0 without a length: ends with the connection",
       200,
       {{"server", "h2"}},
       false,
       false,
       true,
       "HTTP/1.1 200 OK\r\nserver: h2\r\nconnection: close\r\n\r\n",
       false,
       false,
       true},
      {"HEAD: the length informs, no body",
       200,
       {{"content-length", "42"}},
       true,
       true,
       false,
       "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n",
       true,
       false,
       false},
      {"204: no framing",
       204,
       {{"server", "h2"}},
       true,
       false,
       false,
       "HTTP/1.1 204 No Content\r\nserver: h2\r\n\r\n",
       true,
       false,
       false},
      {"304 keeps its length",
       304,
       {{"content-length", "7"}},
       true,
       false,
       false,
       "HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\n\r\n",
       true,
       false,
       false},
      {"pseudo and connection-specific fields go",
       404,
       {{":status", "404"},
        {"connection", "x-hop"},
        {"x-hop", "1"},
        {"keep-alive", "1"},
        {"transfer-encoding", "chunked"},
        {"upgrade", "h2c"},
        {"x-end", "2"}},
       false,
       false,
       false,
       "HTTP/1.1 404 Not Found\r\nx-end: 2\r\ntransfer-encoding: chunked\r\n\r\n",
       false,
       true,
       false},
      {"the connection closes after it: said",
       200,
       {{"content-length", "5"}},
       false,
       false,
       false,
       "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n",
       false,
       false,
       false,
       false},
      {"to HTTP/1.0 with a length, kept open: said, or HTTP/1.0 would close",
       200,
       {{"content-length", "5"}},
       false,
       false,
       true,
       "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n",
       false,
       false,
       false},
  };
  for (const auto& c : cases) {
    auto r = http1ResponseHead(c.status, c.fields, c.endStream, c.headRequest, c.http10, c.keepAlive);
    EXPECT_EQ(r.head, c.head) << c.what;
    EXPECT_EQ(r.bodyless, c.bodyless) << c.what;
    EXPECT_EQ(r.chunked, c.chunked) << c.what;
    EXPECT_EQ(r.closeDelimited, c.closeDelimited) << c.what;
  }
}

TEST(RelayedHttp1ResponseHead, AnHttp10ClientGetsNoChunksAndNoBodyAHeadResponse) {
  auto upstream = [](int status, bool chunked, std::optional<uint64_t> length) {
    http1::MessageHead h;
    h.status = status;
    h.chunked = chunked;
    h.contentLength = length;
    h.headers = {{"server", "app"}, {"connection", "keep-alive"}, {"transfer-encoding", "chunked"}};
    return h;
  };
  struct Case {
    const char* what;
    http1::MessageHead upstream;
    bool headRequest, http10;
    std::string head;
    bool bodyless, chunked, closeDelimited;
    bool keepAlive = true;
  } cases[] = {
      {"chunked to HTTP/1.1: stays chunked", upstream(200, true, {}), false, false,
       "HTTP/1.1 200 OK\r\nserver: app\r\ntransfer-encoding: chunked\r\n\r\n", false, true, false},
      {"chunked to HTTP/1.0: unchunked, ends with the connection", upstream(200, true, {}), false, true,
       "HTTP/1.1 200 OK\r\nserver: app\r\nconnection: close\r\n\r\n", false, false, true},
      {"a length to HTTP/1.0 stays the length; kept open, said", upstream(200, false, 5), false, true,
       "HTTP/1.1 200 OK\r\nserver: app\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n", false, false, false},
      {"a length to HTTP/1.0 that will close: said", upstream(200, false, 5), false, true,
       "HTTP/1.1 200 OK\r\nserver: app\r\ncontent-length: 5\r\nconnection: close\r\n\r\n", false, false, false, false},
      {"neither length nor chunks: ends with the connection, said", upstream(200, false, {}), false, false,
       "HTTP/1.1 200 OK\r\nserver: app\r\nconnection: close\r\n\r\n", false, false, true},
      {"HEAD answered chunked: no body, no last chunk", upstream(200, true, {}), true, false,
       "HTTP/1.1 200 OK\r\nserver: app\r\ntransfer-encoding: chunked\r\n\r\n", true, false, false},
      {"304 to HTTP/1.0 keeps its length", upstream(304, false, 7), false, true,
       "HTTP/1.1 304 Not Modified\r\nserver: app\r\ncontent-length: 7\r\nconnection: keep-alive\r\n\r\n", true, false,
       false},
      {"204: no framing", upstream(204, false, {}), false, false, "HTTP/1.1 204 No Content\r\nserver: app\r\n\r\n",
       true, false, false},
  };
  for (const auto& c : cases) {
    auto r = relayedHttp1ResponseHead(c.upstream, c.headRequest, c.http10, c.keepAlive);
    EXPECT_EQ(r.head, c.head) << c.what;
    EXPECT_EQ(r.bodyless, c.bodyless) << c.what;
    EXPECT_EQ(r.chunked, c.chunked) << c.what;
    EXPECT_EQ(r.closeDelimited, c.closeDelimited) << c.what;
  }
}

// Whoever the peer (a client that sent TE: trailers or not, a server), the
// trailers that may be trailers go on, as Envoy's HTTP/1 codec sends them.
TEST(LastChunkWithTrailers, TheForwardableTrailersEndTheBody) {
  const HeaderList trailers = {{"grpc-status", "0"},
                               {"grpc-message", "ok"},
                               {":status", "200"},
                               {"content-length", "1"},
                               {"connection", "x"},
                               {"host", "evil"},
                               {"transfer-encoding", "chunked"}};
  struct Case {
    const char* what;
    HeaderList trailers;
    std::string out;
  } cases[] = {
      {"the trailers that may be trailers", trailers, "0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n"},
      {"none: the bare last chunk", {}, "0\r\n\r\n"},
      {"none left after filtering: the bare last chunk", {{"connection", "close"}, {"te", "trailers"}}, "0\r\n\r\n"},
  };
  for (const auto& c : cases) EXPECT_EQ(lastChunkWithTrailers(c.trailers), c.out) << c.what;
}

// Request trailers from an HTTP/1.1 client go on as an HTTP/2 trailers block (or
// chunked trailers): a connection-specific field there would make an HTTP/2
// upstream fail the stream, and framing or routing fields must not be smuggled
// in after the head was judged.
TEST(ForwardableTrailers, DropHopByHopFramingRoutingAndPseudoFields) {
  const HeaderList in = {{"grpc-timeout", "1S"},  {"te", "trailers"},        {"connection", "x-private"},
                         {"x-private", "1"},      {"keep-alive", "5"},       {"proxy-connection", "keep-alive"},
                         {"upgrade", "h2c"},      {"trailer", "x-sum"},      {"transfer-encoding", "chunked"},
                         {"content-length", "3"}, {"host", "other.example"}, {":path", "/admin"},
                         {"x-sum", "abc"}};
  EXPECT_EQ(forwardableTrailers(in), (HeaderList{{"grpc-timeout", "1S"}, {"x-sum", "abc"}}));
  EXPECT_TRUE(forwardableTrailers({}).empty());
}

}  // namespace
}  // namespace warren::waypoint
