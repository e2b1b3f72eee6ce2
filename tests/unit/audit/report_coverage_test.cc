// The report's coverage section, pure: the agents' `capture` records in, each
// pod's uncaptured intervals in the window and the counts out. Table tests:
// each case is one node's records (t seconds after 10:00) and a window.

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "audit/chain.h"
#include "audit/report.h"
#include "audit/report_json.h"
#include "audit/signing_key.h"

namespace warren::audit {
namespace {

Millis at(int t) { return *parseUtcTimestamp("2026-12-06T10:00:00Z") + t * 1000LL; }

CaptureRow started(int t, const std::string& node = "node1") {
  return {node, "started", "", "", "", "", "", "", at(t)};
}
CaptureRow captured(int t, const std::string& pod, const std::string& ns = "mesh") {
  return {"node1", "captured", ns, pod, "uid-" + pod, "", "enrolled", "namespace " + ns + " captures", at(t)};
}
CaptureRow uncaptured(int t, const std::string& pod, const std::string& reason, const std::string& ns = "mesh") {
  return {"node1", "uncaptured", ns, pod, "uid-" + pod, "", reason, "because " + reason, at(t)};
}
CaptureRow released(int t, const std::string& pod, const std::string& reason = "pod_deleted") {
  return {"node1", "released", "mesh", pod, "uid-" + pod, "", reason, "", at(t)};
}

// "pod reason from-to" per uncaptured interval (to "open": so at the last record).
std::vector<std::string> intervals(const Coverage& c) {
  std::vector<std::string> out;
  for (const auto& u : c.uncaptured)
    for (const auto& iv : u.intervals)
      out.push_back(u.ns + "/" + u.pod + " " + iv.reason + " " + std::to_string((iv.start - at(0)) / 1000) + "-" +
                    (iv.end ? std::to_string((*iv.end - at(0)) / 1000) : std::string("open")));
  return out;
}

TEST(ReportCoverage, EachPodsUncapturedIntervalsWithTheirReasonAndTheCounts) {
  struct Case {
    std::string name;
    std::vector<CaptureRow> rows;
    std::optional<int> since, until;
    std::vector<std::string> want;
    uint64_t seen, always;
  };
  const std::vector<Case> cases = {
      {"captured throughout", {started(0), captured(0, "a")}, {}, {}, {}, 1, 1},
      {"opted out for an interval, then captured again",
       {started(0), captured(0, "a"), uncaptured(10, "a", "opted_out"), captured(20, "a")},
       {},
       {},
       {"mesh/a opted_out 10-20"},
       1,
       0},
      {"opted out from its start, still at the last record",
       {started(0), uncaptured(5, "b", "opted_out")},
       {},
       {},
       {"mesh/b opted_out 5-open"},
       1,
       0},
      {"released (deleted) then made again and captured: two pods, both always captured",
       {started(0), captured(0, "a"), released(10, "a"),
        CaptureRow{"node1", "captured", "mesh", "a", "uid-a2", "", "enrolled", "", at(12)}},
       {},
       {},
       {},
       2,
       2},
      {"released because its namespace stopped capturing: out of scope, not uncaptured",
       {started(0), captured(0, "a"), released(10, "a", "namespace_disabled")},
       {},
       {},
       {},
       1,
       1},
      {"a failed enrollment, then the reason changes: two intervals",
       {started(0), uncaptured(0, "a", "enrollment_failed"), uncaptured(4, "a", "blocked"), captured(6, "a")},
       {},
       {},
       {"mesh/a enrollment_failed 0-4", "mesh/a blocked 4-6"},
       1,
       0},
      {"the window clips an interval at both ends",
       {started(0), captured(0, "a"), uncaptured(10, "a", "opted_out"), captured(40, "a")},
       15,
       30,
       {"mesh/a opted_out 15-30"},
       1,
       0},
      {"an open interval ends at --until",
       {started(0), uncaptured(10, "a", "opted_out")},
       {},
       30,
       {"mesh/a opted_out 10-30"},
       1,
       0},
      {"uncaptured only before the window: always captured within it",
       {started(0), uncaptured(0, "a", "opted_out"), captured(10, "a")},
       10,
       {},
       {},
       1,
       1},
      {"uncaptured only after the window: always captured within it",
       {started(0), captured(0, "a"), uncaptured(30, "a", "opted_out")},
       {},
       30,
       {},
       1,
       1},
      {"a pod in scope only outside the window is not seen",
       {started(0), captured(0, "a"), released(5, "a"), captured(10, "b")},
       20,
       {},
       {},
       1,
       1},
      {"an agent restart that changes nothing continues the interval",
       {started(0), uncaptured(0, "a", "opted_out"), started(50), uncaptured(50, "a", "opted_out")},
       {},
       {},
       {"mesh/a opted_out 0-open"},
       1,
       0},
      {"a pod the restarted agent no longer states ended at the restart",
       {started(0), uncaptured(0, "a", "opted_out"), started(50), captured(50, "b")},
       {},
       {},
       {"mesh/a opted_out 0-50"},
       2,
       1},
  };
  for (const auto& c : cases) {
    ReportOptions o;
    if (c.since) o.since = at(*c.since);
    if (c.until) o.until = at(*c.until);
    const Coverage cov = coverageOf(c.rows, o);
    EXPECT_TRUE(cov.recorded) << c.name;
    EXPECT_EQ(intervals(cov), c.want) << c.name;
    EXPECT_EQ(cov.podsSeen, c.seen) << c.name;
    EXPECT_EQ(cov.alwaysCaptured, c.always) << c.name;
  }
}

TEST(ReportCoverage, TheNamespaceSelectsPodsAndNodesAreNamed) {
  const std::vector<CaptureRow> rows = {started(0), started(0, "node2"), uncaptured(1, "a", "opted_out"),
                                        uncaptured(1, "x", "opted_out", "other")};
  ReportOptions o;
  o.ns = "other";
  const Coverage c = coverageOf(rows, o);
  EXPECT_EQ(intervals(c), (std::vector<std::string>{"other/x opted_out 1-open"}));
  EXPECT_EQ(c.nodes, (std::vector<std::string>{"node1", "node2"}));
}

// From signed files: an agent's records make the section, and the "not
// recorded" statement goes; without an agent's file it stays and says why.
struct Key {
  ossl::EvpPkeyPtr pkey{EVP_EC_gen("P-256")};
};

VerifiedFiles agentFile(const Key& key, const std::vector<std::pair<std::string, std::string>>& records) {
  AuditFileText f{"node1-agent-00000000.audit.jsonl", {}, true};
  ChainHead head = startChain(kNoPreviousFile);
  f.lines.push_back(chainLine(head, "header", headerFields("node1-agent", 0, "t")));
  for (const auto& [type, fields] : records) f.lines.push_back(chainLine(head, type, fields));
  f.lines.push_back(*checkpointLine(head, checkpointFields(records.size(), true, "t"),
                                    [k = key.pkey.get()](std::string_view m) { return sign(k, m); }));
  VerifiedFiles g{{std::move(f)}, {}};
  g.verification = verifyAuditFiles(
      g.files, [k = key.pkey.get()](std::string_view m, std::string_view s) { return verify(k, m, s); });
  return g;
}

std::string captureFields(const std::string& event, const std::string& pod, const std::string& reason, int t) {
  return "\"event\":\"" + event + "\",\"node\":\"node1\",\"namespace\":\"mesh\",\"pod\":\"" + pod + "\",\"uid\":\"u-" +
         pod + "\",\"previous\":\"\",\"reason\":\"" + reason + "\",\"detail\":\"d\",\"time\":\"" +
         formatUtcTimestamp(at(t)) + "\"";
}

TEST(ReportCoverage, AnAgentsFileMakesTheSectionAndTheNotRecordedLineGoes) {
  Key key;
  const auto g = agentFile(key, {{"capture", captureFields("started", "", "", 0)},
                                 {"capture", captureFields("captured", "server", "enrolled", 0)},
                                 {"capture", captureFields("uncaptured", "client", "opted_out", 1)}});
  ASSERT_EQ(g.verification.exitCode(), 0);
  const Report r = buildReport(std::vector<VerifiedFiles>{g}, {});
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].records, 3u);
  EXPECT_TRUE(r.notRecorded.empty());
  EXPECT_EQ(r.coverage.podsSeen, 2u);
  EXPECT_EQ(r.coverage.alwaysCaptured, 1u);
  const auto j = reportJson(r);
  ASSERT_TRUE(j["coverage"].is_object()) << j.dump(2);
  EXPECT_EQ(j["coverage"]["pods_seen"], 2);
  EXPECT_EQ(j["coverage"]["pods_always_captured"], 1);
  ASSERT_EQ(j["coverage"]["uncaptured"].size(), 1u);
  EXPECT_EQ(j["coverage"]["uncaptured"][0]["pod"], "client");
  EXPECT_EQ(j["coverage"]["uncaptured"][0]["intervals"][0]["reason"], "opted_out");
  EXPECT_TRUE(j["coverage"]["uncaptured"][0]["intervals"][0]["end"].is_null());

  const Report none = buildReport(std::vector<VerifiedFiles>{}, {});
  ASSERT_EQ(none.notRecorded.size(), 1u);
  EXPECT_EQ(none.notRecorded[0].section, "coverage");
  EXPECT_EQ(none.notRecorded[0].status, "no agent audit file given");
  EXPECT_TRUE(reportJson(none)["coverage"].is_null());
}

TEST(ReportCoverage, TheControlMappingOffersCoverageAsEvidence) {
  const Report r = buildReport(std::vector<VerifiedFiles>{}, {});
  std::set<std::string> citing;
  for (const auto& c : r.controls)
    for (const auto& s : c.sections)
      if (s == kSectionCoverage) citing.insert(c.framework + " " + c.control);
  EXPECT_EQ(citing,
            (std::set<std::string>{"PCI DSS 4.0 4.2.1", "PCI DSS 4.0 1.3 / 1.4", "SOC 2 CC6.1", "SOC 2 CC6.7"}));
}

}  // namespace
}  // namespace warren::audit
