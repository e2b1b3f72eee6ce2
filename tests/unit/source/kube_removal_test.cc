// Uninstall or restart? judgeRemoval reads the answer to a GET of the agent's
// own DaemonSet (source/kube/removal.h).

#include <gtest/gtest.h>

#include "source/kube/permissions.h"
#include "source/kube/pod_api.h"
#include "source/kube/removal.h"

namespace warren::source::kube {
namespace {

const std::string kWhat = "DaemonSet warren-system/warren-node";

TEST(KubeRemoval, ADaemonSetThatIsGoneOrBeingDeletedIsAnUninstall) {
  EXPECT_EQ(judgeRemoval(kWhat, 404, "{}", "not found").removal, Removal::Removed);
  EXPECT_EQ(
      judgeRemoval(kWhat, 200, R"({"metadata":{"name":"warren-node","deletionTimestamp":"2026-12-05T10:00:00Z"}})", "")
          .removal,
      Removal::Removed);
}

TEST(KubeRemoval, AnAccountOrRoleThatIsGoneIsAnUninstall) {
  EXPECT_EQ(judgeRemoval(kWhat, 401, "", "Unauthorized").removal, Removal::Removed);
  EXPECT_EQ(judgeRemoval(kWhat, 403, "", "forbidden").removal, Removal::Removed);
}

TEST(KubeRemoval, ADaemonSetStillThereIsARestartAndKeepsCapture) {
  auto v = judgeRemoval(kWhat, 200, R"({"metadata":{"name":"warren-node","deletionTimestamp":null}})", "");
  EXPECT_EQ(v.removal, Removal::Present) << v.reason;
  EXPECT_EQ(judgeRemoval(kWhat, 200, R"({"metadata":{"name":"warren-node"}})", "").removal, Removal::Present);
}

TEST(KubeRemoval, NoAnswerOrAServerErrorIsNotKnownAndKeepsCapture) {
  EXPECT_EQ(judgeRemoval(kWhat, 0, "", "connection refused").removal, Removal::Unknown);
  EXPECT_EQ(judgeRemoval(kWhat, 503, "", "etcd").removal, Removal::Unknown);
  EXPECT_EQ(judgeRemoval(kWhat, 200, "not json", "").removal, Removal::Unknown);
  EXPECT_NE(judgeRemoval(kWhat, 0, "", "connection refused").reason.find("connection refused"), std::string::npos);
}

TEST(KubeRemoval, TheTargetIsTheDaemonSetsPath) {
  EXPECT_EQ(daemonSetTarget("warren-system", "warren-node"),
            "/apis/apps/v1/namespaces/warren-system/daemonsets/warren-node");
}

TEST(KubePermissions, EveryWatchedResourceIsListedAndWatchedAndTheRemovalCheckIsAGet) {
  bool pods = false, namespaces = false, daemonsets = false;
  for (const auto& p : agentPermissions()) {
    const bool listWatch = p.verbs == std::vector<std::string>{"list", "watch"};
    pods |= p.apiGroup.empty() && p.resource == "pods" && listWatch;
    namespaces |= p.apiGroup.empty() && p.resource == "namespaces" && listWatch;
    daemonsets |= p.apiGroup == "apps" && p.resource == "daemonsets" && p.verbs == std::vector<std::string>{"get"};
  }
  EXPECT_TRUE(pods && namespaces && daemonsets);
  EXPECT_EQ(apiGroupOf("security.istio.io/v1"), "security.istio.io");
  EXPECT_EQ(apiGroupOf("v1"), "");
}

// At uninstall, the pods whose redirection annotation the agent set: read from
// a page of the node's pod list as the API returns it.
TEST(KubeRemoval, UninstallUnannotatesExactlyThePodsMarkedEnabled) {
  auto page = redirectedPods(R"({"kind":"PodList","apiVersion":"v1",
    "metadata":{"resourceVersion":"812","continue":"opaque:500"},
    "items":[
      {"metadata":{"name":"a","namespace":"mesh","annotations":{"ambient.istio.io/redirection":"enabled"}}},
      {"metadata":{"name":"b","namespace":"mesh","annotations":{"ambient.istio.io/redirection":"disabled"}}},
      {"metadata":{"name":"c","namespace":"mesh","annotations":{"other":"enabled"}}},
      {"metadata":{"name":"d","namespace":"plain"}},
      {"metadata":{"name":"e","namespace":"web","annotations":{"ambient.istio.io/redirection":"enabled"}}}]})");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->pods, (std::vector<std::pair<std::string, std::string>>{{"mesh", "a"}, {"web", "e"}}));
  EXPECT_EQ(page->continueToken, "opaque:500");
  EXPECT_EQ(redirectionPatch(false), R"({"metadata":{"annotations":{"ambient.istio.io/redirection":null}}})");

  auto last = redirectedPods(R"({"kind":"PodList","metadata":{"resourceVersion":"812"},"items":[]})");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->pods.empty());
  EXPECT_EQ(last->continueToken, "");
  EXPECT_FALSE(redirectedPods("<html>proxy error</html>"));
}
}  // namespace
}  // namespace warren::source::kube
