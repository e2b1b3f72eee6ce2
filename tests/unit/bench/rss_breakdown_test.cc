#include "tools/bench/rss_breakdown.h"

#include <gtest/gtest.h>

namespace warren::bench {
namespace {

// Trimmed from a tunnel's /proc/PID/smaps: a library's two mappings, the heap, and
// two unnamed mappings (a thread's stack and its guard page).
constexpr const char* kSmaps =
    "7f1c00000000-7f1c00200000 r-xp 00000000 08:01 1234                    /usr/lib/x86_64-linux-gnu/libcrypto.so.3\n"
    "Size:               2048 kB\n"
    "Rss:                 900 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd ex mr mw me\n"
    "7f1c00400000-7f1c00410000 rw-p 00200000 08:01 1234                    /usr/lib/x86_64-linux-gnu/libcrypto.so.3\n"
    "Rss:                  64 kB\n"
    "Anonymous:            60 kB\n"
    "55d000000000-55d000100000 rw-p 00000000 00:00 0                          [heap]\n"
    "Rss:                1000 kB\n"
    "Anonymous:          1000 kB\n"
    "7f1b00000000-7f1b00800000 rw-p 00000000 00:00 0 \n"
    "Rss:                  24 kB\n"
    "Anonymous:            24 kB\n"
    "7f1b00800000-7f1b00801000 ---p 00000000 00:00 0\n"
    "Rss:                   0 kB\n"
    "Anonymous:             0 kB\n";

TEST(RssBreakdown, GroupsMappingsByNameLargestFirst) {
  RssBreakdown b = rssBreakdown(kSmaps);
  EXPECT_EQ(b.rssKb, 1988);
  EXPECT_EQ(b.anonKb, 1084);
  ASSERT_EQ(b.byName.size(), 3u);
  EXPECT_EQ(b.byName[0].name, "[heap]");
  EXPECT_EQ(b.byName[1].name, "/usr/lib/x86_64-linux-gnu/libcrypto.so.3");
  EXPECT_EQ(b.byName[1].rssKb, 964);
  EXPECT_EQ(b.byName[1].anonKb, 60);
  EXPECT_EQ(b.byName[1].mappings, 2u);
  // Unnamed mappings (thread stacks, guard pages, mmap'd malloc arenas) go together.
  EXPECT_EQ(b.byName[2].name, "[anon]");
  EXPECT_EQ(b.byName[2].rssKb, 24);
  EXPECT_EQ(b.byName[2].mappings, 2u);
}

TEST(RssBreakdown, TableSumsWhatIsNotListed) {
  const std::string t = rssTable(rssBreakdown(kSmaps), 1);
  EXPECT_NE(t.find("[heap]"), std::string::npos);
  EXPECT_EQ(t.find("libcrypto"), std::string::npos);
  EXPECT_NE(t.find("988"), std::string::npos) << t;  // 964 + 24, the two not listed
  EXPECT_NE(t.find("(2 others)"), std::string::npos) << t;
}

TEST(RssBreakdown, EmptyTextIsNothing) {
  RssBreakdown b = rssBreakdown("");
  EXPECT_EQ(b.rssKb, 0);
  EXPECT_TRUE(b.byName.empty());
}

}  // namespace
}  // namespace warren::bench
