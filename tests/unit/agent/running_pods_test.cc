// Finding the pods that ran before the agent: which to look for, and which
// network namespace is each one's (pure; netns_scan reads the system).

#include "agent/running_pods.h"

#include <gtest/gtest.h>

namespace warren::agent {
namespace {

source::Pod pod(const std::string& ns, const std::string& name, std::vector<std::string> ips,
                const std::string& node = "node1") {
  source::Pod p;
  p.uid = "uid-" + name;
  p.name = name;
  p.ns = ns;
  p.serviceAccount = "sa-" + name;
  p.nodeName = node;
  p.ips = std::move(ips);
  return p;
}

source::Snapshot view() {
  source::Snapshot s;
  s.namespaces["mesh"] = {"mesh", {{"warren.io/mode", "enabled"}}};
  s.namespaces["plain"] = {"plain", {}};
  s.pods["mesh/old"] = pod("mesh", "old", {"10.0.0.1"});      // ran before the agent
  s.pods["mesh/known"] = pod("mesh", "known", {"10.0.0.2"});  // its ADD came
  s.pods["mesh/pending"] = pod("mesh", "pending", {});        // no IP: its ADD is still to come
  s.pods["mesh/remote"] = pod("mesh", "remote", {"10.0.1.1"}, "node2");
  s.pods["mesh/optout"] = pod("mesh", "optout", {"10.0.0.3"});
  s.pods["mesh/optout"].labels["warren.io/mode"] = "disabled";
  s.pods["mesh/host"] = pod("mesh", "host", {"192.168.0.10"});
  s.pods["mesh/host"].hostNetwork = true;
  s.pods["plain/web"] = pod("plain", "web", {"10.0.0.4"});
  s.pods["lost/x"] = pod("lost", "x", {"10.0.0.5"});      // namespace not in the view
  s.pods["mesh/job"] = pod("mesh", "job", {"10.0.0.6"});  // a finished Job's pod keeps its IP, has no netns
  s.pods["mesh/job"].finished = true;
  return s;
}

TEST(PodsToDiscover, OnlyCapturedPodsOfThisNodeWithAnIpThatNoCniAddReported) {
  std::map<std::string, RuntimePod> runtime = {
      {"ctr-known", {"ctr-known", "/var/run/netns/known", "known", "mesh", "uid-known", {"10.0.0.2"}}}};
  auto pods = podsToDiscover(view(), runtime, "node1");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].name, "old");
}

std::vector<NetnsCandidate> candidates() {
  return {{11, "/proc/40/ns/net", {"10.0.0.1", "fd00::1"}},
          {12, "/var/run/netns/cni-2", {"10.0.0.2"}},
          {13, "/proc/90/ns/net", {}}};
}

TEST(MatchNetns, TheOneNamespaceCarryingThePodsIp) {
  auto m = matchNetns(pod("mesh", "old", {"fd00::1"}), candidates());
  ASSERT_TRUE(m.found);
  EXPECT_EQ(m.found->path, "/proc/40/ns/net");
  RuntimePod rt = discoveredRuntimePod(pod("mesh", "old", {"fd00::1"}), *m.found);
  EXPECT_EQ(rt.containerId, "discovered:uid-old");
  EXPECT_EQ(rt.netnsPath, "/proc/40/ns/net");
  EXPECT_EQ(rt.key(), "mesh/old");
  EXPECT_EQ(rt.ips, std::vector<std::string>{"fd00::1"});
}

TEST(MatchNetns, NoneOrTwoIsNoAnswer) {
  auto none = matchNetns(pod("mesh", "gone", {"10.0.0.9"}), candidates());
  EXPECT_FALSE(none.found);
  EXPECT_NE(none.why.find("no process's network namespace carries its IP"), std::string::npos) << none.why;

  auto both = candidates();
  both.push_back({14, "/proc/77/ns/net", {"10.0.0.2"}});
  auto two = matchNetns(pod("mesh", "known", {"10.0.0.2"}), both);
  EXPECT_FALSE(two.found);
  EXPECT_NE(two.why.find("2 network namespaces carry its IP"), std::string::npos) << two.why;
}

}  // namespace
}  // namespace warren::agent
