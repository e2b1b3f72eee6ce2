// `warrenctl audit assert --live`'s engine: a segmentation spec against a state
// loaded from operator-written YAML, every probe walked through explain's (the
// data path's) decisions, no socket.
//
//   shop (in the mesh)   payments 10.1.0.10 (Service payments 10.96.0.20:80 -> 8080;
//                                  ALLOW only checkout's account, to 8080)
//                        checkout 10.1.0.5   web 10.1.0.6 (no policy)
//   legacy (in the mesh) cron 10.2.0.7
//   plain (not)          old 10.3.0.9

#include "tunnel/proxy/segmentation_live.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tests/support/waypoint_cluster.h"

namespace warren::proxy {
namespace {

const char* kCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: payments, namespace: shop, labels: {app: payments}}
spec: {serviceAccountName: payments}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: checkout, namespace: shop}
spec: {serviceAccountName: checkout}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {serviceAccountName: web}
status: {podIP: 10.1.0.6}
---
apiVersion: v1
kind: Pod
metadata: {name: cron, namespace: legacy}
spec: {serviceAccountName: cron}
status: {podIP: 10.2.0.7}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: plain}
status: {podIP: 10.3.0.9}
---
apiVersion: v1
kind: Service
metadata: {name: payments, namespace: shop}
spec: {clusterIP: 10.96.0.20, selector: {app: payments}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: payments-from-checkout, namespace: shop}
spec:
  selector: {matchLabels: {app: payments}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/checkout"]}}]
    to: [{operation: {ports: ["8080"]}}]
)";

const char* kStrictShop = R"(
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
)";

state::ClusterStatePtr load(const std::string& yaml) {
  source::Snapshot snap;
  source::loadDocuments(yaml, "cluster.yaml", snap);
  EXPECT_TRUE(snap.errors.empty()) << snap.errors.front().message;
  return state::stateFromSnapshot(snap, {});
}

audit::SegmentationSpec spec(const std::string& yaml) {
  auto s = audit::parseSegmentationSpec(yaml);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : audit::SegmentationSpec{};
}

// "rule|source|destination|port" of each contradiction, in order.
std::vector<std::string> rows(const LiveCheck& c) {
  std::vector<std::string> out;
  for (const auto& x : c.contradictions) out.push_back(x.rule + "|" + x.source + "|" + x.destination + "|" + x.port);
  return out;
}

TEST(SegmentationLive, LiveStatesAgainstSpecs) {
  struct Case {
    std::string name, cluster, spec;
    std::vector<std::string> want;
  };
  const std::string base = kCluster, strict = std::string(kCluster) + kStrictShop;
  const std::vector<Case> cases = {
      {"the policy keeps only_from: everyone else is denied on every port",
       base,
       "rules: [{name: r, to: {namespace: shop, workload: payments}, "
       "only_from: [{principal: cluster.local/ns/shop/sa/checkout, ports: ['8080']}]}]",
       {}},
      {"a source the policy allows and never_from forbids",
       base,
       "rules: [{name: r, to: {namespace: shop, workload: payments}, never_from: [{workload: checkout}]}]",
       {"r|shop/checkout|shop/payments|8080"}},
      {"only_from narrower than the policy: checkout on a port the spec does not list",
       base,
       "rules: [{name: r, to: {namespace: shop, workload: payments}, only_from: [{workload: checkout, ports: "
       "['9090']}]}]",
       {"r|shop/checkout|shop/payments|8080"}},
      {"no policy: every source reaches web on any port, the outside client too",
       base,
       "rules: [{name: r, to: {namespace: shop, workload: web}, only_from: [{namespace: shop}]}]",
       {"r|legacy/cron|shop/web|1", "r|plain/old|shop/web|1", "r|outside the mesh (192.0.2.1)|shop/web|1"}},
      {"never_from a namespace: legacy reaches web",
       base,
       "rules: [{name: r, to: {namespace: shop, workload: web}, never_from: [{namespace: legacy}]}]",
       {"r|legacy/cron|shop/web|1"}},
      {"require_mtls: PERMISSIVE web and checkout take plaintext, payments' ALLOW refuses it",
       base,
       "rules: [{name: r, to: {namespace: shop}, require_mtls: true}]",
       {"r|plain/old|shop/web|1", "r|outside the mesh (192.0.2.1)|shop/web|1", "r|plain/old|shop/checkout|1",
        "r|outside the mesh (192.0.2.1)|shop/checkout|1"}},
      {"require_mtls holds under STRICT", strict, "rules: [{name: r, to: {namespace: shop}, require_mtls: true}]", {}},
      {"require_mtls: a destination outside the mesh is reached in plaintext (passthrough)",
       strict,
       "rules: [{name: r, to: {namespace: plain}, require_mtls: true}]",
       {"r|shop/checkout|plain/old|1", "r|shop/payments|plain/old|1", "r|shop/web|plain/old|1",
        "r|legacy/cron|plain/old|1", "r|outside the mesh (192.0.2.1)|plain/old|1"}},
      {"to by service hostname, on the port the service targets",
       base,
       "rules: [{name: r, to: {service: payments.shop.svc.cluster.local}, never_from: [{namespace: shop}]}]",
       {"r|shop/checkout|shop/payments|8080"}},
      {"a rule's ports narrow what it covers",
       base,
       "rules: [{name: r, to: {namespace: shop, workload: web, ports: ['443']}, only_from: [{namespace: shop}]}]",
       {"r|legacy/cron|shop/web|443", "r|plain/old|shop/web|443", "r|outside the mesh (192.0.2.1)|shop/web|443"}},
  };
  for (const auto& c : cases) {
    auto st = load(c.cluster);
    const LiveCheck got = checkSegmentationLive(*st, spec(c.spec));
    std::vector<std::string> have = rows(got), want = c.want;
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(have, want) << c.name;
  }
}

