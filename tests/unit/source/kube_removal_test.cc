// Uninstall or restart? judgeRemoval reads the answer to a GET of the agent's
// own DaemonSet (source/kube/removal.h).

#include <gtest/gtest.h>

#include "source/kube/permissions.h"
#include "source/kube/removal.h"

namespace warren::source::kube {
namespace {

const std::string kWhat = "DaemonSet warren-system/warren-node";

TEST(KubeRemoval, ADaemonSetThatIsGoneOrBeingDeletedIsAnUninstall) {
  EXPECT_EQ(judgeRemoval(kWhat, 404, "{}", "not found").removal, Removal::Removed);
  EXPECT_EQ(judgeRemoval(kWhat, 200, R"({"metadata":{"name":"warren-node","deletionTimestamp":"2026-12-05T10:00:00Z"}})", "")
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
  EXPECT_EQ(daemonSetTarget("warren-system", "warren-node"), "/apis/apps/v1/namespaces/warren-system/daemonsets/warren-node");
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

}  // namespace
}  // namespace warren::source::kube
