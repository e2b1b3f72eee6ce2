// The policy index behind ClusterState::policiesFor and authorize(): which L4
// policies apply to a workload (Global, its namespace's, the selector ones it
// lists), in key order, without scanning the others. Then, over many random
// states and flows, the indexed answer and authorize()'s verdict equal those of
// the linear scan over every policy that the index replaced (kept here as the
// reference).

#include "state/policy_index.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "authz/authorize.h"
#include "state/cluster_state.h"

namespace warren::state {
namespace {

AuthorizationPolicy policy(const std::string& ns, const std::string& name, PolicyScope scope,
                           PolicyAction action = PolicyAction::Allow) {
  AuthorizationPolicy p;
  p.ns = ns;
  p.name = name;
  p.scope = scope;
  p.action = action;
  return p;
}

Workload workload(const std::string& ns, std::vector<std::string> policies = {}) {
  Workload w;
  w.uid = ns + "/w";
  w.ns = ns;
  w.policies = std::move(policies);
  return w;
}

std::map<std::string, AuthorizationPolicy> byKey(const std::vector<AuthorizationPolicy>& list) {
  std::map<std::string, AuthorizationPolicy> out;
  for (const auto& p : list) out[p.key()] = p;
  return out;
}

std::vector<std::string> keys(const std::vector<const AuthorizationPolicy*>& ps) {
  std::vector<std::string> out;
  for (const auto* p : ps) out.push_back(p->key());
  return out;
}

using Keys = std::vector<std::string>;

TEST(PolicyIndex, GlobalNamespaceAndListedSelectorPoliciesApplyAndNoOthers) {
  const auto policies = byKey({
      policy("istio-system", "mesh-wide", PolicyScope::Global),
      policy("shop", "all-of-shop", PolicyScope::Namespace),
      policy("bank", "all-of-bank", PolicyScope::Namespace),
      policy("shop", "cart-only", PolicyScope::WorkloadSelector),
      policy("shop", "checkout-only", PolicyScope::WorkloadSelector),
  });
  const PolicyIndex index(policies);
  EXPECT_EQ(keys(index.forWorkload(workload("shop", {"shop/cart-only"}))),
            (Keys{"istio-system/mesh-wide", "shop/all-of-shop", "shop/cart-only"}));
  EXPECT_EQ(keys(index.forWorkload(workload("bank"))), (Keys{"bank/all-of-bank", "istio-system/mesh-wide"}));
}

TEST(PolicyIndex, ANamespaceWithoutPoliciesOfItsOwnGetsTheGlobalOnes) {
  const auto policies =
      byKey({policy("istio-system", "g", PolicyScope::Global), policy("shop", "n", PolicyScope::Namespace)});
  const PolicyIndex index(policies);
  EXPECT_EQ(keys(index.forWorkload(workload("empty"))), (Keys{"istio-system/g"}));
}

TEST(PolicyIndex, NoPoliciesApplyToNothing) {
  const std::map<std::string, AuthorizationPolicy> none;
  EXPECT_TRUE(PolicyIndex(none).forWorkload(workload("shop", {"shop/x"})).empty());
  EXPECT_TRUE(PolicyIndex().forWorkload(workload("shop")).empty());
}

// Key order is the map's ("a-x/..." sorts before "a/..." since '-' < '/'), not
// (namespace, name) order: the first matching DENY in that order is the one named.
TEST(PolicyIndex, TheAnswerIsInKeyOrderAcrossScopes) {
  const auto policies = byKey({
      policy("a", "p", PolicyScope::Namespace),
      policy("a-x", "g", PolicyScope::Global),
      policy("a", "0-first", PolicyScope::WorkloadSelector),
      policy("a.b", "s", PolicyScope::WorkloadSelector),
      policy("0", "g", PolicyScope::Global),
  });
  const PolicyIndex index(policies);
  EXPECT_EQ(keys(index.forWorkload(workload("a", {"a.b/s", "a/0-first"}))),
            (Keys{"0/g", "a-x/g", "a.b/s", "a/0-first", "a/p"}));
}

TEST(PolicyIndex, ListedNamesThatAreNoSelectorPolicySelectNothing) {
  const auto policies = byKey({
      policy("bank", "n", PolicyScope::Namespace),
      policy("istio-system", "g", PolicyScope::Global),
      policy("shop", "s", PolicyScope::WorkloadSelector),
  });
  const PolicyIndex index(policies);
  // Another namespace's namespace-wide policy, an unknown name: neither applies
  // for being listed; the global one applies once, as it would anyway.
  EXPECT_EQ(keys(index.forWorkload(workload("shop", {"bank/n", "shop/missing", "istio-system/g"}))),
            (Keys{"istio-system/g"}));
}

TEST(PolicyIndex, ASelectorPolicyListedTwiceAppliesOnce) {
  const auto policies = byKey({policy("shop", "s", PolicyScope::WorkloadSelector)});
  const PolicyIndex index(policies);
  EXPECT_EQ(keys(index.forWorkload(workload("shop", {"shop/s", "shop/s"}))), (Keys{"shop/s"}));
}

TEST(PolicyIndex, ClusterStateAnswersFromItsIndex) {
  ClusterState::Builder b;
  b.add(policy("istio-system", "g", PolicyScope::Global, PolicyAction::Deny));
  b.add(policy("shop", "s", PolicyScope::WorkloadSelector));
  b.add(workload("shop", {"shop/s"}));
  auto st = b.finish();
  const Workload* w = st->findWorkload("shop/w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(keys(st->policiesFor(*w)), (Keys{"istio-system/g", "shop/s"}));
}

// --- the index against the linear scan it replaced, over random states ---

// The reference: every policy looked at, as ClusterState::policiesFor did before the index.
std::vector<const AuthorizationPolicy*> linearScan(const ClusterState& st, const Workload& w) {
  std::vector<const AuthorizationPolicy*> out;
  for (const auto& [key, p] : st.policies()) {
    bool applies = false;
    switch (p.scope) {
      case PolicyScope::Global: applies = true; break;
      case PolicyScope::Namespace: applies = p.ns == w.ns; break;
      case PolicyScope::WorkloadSelector:
        applies = std::find(w.policies.begin(), w.policies.end(), key) != w.policies.end();
        break;
    }
    if (applies) out.push_back(&p);
  }
  return out;
}

class RandomCluster {
 public:
  explicit RandomCluster(uint32_t seed) : rng_(seed) {}

  ClusterStatePtr build() {
    ClusterState::Builder b;
    std::vector<std::string> keys;
    const int policies = pick(30);
    for (int i = 0; i < policies; ++i) {
      AuthorizationPolicy p = policy(oneOf(namespaces_), oneOf(names_), static_cast<PolicyScope>(pick(3)),
                                     static_cast<PolicyAction>(pick(3)));
      p.dryRun = pick(6) == 0;
      for (int r = pick(3); r > 0; --r) p.rules.push_back(rule());
      keys.push_back(p.key());
      b.add(std::move(p));
    }
    const int workloads = 1 + pick(8);
    for (int i = 0; i < workloads; ++i) {
      Workload w = workload(oneOf(namespaces_));
      w.uid = "w" + std::to_string(i);
      w.ips = {"10.0.0." + std::to_string(i + 1)};
      // Selector names as sources send them: mostly real ones of any scope, some
      // unknown, some twice.
      for (int k = pick(5); k > 0; --k)
        w.policies.push_back(!keys.empty() && pick(4) ? oneOf(keys) : oneOf(namespaces_) + "/unknown");
      if (pick(4) == 0) {
        w.mtls.mode = MtlsMode::Strict;
        w.mtls.decidedBy = "istio-system/strict";
      }
      b.add(std::move(w));
    }
    return b.finish();
  }

  authz::ConnectionFacts flow(const Workload& dst) {
    authz::ConnectionFacts c;
    c.srcIp = oneOf(sourceIps_);
    if (pick(5)) c.srcIdentity = identity::workloadIdentity("cluster.local", oneOf(namespaces_), oneOf(accounts_));
    c.dstIp = dst.ips.front();
    c.dstPort = oneOf(ports_);
    return c;
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  template <typename T>
  const T& oneOf(const std::vector<T>& v) {
    return v[rng_() % v.size()];
  }

  StringMatch stringMatch(const std::vector<std::string>& values) {
    StringMatch m;
    m.kind = static_cast<StringMatch::Kind>(pick(4));
    m.value = oneOf(values);
    return m;
  }
  Rule rule() {
    Rule r;
    for (int c = pick(3); c > 0; --c) {
      Clause clause;
      for (int m = pick(3); m > 0; --m) {
        Match match;
        switch (pick(6)) {
          case 0: match.namespaces.push_back(stringMatch(namespaces_)); break;
          case 1: match.notNamespaces.push_back(stringMatch(namespaces_)); break;
          case 2: match.principals.push_back(stringMatch(principals_)); break;
          case 3: match.notPrincipals.push_back(stringMatch(principals_)); break;
          case 4: match.destinationPorts.push_back(oneOf(ports_)); break;
          case 5: match.sourceIps.push_back(*IpBlock::parse(oneOf(blocks_))); break;
        }
        clause.matches.push_back(std::move(match));
      }
      r.clauses.push_back(std::move(clause));
    }
    return r;
  }

  std::mt19937 rng_;
  // Names whose key order differs from (namespace, name) order: "a-x/..." < "a/...".
  const std::vector<std::string> namespaces_ = {"istio-system", "a", "a-x", "a.b", "b"};
  const std::vector<std::string> names_ = {"p", "q", "deny", "allow", "z-1", "0"};
  const std::vector<std::string> accounts_ = {"default", "api", "web"};
  const std::vector<std::string> principals_ = {"cluster.local/ns/a/sa/api", "cluster.local/ns/b/sa/web", "/sa/api",
                                                "cluster.local/ns/a"};
  const std::vector<std::string> sourceIps_ = {"10.1.0.1", "10.2.0.7", "192.168.0.1"};
  const std::vector<std::string> blocks_ = {"10.1.0.0/16", "10.2.0.7", "0.0.0.0/0"};
  const std::vector<uint32_t> ports_ = {80, 8080, 9090};
};

TEST(PolicyIndexEquivalence, IndexedPoliciesAndVerdictsEqualTheLinearScanOnRandomStates) {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 2000; ++seed) {
    RandomCluster random(seed);
    const ClusterStatePtr st = random.build();
    for (const auto& [uid, w] : st->workloads()) {
      const auto reference = linearScan(*st, w);
      ASSERT_EQ(keys(st->policiesFor(w)), keys(reference)) << "seed " << seed << " workload " << uid;
      for (int f = 0; f < 5; ++f) {
        const authz::ConnectionFacts c = random.flow(w);
        const authz::Decision indexed = authz::authorize(*st, w, c);
        const authz::Decision linear = authz::authorize(w, reference, c);
        ASSERT_EQ(indexed.allowed, linear.allowed) << "seed " << seed << ": " << linear.reason;
        ASSERT_EQ(indexed.policy, linear.policy) << "seed " << seed;
        ASSERT_EQ(indexed.rule, linear.rule) << "seed " << seed;
        ASSERT_EQ(indexed.reason, linear.reason) << "seed " << seed;
        ASSERT_EQ(indexed.audits, linear.audits) << "seed " << seed;
        ASSERT_EQ(indexed.dryRun, linear.dryRun) << "seed " << seed;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 10000);
}

}  // namespace
}  // namespace warren::state
