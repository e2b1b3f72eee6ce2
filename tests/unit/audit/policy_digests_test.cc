// The deciding policy's hash for the audit records, the tunnel's (L4) and the
// waypoint's (L7): of the policy as the state holds it, cached per state.

#include "audit/policy_digests.h"

#include <gtest/gtest.h>

#include "audit/chain.h"
#include "state/state_json.h"

namespace warren::audit {
namespace {

TEST(PolicyDigests, TheHashIsOfThePolicyAsTheStateHoldsItAndFollowsAChange) {
  auto build = [](const std::string& principal) {
    state::ClusterState::Builder b;
    state::AuthorizationPolicy p;
    p.name = "only-client";
    p.ns = "mesh";
    state::Match m;
    m.principals.push_back(state::StringMatch::parse(principal));
    p.rules.push_back(state::Rule{{state::Clause{{m}}}});
    b.add(p);
    return b.finish();
  };
  auto first = build("cluster.local/ns/mesh/sa/a");
  PolicyDigests digests;
  const std::string h1 = digests.digest(first, *first, "mesh/only-client");
  EXPECT_EQ(h1, audit::sha256Hex(state::toJson(first->policies().at("mesh/only-client")).dump()));
  EXPECT_EQ(digests.digest(first, *first, "mesh/other"), "");
  EXPECT_EQ(digests.digest(first, *first, ""), "");
  auto second = build("cluster.local/ns/mesh/sa/b");
  const std::string h2 = digests.digest(second, *second, "mesh/only-client");
  EXPECT_NE(h1, h2);
  // A decision against an older state is hashed on its own, not from the cache.
  EXPECT_EQ(digests.digest(second, *first, "mesh/only-client"), h1);
}

TEST(PolicyDigests, AWaypointPolicyIsHashedFromTheL7PoliciesAndNeverMistakenForAnL4One) {
  auto build = [](const std::string& method) {
    state::ClusterState::Builder b;
    state::L7Policy p;
    p.name = "ledger-read";
    p.ns = "payments";
    state::L7Rule r;
    state::L7Operation op;
    op.methods.push_back(state::StringMatch::parse(method));
    r.to.push_back(op);
    p.rules.push_back(r);
    b.add(p);
    return b.finish();
  };
  auto first = build("GET");
  PolicyDigests digests;
  const std::string h1 = digests.digestL7(first, *first, "payments/ledger-read");
  EXPECT_EQ(h1, sha256Hex(state::toJson(first->l7Policies().at("payments/ledger-read")).dump()));
  EXPECT_EQ(h1.size(), 64u);
  EXPECT_EQ(digests.digest(first, *first, "payments/ledger-read"), "") << "not an L4 AuthorizationPolicy";
  EXPECT_EQ(digests.digestL7(first, *first, ""), "");
  auto second = build("POST");
  EXPECT_NE(digests.digestL7(second, *second, "payments/ledger-read"), h1);
  EXPECT_EQ(digests.digestL7(second, *first, "payments/ledger-read"), h1) << "hashed as it was when it decided";
}

}  // namespace
}  // namespace warren::audit
