// The agent's join-and-diff decisions, without BPF or sockets.

#include "agent/reconcile.h"

#include <functional>

#include <gtest/gtest.h>

namespace warren::agent {
namespace {

source::Snapshot cluster() {
  source::Snapshot s;
  s.namespaces["mesh"] = {"mesh", {{"warren.io/mode", "enabled"}}};
  s.namespaces["plain"] = {"plain", {}};
  auto pod = [](std::string ns, std::string name, std::string ip) {
    source::Pod p;
    p.uid = "uid-" + name;
    p.name = name;
    p.ns = ns;
    p.serviceAccount = "sa-" + name;
    p.nodeName = "node1";
    p.ips = {ip};
    return p;
  };
  s.pods["mesh/a"] = pod("mesh", "a", "10.0.0.1");
  s.pods["plain/c"] = pod("plain", "c", "10.0.0.3");
  return s;
}

RuntimePod runtime(std::string ns, std::string name, std::string ip) {
  return {"ctr-" + name, "/var/run/netns/" + name, name, ns, "uid-" + name, {ip}};
}

TEST(DesiredPods, JoinsClusterViewWithRuntimeAndDecides) {
  std::map<std::string, RuntimePod> rt = {{"ctr-a", runtime("mesh", "a", "10.0.0.1")},
                                          {"ctr-c", runtime("plain", "c", "10.0.0.3")}};
  auto v = desiredPods(cluster(), rt, "node1");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].enroll());
  EXPECT_EQ(v[0].desired.netnsPath, "/var/run/netns/a");
  EXPECT_EQ(v[0].desired.pod.serviceAccount, "sa-a");
  EXPECT_FALSE(v[1].enroll());
  EXPECT_FALSE(v[1].reason.empty());
}

TEST(DesiredPods, PodUnknownToTheClusterIsNotEnrolled) {
  std::map<std::string, RuntimePod> rt = {{"ctr-x", runtime("plain", "x", "10.0.0.9")}};
  auto v = desiredPods(cluster(), rt, "node1");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].enroll());
  EXPECT_NE(v[0].reason.find("not in the cluster view"), std::string::npos);
}

TEST(DesiredPods, PodOfAnotherNodeIsNotOurs) {
  std::map<std::string, RuntimePod> rt = {{"ctr-a", runtime("mesh", "a", "10.0.0.1")}};
  auto v = desiredPods(cluster(), rt, "node2");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].enroll());
}

// judgePod, one runtime pod against the view: every row says what the ADD does.
struct JudgeCase {
  std::string name;
  std::function<void(source::Snapshot&)> view;  // changes to cluster()
  RuntimePod rt;
  UnknownNamespace unknown = UnknownNamespace::NotCaptured;
  PodVerdict::Action want;
  std::string reasonHas;
  std::vector<std::string> wantIps = {};  // Enroll: the addresses captured
};

void noChange(source::Snapshot&) {}

