// Which live inbound connections a state change judges again (tunnel/proxy/revalidation.h):
// only those whose destination or applicable policies changed, and a connection
// skipped is one whose decision could not have changed. States are built from
// Istio YAML; a change is applied the way the xDS source applies one, through
// ClusterState::Builder(previous), so unchanged objects are shared.

#include "tunnel/proxy/revalidation.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"

namespace warren::proxy {
namespace {

const char* kCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: mesh, labels: {app: server}}
spec: {serviceAccountName: server}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: mesh, labels: {app: api}}
spec: {serviceAccountName: api}
status: {podIP: 10.1.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: waypointed, namespace: mesh, labels: {app: w, istio.io/use-waypoint: wp}}
spec: {serviceAccountName: w}
status: {podIP: 10.1.0.12}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: mesh, labels: {istio.io/waypoint-for: workload}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: wp-0, namespace: mesh, labels: {gateway.networking.k8s.io/gateway-name: wp}}
spec: {serviceAccountName: wp}
status: {podIP: 10.1.0.50}
---
)";

std::string policy(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec: " + spec + "\n---\n";
}
const std::string kAllowClientToServer = policy(
    "mesh", "server-allow",
    R"({selector: {matchLabels: {app: server}}, action: ALLOW, rules: [{from: [{source: {principals: ["cluster.local/ns/other/sa/client"]}}]}]})");
const std::string kDenyClientToServer = policy(
    "mesh", "server-allow",
    R"({selector: {matchLabels: {app: server}}, action: DENY, rules: [{from: [{source: {principals: ["cluster.local/ns/other/sa/client"]}}]}]})");

// Policies of another namespace: enough of them that the policy map's chunks
// (state/cow_map.h, 128 entries) keep the mesh's policies apart from a change here.
std::string manyOtherPolicies(const std::string& spec = "{action: ALLOW}") {
  std::string out;
  for (int i = 0; i < 300; ++i) out += policy("zz-other", "p" + std::to_string(1000 + i), spec);
  return out;
}

