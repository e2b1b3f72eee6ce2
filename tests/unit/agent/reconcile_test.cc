// The agent's join-and-diff decisions, without BPF or sockets.

#include "agent/reconcile.h"

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
  EXPECT_TRUE(v[0].enroll);
  EXPECT_EQ(v[0].desired.netnsPath, "/var/run/netns/a");
  EXPECT_EQ(v[0].desired.pod.serviceAccount, "sa-a");
  EXPECT_FALSE(v[1].enroll);
  EXPECT_FALSE(v[1].reason.empty());
}

TEST(DesiredPods, PodUnknownToTheClusterIsNotEnrolled) {
  std::map<std::string, RuntimePod> rt = {{"ctr-x", runtime("mesh", "x", "10.0.0.9")}};
  auto v = desiredPods(cluster(), rt, "node1");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].enroll);
  EXPECT_NE(v[0].reason.find("not in the cluster state"), std::string::npos);
}

TEST(DesiredPods, RuntimeIpThatDisagreesWithThePodIsRefused) {
  std::map<std::string, RuntimePod> rt = {{"ctr-a", runtime("mesh", "a", "10.0.0.77")}};
  auto v = desiredPods(cluster(), rt, "node1");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].enroll);
  EXPECT_NE(v[0].reason.find("10.0.0.77"), std::string::npos);
}

TEST(DesiredPods, PodOfAnotherNodeIsNotOurs) {
  std::map<std::string, RuntimePod> rt = {{"ctr-a", runtime("mesh", "a", "10.0.0.1")}};
  auto v = desiredPods(cluster(), rt, "node2");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].enroll);
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