TEST(SegmentationLive, AContradictionNamesTheDecidingPolicyAndTheAddressDialed) {
  auto st = load(kCluster);
  auto allowed = checkSegmentationLive(
      *st, spec("rules: [{name: no checkout, to: {namespace: shop, workload: payments}, never_from: [{workload: "
                "checkout}]}]"));
  ASSERT_EQ(allowed.contradictions.size(), 1u);
  const auto& x = allowed.contradictions[0];
  EXPECT_EQ(x.decidedBy, "shop/payments-from-checkout rules[0]");
  EXPECT_EQ(x.dialed, "10.1.0.10:8080");  // the pod first; the VIP's row would repeat it
  EXPECT_FALSE(x.anyOtherPort);
  EXPECT_EQ(x.why, "reached from a source never_from lists");
  EXPECT_NE(x.reason.find("allowed by ALLOW policy shop/payments-from-checkout"), std::string::npos) << x.reason;

  auto open = checkSegmentationLive(
      *st, spec("rules: [{name: web, to: {namespace: shop, workload: web}, never_from: [{namespace: legacy}]}]"));
  ASSERT_EQ(open.contradictions.size(), 1u);
  EXPECT_EQ(open.contradictions[0].decidedBy, "no policy: default allow");
  EXPECT_TRUE(open.contradictions[0].anyOtherPort);

  auto passthrough =
      checkSegmentationLive(*st, spec("rules: [{name: old, to: {namespace: plain}, never_from: [{workload: web}]}]"));
  ASSERT_EQ(passthrough.contradictions.size(), 1u);
  EXPECT_EQ(passthrough.contradictions[0].decidedBy, "no policy: no Warren tunnel judges it");
  EXPECT_NE(passthrough.contradictions[0].reason.find("not in the mesh"), std::string::npos);
}

TEST(SegmentationLive, SaysWhatItProbed) {
  auto st = load(kCluster);
  auto c = checkSegmentationLive(*st, spec(R"(rules:
- {name: payments, to: {namespace: shop, workload: payments}, never_from: [{namespace: legacy, ports: ['9443']}]}
- {name: nobody, to: {namespace: gone}, require_mtls: true}
)"));
  EXPECT_TRUE(c.contradictions.empty());
  ASSERT_EQ(c.destinations.size(), 1u);
  EXPECT_EQ(c.destinations[0].workload, "shop/payments");
  // The service's target and the policy's port (8080), the spec's (9443), and one for the rest.
  EXPECT_EQ(c.destinations[0].ports, (std::vector<std::string>{"8080", "9443", "1"}));
  EXPECT_EQ(c.destinations[0].anyOtherPort, "1");
  EXPECT_EQ(c.rulesWithoutDestination, std::vector<std::string>{"nobody"});
  EXPECT_EQ(c.sources, 6u);  // the five workloads and the outside client
  // The pod IP on each of the three ports and the VIP on 80 (-> 8080), from every source but payments itself.
  EXPECT_EQ(c.probes, 4u * 5u);
}

// Through a waypoint: the connection is the original source's, allowed at L4 by
// the waypoint's identity and judged per request by its L7 policies, which counts
// as reached. The waypoint itself is no source.
TEST(SegmentationLive, TrafficThroughAWaypointIsItsSourcesAndCountsAsAllowed) {
  auto st = load(testdata::kWaypointCluster);
  auto c = checkSegmentationLive(*st, spec("rules: [{name: r, to: {namespace: payments, workload: ledger-0}, "
                                           "only_from: [{workload: checkout}]}]"));
  std::vector<std::string> have = rows(c);
  std::sort(have.begin(), have.end());
  EXPECT_EQ(have, (std::vector<std::string>{"r|payments/audit-0|payments/ledger-0|8080",
                                            "r|payments/db-0|payments/ledger-0|8080"}));
  for (const auto& x : c.contradictions) {
    EXPECT_EQ(x.dialed, "10.96.0.20:80");  // the pod IP is refused: only the waypoint may reach it
    EXPECT_EQ(x.decidedBy,
              "payments/ledger-from-waypoint rules[0]; L7 policies of waypoint "
              "payments/waypoint.payments.svc.cluster.local judge each request");
  }
}

}  // namespace
}  // namespace warren::proxy