TEST(JudgePod, EveryPodOfACapturingNamespaceIsCapturedOrBlocked) {
  using A = PodVerdict::Action;
  const std::vector<JudgeCase> cases = {
      {"known pod with the runtime's IP is captured",
       noChange,
       runtime("mesh", "a", "10.0.0.1"),
       UnknownNamespace::NotCaptured,
       A::Enroll,
       "warren.io/mode=enabled",
       {"10.0.0.1"}},
      {"a Pod without status IPs yet (every pod at ADD) is captured with the runtime's IPs",
       [](source::Snapshot& s) { s.pods["mesh/a"].ips.clear(); },
       runtime("mesh", "a", "10.0.0.1"),
       UnknownNamespace::NotCaptured,
       A::Enroll,
       "",
       {"10.0.0.1"}},
      {"the runtime's addresses are the ones captured when both overlap",
       [](source::Snapshot&) {},
       {"ctr-a", "/var/run/netns/a", "a", "mesh", "uid-a", {"10.0.0.1", "fd00::1"}},
       UnknownNamespace::NotCaptured,
       A::Enroll,
       "",
       {"10.0.0.1", "fd00::1"}},
      {"addresses that disagree block the pod of a capturing namespace", noChange, runtime("mesh", "a", "10.0.0.77"),
       UnknownNamespace::NotCaptured, A::Block, "the runtime assigned 10.0.0.77 but the Pod says 10.0.0.1"},
      {"no address at all blocks",
       [](source::Snapshot& s) { s.pods["mesh/a"].ips.clear(); },
       {"ctr-a", "/var/run/netns/a", "a", "mesh", "uid-a", {}},
       UnknownNamespace::NotCaptured,
       A::Block,
       "no IP address"},
      {"a pod missing from the view of a capturing namespace is blocked", noChange, runtime("mesh", "new", "10.0.0.5"),
       UnknownNamespace::NotCaptured, A::Block, "namespace mesh captures"},
      {"a pod missing from the view of a plain namespace starts", noChange, runtime("plain", "new", "10.0.0.5"),
       UnknownNamespace::MayCapture, A::Leave, "namespace plain does not capture"},
      {"a pod of a plain namespace starts, addresses aside", noChange, runtime("plain", "c", "10.0.0.99"),
       UnknownNamespace::MayCapture, A::Leave, "not enabled"},
      {"an unknown namespace is not enabled where the view is the whole truth (YAML)", noChange,
       runtime("elsewhere", "x", "10.0.0.5"), UnknownNamespace::NotCaptured, A::Leave, "nor is namespace elsewhere"},
      {"an unknown namespace may capture where the view lags (API): its unknown pod waits", noChange,
       runtime("elsewhere", "x", "10.0.0.5"), UnknownNamespace::MayCapture, A::Block, "which may capture"},
      {"a known pod of an unknown namespace waits for it where the view lags",
       [](source::Snapshot& s) { s.namespaces.erase("mesh"); }, runtime("mesh", "a", "10.0.0.1"),
       UnknownNamespace::MayCapture, A::Block, "namespace mesh is not in the cluster view"},
      {"...unless the pod opts out, which no namespace overrides",
       [](source::Snapshot& s) {
         s.namespaces.erase("mesh");
         s.pods["mesh/a"].labels["warren.io/mode"] = "disabled";
       },
       runtime("mesh", "a", "10.0.0.1"), UnknownNamespace::MayCapture, A::Leave, "opts out"},
      {"a pod that opts out of a capturing namespace starts",
       [](source::Snapshot& s) { s.pods["mesh/a"].labels["istio.io/dataplane-mode"] = "none"; },
       runtime("mesh", "a", "10.0.0.99"), UnknownNamespace::NotCaptured, A::Leave, "opts out"},
      {"a host-network pod is never captured", [](source::Snapshot& s) { s.pods["mesh/a"].hostNetwork = true; },
       runtime("mesh", "a", "10.0.0.1"), UnknownNamespace::NotCaptured, A::Leave, "host network"},
      // A pod made again under the same name: the runtime's uid is the new
      // one, the view still has the old object. Its identity is not this pod's.
      {"a pod recreated under the same name is blocked while the view holds the old object",
       noChange,
       {"ctr-a", "/var/run/netns/a", "a", "mesh", "uid-a-new", {"10.0.0.1"}},
       UnknownNamespace::NotCaptured,
       A::Block,
       "pod mesh/a (uid uid-a-new) is not in the cluster view, which holds an earlier pod of that name (uid uid-a)"},
      {"...even if the old object opted out (the new one may not)",
       [](source::Snapshot& s) { s.pods["mesh/a"].labels["warren.io/mode"] = "disabled"; },
       {"ctr-a", "/var/run/netns/a", "a", "mesh", "uid-a-new", {"10.0.0.1"}},
       UnknownNamespace::MayCapture,
       A::Block,
       "earlier pod of that name"},
      {"...and starts uncaptured in a namespace that does not capture",
       noChange,
       {"ctr-c", "/var/run/netns/c", "c", "plain", "uid-c-new", {"10.0.0.3"}},
       UnknownNamespace::MayCapture,
       A::Leave,
       "namespace plain does not capture"},
      {"a runtime that gives no uid is matched by name, as before",
       noChange,
       {"ctr-a", "/var/run/netns/a", "a", "mesh", "", {"10.0.0.1"}},
       UnknownNamespace::NotCaptured,
       A::Enroll,
       "",
       {"10.0.0.1"}},
      {"another node's pod is not ours", [](source::Snapshot& s) { s.pods["mesh/a"].nodeName = "node2"; },
       runtime("mesh", "a", "10.0.0.1"), UnknownNamespace::NotCaptured, A::Leave, "node2"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    source::Snapshot s = cluster();
    c.view(s);
    const PodVerdict v = judgePod(s, c.rt, "node1", c.unknown);
    EXPECT_EQ(v.key, c.rt.key());
    EXPECT_EQ(static_cast<int>(v.action), static_cast<int>(c.want)) << v.reason;
    EXPECT_NE(v.reason.find(c.reasonHas), std::string::npos) << v.reason;
    if (c.want != A::Enroll) continue;
    EXPECT_EQ(v.desired.pod.ips, c.wantIps);
    // The identity is the Pod's; the netns and container the runtime's.
    EXPECT_EQ(v.desired.pod.uid, "uid-a");
    EXPECT_EQ(v.desired.pod.serviceAccount, "sa-a");
    EXPECT_EQ(v.desired.netnsPath, c.rt.netnsPath);
    EXPECT_EQ(v.desired.containerId, c.rt.containerId);
  }
}

TEST(PlanReconcile, EnrollsNewAndChangedReleasesGoneKeepsSame) {
  std::map<uint64_t, std::string> desired = {{1, "same"}, {2, "changed-now"}, {3, "new"}};
  std::map<uint64_t, std::string> current = {{1, "same"}, {2, "changed-before"}, {4, "gone"}};
  auto plan = planReconcile(desired, current);
  EXPECT_EQ(plan.enroll, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(plan.release, (std::vector<uint64_t>{4}));
}

TEST(PlanReconcile, EntriesFoundInPinnedMapsAfterRestartAreRefreshedOrReleased) {
  // After an agent restart the pinned map has cookies whose origin is unknown ("").
  std::map<uint64_t, std::string> desired = {{1, "fp"}};
  std::map<uint64_t, std::string> current = {{1, ""}, {9, ""}};
  auto plan = planReconcile(desired, current);
  EXPECT_EQ(plan.enroll, (std::vector<uint64_t>{1}));
  EXPECT_EQ(plan.release, (std::vector<uint64_t>{9}));
}

TEST(PlanReconcile, NothingToDoWhenInSync) {
  std::map<uint64_t, std::string> both = {{1, "a"}, {2, "b"}};
  auto plan = planReconcile(both, both);
  EXPECT_TRUE(plan.enroll.empty());
  EXPECT_TRUE(plan.release.empty());
}

TEST(DesiredPod, FingerprintChangesWithWhatTheDataPathSees) {
  DesiredPod p;
  p.pod.uid = "u";
  p.pod.ips = {"10.0.0.1"};
  p.pod.serviceAccount = "sa";
  p.netnsPath = "/n";
  auto base = p.fingerprint();
  DesiredPod q = p;
  q.pod.serviceAccount = "other";
  EXPECT_NE(q.fingerprint(), base);
  q = p;
  q.pod.ips = {"10.0.0.2"};
  EXPECT_NE(q.fingerprint(), base);
  q = p;
  q.netnsPath = "/m";
  EXPECT_NE(q.fingerprint(), base);
}

}  // namespace
}  // namespace warren::agent
