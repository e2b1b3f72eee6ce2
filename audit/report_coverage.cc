// The report's coverage section: the agents' `capture` records (README "Audit
// evidence"), as intervals of each pod's capture state.
#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "audit/report.h"

namespace warren::audit {

namespace {

std::string captureField(const nlohmann::json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
}

// One pod's intervals as the records make them.
struct PodTrack {
  std::string node, ns, pod, uid;
  std::vector<CoverageInterval> intervals;
  bool open = false;            // the last interval has no end yet
  bool endedByRestart = false;  // ...it ended at its agent's restart, and may go on
  void close(Millis at) {
    if (!open) return;
    intervals.back().end = at;
    open = false;
  }
};

}  // namespace

std::optional<CaptureRow> captureRow(const nlohmann::json& j) {
  auto at = parseUtcTimestamp(captureField(j, "time"));
  if (!at) return std::nullopt;
  return CaptureRow{captureField(j, "node"),   captureField(j, "event"),  captureField(j, "namespace"),
                    captureField(j, "pod"),    captureField(j, "uid"),    captureField(j, "previous"),
                    captureField(j, "reason"), captureField(j, "detail"), *at};
}

Coverage coverageOf(std::vector<CaptureRow> rows, const ReportOptions& options) {
  Coverage out;
  out.recorded = !rows.empty();
  std::set<std::string> nodes;
  // Each node's records are in its own order already; across nodes, time decides.
  std::stable_sort(rows.begin(), rows.end(), [](const CaptureRow& a, const CaptureRow& b) { return a.time < b.time; });

  std::map<std::string, PodTrack> pods;  // by ns/pod#uid: a pod made again under its name is another pod
  for (const CaptureRow& r : rows) {
    nodes.insert(r.node);
    if (r.event == "started") {
      for (auto& [_, t] : pods) {
        if (t.node != r.node || !t.open) continue;
        t.close(r.time);
        t.endedByRestart = true;
      }
      continue;
    }
    const bool captured = r.event == "captured";
    if (!captured && r.event != "uncaptured" && r.event != "released") continue;  // a kind this version does not know
    PodTrack& t = pods[r.ns + "/" + r.pod + "#" + r.uid];
    if (t.pod.empty()) t = {r.node, r.ns, r.pod, r.uid, {}, false, false};
    if (r.event == "released") {
      t.close(r.time);
      t.endedByRestart = false;
      continue;
    }
    const bool same =
        !t.intervals.empty() && t.intervals.back().captured == captured && t.intervals.back().reason == r.reason;
    if (t.open && same) continue;  // stated again (an agent restarted): nothing changed
    if (!t.open && t.endedByRestart && same) {
      // As it was before its agent restarted: the capture (or its absence)
      // stayed in place meanwhile, so the interval goes on.
      t.intervals.back().end.reset();
      t.open = true;
      t.endedByRestart = false;
      continue;
    }
    t.close(r.time);
    t.intervals.push_back({captured, r.reason, r.detail, r.time, std::nullopt});
    t.open = true;
    t.endedByRestart = false;
  }
  out.nodes.assign(nodes.begin(), nodes.end());

  // In the window: what overlaps [since, until), clipped to it.
  for (const auto& [_, t] : pods) {
    if (!options.ns.empty() && t.ns != options.ns) continue;
    bool seen = false;
    UncapturedPod u{t.node, t.ns, t.pod, t.uid, {}};
    for (CoverageInterval iv : t.intervals) {
      if (options.until && iv.start >= *options.until) continue;
      if (options.since && iv.end && *iv.end <= *options.since) continue;
      if (iv.end && *iv.end == iv.start) continue;  // ended as it began (a restart's instant)
      if (options.since) iv.start = std::max(iv.start, *options.since);
      if (options.until) iv.end = std::min(iv.end.value_or(*options.until), *options.until);
      seen = true;
      if (!iv.captured) u.intervals.push_back(std::move(iv));
    }
    if (!seen) continue;
    out.podsSeen++;
    if (u.intervals.empty())
      out.alwaysCaptured++;
    else
      out.uncaptured.push_back(std::move(u));
  }
  return out;
}

}  // namespace warren::audit
