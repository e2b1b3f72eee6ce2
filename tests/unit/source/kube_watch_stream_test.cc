// A watch answer as bytes: HTTP chunked framing removed by the response reader,
// then one JSON event per line, whatever the chunk and read boundaries.

#include <gtest/gtest.h>

#include "httpclient/response_reader.h"
#include "source/kube/watch_stream.h"

namespace warren::source::kube {
namespace {

std::vector<std::string> splitAll(const std::vector<std::string>& feeds) {
  LineSplitter s;
  std::vector<std::string> lines;
  for (const auto& f : feeds) {
    auto st = s.feed(f, [&](std::string_view l) {
      lines.emplace_back(l);
      return okStatus();
    });
    EXPECT_TRUE(st);
  }
  EXPECT_FALSE(s.midLine());
  return lines;
}

TEST(LineSplitter, SeveralEventsInOneRead) {
  EXPECT_EQ(splitAll({"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"}),
            (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
}

TEST(LineSplitter, AnEventSplitAcrossReads) {
  EXPECT_EQ(splitAll({"{\"a\"", ":1}\n{\"b", "\":2}", "\n"}), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

TEST(LineSplitter, CrLfAndBlankLines) {
  EXPECT_EQ(splitAll({"{}\r\n\n", "\r\n{\"x\":0}\r", "\n"}), (std::vector<std::string>{"{}", "{\"x\":0}"}));
}

TEST(LineSplitter, AnUnfinishedLineIsHeld) {
  LineSplitter s;
  int lines = 0;
  ASSERT_TRUE(s.feed("{\"a\":1}\n{\"half", [&](std::string_view) {
    ++lines;
    return okStatus();
  }));
  EXPECT_EQ(lines, 1);
  EXPECT_TRUE(s.midLine());
}

TEST(LineSplitter, ARunawayLineIsAnError) {
  LineSplitter s(16);
  auto sink = [](std::string_view) { return okStatus(); };
  ASSERT_TRUE(s.feed("0123456789", sink));
  EXPECT_FALSE(s.feed("0123456789", sink));
}

TEST(LineSplitter, TheSinksErrorStopsTheFeed) {
  LineSplitter s;
  int seen = 0;
  auto st = s.feed("a\nb\nc\n", [&](std::string_view) { return ++seen == 2 ? Status(makeError("stop")) : okStatus(); });
  EXPECT_FALSE(st);
  EXPECT_EQ(seen, 2);
}

// The real shape: a chunked HTTP answer whose chunks cut events anywhere
// (inside one, or several in one), fed to the reader at every possible read
// boundary and one byte at a time.
TEST(WatchBody, EventsSurviveEveryChunkAndReadBoundary) {
  const std::string e1 = R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"11"}}})";
  const std::string e2 =
      R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"12"}}})";
  const std::string e3 = R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"13"}}})";
  auto chunk = [](const std::string& d) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%zx", d.size());
    return std::string(hex) + "\r\n" + d + "\r\n";
  };
  const std::string body1 = e1.substr(0, 20), body2 = e1.substr(20) + "\n" + e2 + "\n" + e3.substr(0, 5),
                    body3 = e3.substr(5) + "\n";
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           chunk(body1) + chunk(body2) + chunk(body3) + "0\r\n\r\n";
  auto run = [&](size_t readSize, size_t firstCut) {
    std::vector<std::string> lines;
    LineSplitter splitter;
    httpclient::ResponseReader reader([&](std::string_view piece) {
      return splitter.feed(piece, [&](std::string_view l) {
        lines.emplace_back(l);
        return okStatus();
      });
    });
    size_t at = 0;
    auto feed = [&](size_t n) {
      n = std::min(n, wire.size() - at);
      if (n == 0) return;  // a read of 0 bytes would mean "the connection ended"
      EXPECT_TRUE(reader.feed(wire.data() + at, n));
      at += n;
    };
    feed(firstCut);
    while (at < wire.size()) feed(readSize);
    EXPECT_TRUE(reader.complete());
    EXPECT_EQ(reader.status(), 200);
    EXPECT_FALSE(splitter.midLine());
    return lines;
  };
  const std::vector<std::string> want = {e1, e2, e3};
  for (size_t cut = 0; cut <= wire.size(); ++cut) ASSERT_EQ(run(wire.size(), cut), want) << "cut at " << cut;
  for (size_t readSize : {1, 2, 3, 7, 64}) ASSERT_EQ(run(readSize, 0), want) << "reads of " << readSize;
}

TEST(WatchBody, AStreamCutInsideAnEventIsNotComplete) {
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{\"type\":\"ADDED\",";
  LineSplitter splitter;
  httpclient::ResponseReader reader(
      [&](std::string_view piece) { return splitter.feed(piece, [](std::string_view) { return okStatus(); }); });
  ASSERT_TRUE(reader.feed(wire.data(), wire.size()));
  EXPECT_FALSE(reader.feed(nullptr, 0));  // the connection ended here
  EXPECT_FALSE(reader.complete());
  EXPECT_TRUE(splitter.midLine());
}

TEST(ParseWatchEvent, TypesObjectsAndResourceVersions) {
  auto added = parseWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"p","resourceVersion":"42"}}})");
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->type, WatchEvent::Type::Added);
  EXPECT_EQ(added->resourceVersion, "42");
  auto deleted = parseWatchEvent(R"({"type":"DELETED","object":{"metadata":{"name":"p","resourceVersion":"43"}}})");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->type, WatchEvent::Type::Deleted);
  auto bookmark = parseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"99"}}})");
  ASSERT_TRUE(bookmark);
  EXPECT_EQ(bookmark->type, WatchEvent::Type::Bookmark);
  EXPECT_EQ(bookmark->resourceVersion, "99");
}

TEST(ParseWatchEvent, AnErrorEventCarriesTheStatusCodeAndMessage) {
  auto e = parseWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (4711)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->type, WatchEvent::Type::Error);
  EXPECT_EQ(e->code, 410);
  EXPECT_EQ(e->message, "too old resource version: 5 (4711)");
}

TEST(ParseWatchEvent, MalformedEventsAreErrors) {
  EXPECT_FALSE(parseWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"p"}}})"));  // no resourceVersion
  EXPECT_FALSE(parseWatchEvent(R"({"type":"RENAMED","object":{"metadata":{"resourceVersion":"1"}}})"));
  EXPECT_FALSE(parseWatchEvent(R"({"type":"ADDED"})"));
  EXPECT_FALSE(parseWatchEvent(R"({"type":"ADDED","object":{)"));
  EXPECT_FALSE(parseWatchEvent("[1,2]"));
}

}  // namespace
}  // namespace warren::source::kube
