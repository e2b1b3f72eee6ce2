// Which pods in scope are captured, and the events the agent records for the
// audit's coverage section: pure, over the reconcile's verdicts and the view.

#include "agent/capture_coverage.h"

#include <gtest/gtest.h>

namespace warren::agent {
namespace {

source::Pod pod(std::string ns, std::string name, std::map<std::string, std::string> labels = {}) {
  source::Pod p;
  p.uid = "uid-" + name;
  p.name = name;
  p.ns = ns;
  p.serviceAccount = "sa";
  p.nodeName = "node1";
  p.ips = {"10.0.0." + std::to_string(name.size())};
  p.labels = std::move(labels);
  return p;
}

source::Snapshot cluster() {
  source::Snapshot s;
  s.namespaces["mesh"] = {"mesh", {{"warren.io/mode", "enabled"}}};
  s.namespaces["plain"] = {"plain", {}};
  for (auto p :
       {pod("mesh", "a"), pod("mesh", "out", {{"warren.io/mode", "disabled"}}),
        pod("mesh", "gw", {{"gateway.networking.k8s.io/gateway-name", "wp"}}), pod("mesh", "bad"), pod("plain", "c")})
    s.pods[p.ns + "/" + p.name] = p;
  return s;
}

RuntimePod runtime(const source::Pod& p) {
  return {"ctr-" + p.name, "/var/run/netns/" + p.name, p.name, p.ns, p.uid, p.ips};
}

struct Scope {
  source::Snapshot view = cluster();
  std::set<std::string> captured = {"mesh/a"};
  std::map<std::string, std::string> enrollErrors = {{"mesh/bad", "bpf: map full"}};
  std::map<std::string, std::string> notFound;
  std::string node = "node1";
  CoverageState now(std::vector<std::string> running, bool viewPodsRun = false) {
    std::map<std::string, RuntimePod> rt;
    for (const auto& key : running) {
      const auto& p = view.pods.at(key);
      rt["ctr-" + p.name] = runtime(p);
    }
    const auto verdicts = desiredPods(view, rt, node);
    return coverageNow({view, verdicts, captured, enrollErrors, viewPodsRun, notFound, node});
  }
};

TEST(CoverageNow, EveryPodOfACapturingNamespaceStandsCapturedOrUncapturedWithItsReason) {
  Scope s;
  auto c = s.now({"mesh/a", "mesh/out", "mesh/gw", "mesh/bad", "plain/c"});
  ASSERT_EQ(c.size(), 4u) << "plain/c's namespace does not capture: out of scope";
  EXPECT_TRUE(c["mesh/a"].captured);
  EXPECT_EQ(c["mesh/a"].reason, "enrolled");
  EXPECT_EQ(c["mesh/a"].uid, "uid-a");
  EXPECT_FALSE(c["mesh/out"].captured);
  EXPECT_EQ(c["mesh/out"].reason, "opted_out");
  EXPECT_NE(c["mesh/out"].detail.find("warren.io/mode=disabled"), std::string::npos);
  EXPECT_EQ(c["mesh/gw"].reason, "gateway");
  EXPECT_EQ(c["mesh/bad"].reason, "enrollment_failed");
  EXPECT_EQ(c["mesh/bad"].detail, "bpf: map full");
}

TEST(CoverageNow, APodTheRuntimeRunsWithoutItsPodInTheViewIsBlocked) {
  Scope s;
  s.view.pods.erase("mesh/a");
  std::map<std::string, RuntimePod> rt = {{"ctr-a", runtime(pod("mesh", "a"))}};
  const auto verdicts = desiredPods(s.view, rt, "node1");
  auto c = coverageNow({s.view, verdicts, {}, {}, false, s.notFound, s.node});
  ASSERT_EQ(c.count("mesh/a"), 1u);
  EXPECT_EQ(c["mesh/a"].reason, "blocked");
}

TEST(CoverageNow, ViewPodsNoCniAddToldOfRunUncapturedOnlyWhereTheViewShowsRunningPods) {
  Scope s;
  s.notFound["mesh/bad"] = "pod mesh/bad (10.0.0.3): no process's network namespace carries its IP";
  // The YAML directory names pods that may never run here: not evidence.
  EXPECT_TRUE(s.now({}, false).empty());
  // The API's pods with IPs on this node run here.
  auto c = s.now({}, true);
  EXPECT_EQ(c["mesh/a"].reason, "no_netns");
  EXPECT_NE(c["mesh/a"].detail.find("no CNI ADD"), std::string::npos);
  EXPECT_EQ(c["mesh/bad"].detail, s.notFound["mesh/bad"]);
  EXPECT_EQ(c["mesh/out"].reason, "opted_out");
  EXPECT_EQ(c.count("plain/c"), 0u);
  s.view.pods["mesh/a"].finished = true;  // a Job's pod that completed keeps its podIP
  EXPECT_EQ(s.now({}, true).count("mesh/a"), 0u) << "a finished pod runs nothing";
  s.view.pods["mesh/a"].finished = false;
  s.view.pods["mesh/a"].nodeName = "node2";
  EXPECT_EQ(s.now({}, true).count("mesh/a"), 0u) << "another node's pod";
}

std::vector<std::string> names(const std::vector<CaptureEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(std::string(captureEventName(e.kind)) + " " + e.ns + "/" + e.name + " " + e.previous + "->" +
                  e.reason);
  return out;
}

// Each row: the state before and after, the view after, and the events.
TEST(CaptureChanges, EachChangeOfAPodsCaptureIsOneEventAndNothingElseIs) {
  const PodCoverage a{"mesh", "a", "uid-a", true, "enrolled", "namespace mesh has warren.io/mode=enabled"};
  PodCoverage aOut = a;
  aOut.captured = false;
  aOut.reason = "opted_out";
  PodCoverage aFailedAgain{"mesh", "a", "uid-a", false, "enrollment_failed", "first error"};
  PodCoverage aFailedOtherWords = aFailedAgain;
  aFailedOtherWords.detail = "another error";
  PodCoverage aNew = a;
  aNew.uid = "uid-a2";
  source::Snapshot disabled = cluster();
  disabled.namespaces["mesh"].labels = {{"warren.io/mode", "disabled"}};
  source::Snapshot gone = cluster();
  gone.namespaces.erase("mesh");
  struct Case {
    std::string name;
    CoverageState before, now;
    source::Snapshot view;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"a pod new in scope, captured", {}, {{"mesh/a", a}}, cluster(), {"captured mesh/a ->enrolled"}},
      {"stated again: nothing", {{"mesh/a", a}}, {{"mesh/a", a}}, cluster(), {}},
      {"a captured pod opts out: released from capture, uncaptured",
       {{"mesh/a", a}},
       {{"mesh/a", aOut}},
       cluster(),
       {"uncaptured mesh/a captured->opted_out"}},
      {"captured again", {{"mesh/a", aOut}}, {{"mesh/a", a}}, cluster(), {"captured mesh/a uncaptured->enrolled"}},
      {"the same reason in other words: nothing",
       {{"mesh/a", aFailedAgain}},
       {{"mesh/a", aFailedOtherWords}},
       cluster(),
       {}},
      {"the pod went", {{"mesh/a", a}}, {}, cluster(), {"released mesh/a captured->pod_deleted"}},
      {"its namespace stopped capturing",
       {{"mesh/a", aOut}},
       {},
       disabled,
       {"released mesh/a uncaptured->namespace_disabled"}},
      {"its namespace was deleted", {{"mesh/a", a}}, {}, gone, {"released mesh/a captured->namespace_deleted"}},
      {"made again under its name: the old one released, the new one stated",
       {{"mesh/a", a}},
       {{"mesh/a", aNew}},
       cluster(),
       {"released mesh/a captured->pod_deleted", "captured mesh/a ->enrolled"}},
  };
  for (const auto& c : cases) EXPECT_EQ(names(captureChanges(c.before, c.now, c.view)), c.want) << c.name;
}

}  // namespace
}  // namespace warren::agent