state::ClusterStatePtr whole(const std::string& yaml) {
  source::Snapshot snap;
  source::loadDocuments(std::string(kCluster) + yaml, "case.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  return state::stateFromSnapshot(snap, {});
}

// `prev` with the named objects taken from a whole build of `yaml` (added,
// replaced, or removed when absent there), as an incremental source applies a delta.
state::ClusterStatePtr changed(const state::ClusterStatePtr& prev, const std::string& yaml,
                               const std::vector<std::string>& workloads, const std::vector<std::string>& policies) {
  auto full = whole(yaml);
  state::ClusterState::Builder b(prev);
  using Kind = state::ClusterState::Builder::Kind;
  for (const auto& uid : workloads) {
    if (const auto* w = full->findWorkload(uid))
      b.add(*w);
    else
      b.remove(Kind::Workload, uid);
  }
  for (const auto& key : policies) {
    auto it = full->policies().find(key);
    if (it != full->policies().end())
      b.add(it->second);
    else
      b.remove(Kind::Policy, key);
  }
  return b.finish();
}

PodContext pod(const std::string& name, const std::string& ip) {
  PodContext p;
  p.uid = "mesh/" + name;
  p.name = name;
  p.ns = "mesh";
  p.serviceAccount = name;
  p.ips = {ip};
  return p;
}

authz::ConnectionFacts fromClient(const std::string& dstIp) {
  authz::ConnectionFacts f;
  f.srcIp = "10.2.0.5";
  auto id = identity::SpiffeId::parse("spiffe://cluster.local/ns/other/sa/client");
  EXPECT_TRUE(id.ok());
  f.srcIdentity = *id;
  f.dstIp = dstIp;
  f.dstPort = 8080;
  return f;
}

// Every connection revalidate() skipped must get from `next` the decision it had.
void expectSkippedAreUnchanged(const state::ClusterState& before, const state::ClusterState& next,
                               const std::vector<LiveInbound>& live, const Revalidation& r) {
  std::set<uint64_t> revoked;
  for (const auto& x : r.revoked) revoked.insert(x.id);
  for (const auto& c : live) {
    state::Workload s1, s2;
    auto was = authz::authorize(before, destinationOf(before, *c.pod, c.facts->dstIp, &s1), *c.facts);
    auto is = authz::authorize(next, destinationOf(next, *c.pod, c.facts->dstIp, &s2), *c.facts);
    EXPECT_EQ(revoked.count(c.id) == 1, !is.allowed) << c.facts->dstIp;
    if (decisionInputsUnchanged(before, next, *c.pod, c.facts->dstIp)) {
      EXPECT_EQ(was.allowed, is.allowed) << c.facts->dstIp;
      EXPECT_EQ(was.policy, is.policy) << c.facts->dstIp;
    }
  }
}

struct Fixture {
  PodContext server = pod("server", "10.1.0.10"), api = pod("api", "10.1.0.11"),
             waypointed = pod("waypointed", "10.1.0.12"), unlisted = pod("new", "10.1.0.99");
  authz::ConnectionFacts toServer = fromClient("10.1.0.10"), toApi = fromClient("10.1.0.11"),
                         toWaypointed = fromClient("10.1.0.12"), toUnlisted = fromClient("10.1.0.99");
  std::vector<LiveInbound> live(const state::ClusterState* judgedWith, int perDestination = 1) {
    std::vector<LiveInbound> v;
    uint64_t id = 1;
    for (int i = 0; i < perDestination; ++i) {
      v.push_back({id++, &server, &toServer, judgedWith});
      v.push_back({id++, &api, &toApi, judgedWith});
      v.push_back({id++, &unlisted, &toUnlisted, judgedWith});
    }
    return v;
  }
};

TEST(Revalidation, AnUnrelatedPodStartingJudgesNoLiveConnection) {
  const std::string base = kAllowClientToServer + manyOtherPolicies();
  auto before = whole(base);
  auto next = changed(before,
                      base +
                          "apiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: mesh}\n"
                          "spec: {serviceAccountName: o}\nstatus: {podIP: 10.1.0.77}\n---\n",
                      {"mesh/other"}, {});
  Fixture f;
  auto live = f.live(before.get(), 100);
  auto r = revalidate(*next, live);
  EXPECT_EQ(r.judged, 0u);
  EXPECT_EQ(r.skipped, live.size());
  EXPECT_TRUE(r.revoked.empty());
  expectSkippedAreUnchanged(*before, *next, live, r);
}

TEST(Revalidation, APolicyOfTheDestinationTurnedToDenyRevokesItsConnectionsOnly) {
  const std::string others = manyOtherPolicies();
  auto before = whole(kAllowClientToServer + others);
  auto next = changed(before, kDenyClientToServer + others, {}, {"mesh/server-allow"});
  Fixture f;
  auto live = f.live(before.get(), 3);
  auto r = revalidate(*next, live);
  ASSERT_EQ(r.revoked.size(), 3u);
  for (const auto& x : r.revoked) EXPECT_EQ(live[x.id - 1].facts, &f.toServer);
  // The server's three, judged again; api's and the unlisted pod's policies (the
  // namespace's and the mesh's: none) are the same objects.
  EXPECT_EQ(r.judged, 3u);
  expectSkippedAreUnchanged(*before, *next, live, r);
}

TEST(Revalidation, APolicyOfAnotherNamespaceChangingJudgesNothing) {
  auto before = whole(kAllowClientToServer + manyOtherPolicies());
  auto next =
      changed(before, kAllowClientToServer + manyOtherPolicies("{action: DENY, rules: [{}]}"), {}, {"zz-other/p1150"});
  Fixture f;
  auto live = f.live(before.get(), 2);
  auto r = revalidate(*next, live);
  EXPECT_EQ(r.judged, 0u);
  expectSkippedAreUnchanged(*before, *next, live, r);
}

TEST(Revalidation, ANamespaceWidePolicyReachesPodsTheStateDoesNotListYet) {
  const std::string others = manyOtherPolicies();
  auto before = whole(kAllowClientToServer + others);
  const std::string denyAll = policy("mesh", "deny-all", "{action: DENY, rules: [{}]}");
  auto next = changed(before, kAllowClientToServer + others + denyAll, {}, {"mesh/deny-all"});
  Fixture f;
  auto live = f.live(before.get());
  auto r = revalidate(*next, live);
  EXPECT_EQ(r.revoked.size(), live.size()) << "the deny-all applies to every pod of mesh, listed or not";
  expectSkippedAreUnchanged(*before, *next, live, r);
}

TEST(Revalidation, TheDestinationRelabelledIsJudgedAgain) {
  const std::string others = manyOtherPolicies();
  auto before = whole(kAllowClientToServer + others);
  std::string relabelled = std::string(kAllowClientToServer) + others;
  // The server loses app=server: the ALLOW policy no longer selects it, so no
  // ALLOW applies and the connection stays allowed, but it had to be looked at.
  source::Snapshot snap;
  std::string cluster = kCluster;
  cluster.replace(cluster.find("labels: {app: server}"), 21, "labels: {app: renamed}");
  source::loadDocuments(cluster + relabelled, "case.yaml", snap);
  auto renamed = state::stateFromSnapshot(snap, {});
  state::ClusterState::Builder b(before);
  b.add(*renamed->findWorkload("mesh/server"));
  auto next = b.finish();
  Fixture f;
  auto live = f.live(before.get());
  auto r = revalidate(*next, live);
  EXPECT_GE(r.judged, 1u);
  EXPECT_TRUE(r.revoked.empty());
  expectSkippedAreUnchanged(*before, *next, live, r);
}

TEST(Revalidation, AWaypointBoundDestinationIsAlwaysJudgedAgain) {
  // Its check reads the waypoint's endpoints, which the input check does not follow.
  auto before = whole(kAllowClientToServer + manyOtherPolicies());
  auto next = changed(before, kAllowClientToServer + manyOtherPolicies(), {"mesh/api"}, {});
  Fixture f;
  std::vector<LiveInbound> live = {{1, &f.waypointed, &f.toWaypointed, before.get()}};
  auto r = revalidate(*next, live);
  EXPECT_EQ(r.judged, 1u);
  ASSERT_EQ(r.revoked.size(), 1u) << "the client does not come through the waypoint";
}

TEST(Revalidation, AWholeRebuildJudgesOnlyWhatChanged) {
  // A source that rebuilds the state whole shares no object with the last state:
  // equal objects count as unchanged.
  const std::string yaml = kAllowClientToServer + manyOtherPolicies();
  auto before = whole(yaml);
  Fixture f;
  auto live = f.live(before.get());
  auto same = revalidate(*whole(yaml), live);
  EXPECT_EQ(same.judged, 0u);
  auto denied = whole(kDenyClientToServer + manyOtherPolicies());
  auto r = revalidate(*denied, live);
  EXPECT_EQ(r.judged, 1u);
  ASSERT_EQ(r.revoked.size(), 1u);
  EXPECT_EQ(live[r.revoked[0].id - 1].facts, &f.toServer);
  expectSkippedAreUnchanged(*before, *denied, live, r);
}

TEST(Revalidation, AConnectionWithoutAStateItWasJudgedWithIsJudged) {
  auto st = whole(kDenyClientToServer);
  Fixture f;
  std::vector<LiveInbound> live = {{7, &f.server, &f.toServer, nullptr}};
  auto r = revalidate(*st, live);
  EXPECT_EQ(r.judged, 1u);
  ASSERT_EQ(r.revoked.size(), 1u);
  EXPECT_EQ(r.revoked[0].id, 7u);
}

}  // namespace
}  // namespace warren::proxy
