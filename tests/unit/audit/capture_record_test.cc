// A capture event's audit record: pure, from the agent's event.

#include "audit/capture_record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace warren::audit {
namespace {

using nlohmann::json;

const auto kAt = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'765'000'000'250));

TEST(CaptureRecord, AnOptOutNamesThePodItsPreviousStateAndWhyInAFixedOrder) {
  const agent::CaptureEvent e{agent::CaptureEvent::Kind::Uncaptured,
                              "mesh",
                              "client",
                              "uid-1",
                              "captured",
                              "opted_out",
                              "pod mesh/client opts out with warren.io/mode=disabled"};
  const std::string fields = captureAuditFields(e, "node1", kAt);
  size_t at = 0;
  for (const char* k : {"event", "node", "namespace", "pod", "uid", "previous", "reason", "detail", "time"}) {
    const size_t found = fields.find("\"" + std::string(k) + "\":", at);
    ASSERT_NE(found, std::string::npos) << k << " missing or out of order in " << fields;
    at = found;
  }
  const json j = json::parse("{" + fields + "}");
  EXPECT_EQ(j["event"], "uncaptured");
  EXPECT_EQ(j["node"], "node1");
  EXPECT_EQ(j["namespace"], "mesh");
  EXPECT_EQ(j["pod"], "client");
  EXPECT_EQ(j["uid"], "uid-1");
  EXPECT_EQ(j["previous"], "captured");
  EXPECT_EQ(j["reason"], "opted_out");
  EXPECT_EQ(j["detail"], "pod mesh/client opts out with warren.io/mode=disabled");
  EXPECT_EQ(j["time"], "2025-12-06T05:46:40.250Z");
}

TEST(CaptureRecord, EveryEventKindHasItsName) {
  using K = agent::CaptureEvent::Kind;
  for (auto [kind, name] : {std::pair{K::Started, "started"}, std::pair{K::Captured, "captured"},
                            std::pair{K::Uncaptured, "uncaptured"}, std::pair{K::Released, "released"}}) {
    const json j = json::parse("{" + captureAuditFields({kind, "", "", "", "", "", ""}, "n", kAt) + "}");
    EXPECT_EQ(j["event"], name);
  }
}

}  // namespace
}  // namespace warren::audit
