// `audit assert`'s spec check, pure: a spec and counted connections in, the
// contradicting flows out. Table tests over one set of connections.

#include "audit/segmentation.h"

#include <gtest/gtest.h>

namespace warren::audit {
namespace {

Connection conn(const std::string& srcNs, const std::string& src, const std::string& dstNs, const std::string& dst,
                const std::string& port, const std::string& verdict, bool mtls = true) {
  Connection c;
  c.srcNamespace = srcNs;
  c.srcWorkload = src;
  c.srcIdentity = "spiffe://cluster.local/ns/" + srcNs + "/sa/" + src;
  c.dstNamespace = dstNs;
  c.dstWorkload = dst;
  c.dstService = dst + "." + dstNs + ".svc.cluster.local";
  c.flow = {srcNs + "/" + src, c.dstService, port};
  c.verdict = verdict;
  c.mtls = mtls;
  if (!mtls) c.noMtlsReason = "plaintext inbound: the client is outside the mesh";
  return c;
}

const std::vector<Connection> kObserved = {
    conn("shop", "checkout", "shop", "payments", "8080", "allow"),
    conn("shop", "checkout", "shop", "payments", "8080", "allow"),
    conn("shop", "checkout", "shop", "payments", "9090", "allow"),  // a second port
    conn("legacy", "batch", "shop", "payments", "8080", "deny"),    // refused: no contradiction
    conn("legacy", "report", "shop", "payments", "8080", "allow"),  // got through
    conn("shop", "cart", "shop", "catalog", "80", "none", false),   // plaintext, not refused
};

TEST(AuditSegmentation, ObservedFlowsAgainstSpecs) {
  struct Case {
    std::string name, spec;
    // "rule|source|port|why-prefix" of each contradiction, by flow.
    std::vector<std::string> want;
  } cases[] = {
      {"only checkout on 8080",
       R"(rules:
- name: payments only from checkout on 8080
  to: {namespace: shop, workload: payments}
  only_from: [{principal: cluster.local/ns/shop/sa/checkout, ports: ["8080"]}])",
       {"payments only from checkout on 8080|legacy/report|8080|reached from a source only_from does not list",
        "payments only from checkout on 8080|shop/checkout|9090|reached from a source only_from does not list"}},
      {"only checkout, any port, spiffe:// prefix",
       R"(rules:
- to: {service: payments.shop.svc.cluster.local}
  only_from: [{principal: "spiffe://cluster.local/ns/shop/sa/checkout"}])",
       {"rules[0]|legacy/report|8080|reached from a source only_from does not list"}},
      {"nothing from legacy",
       R"(rules:
- name: no legacy
  to: {namespace: shop, workload: payments}
  never_from: [{namespace: legacy}])",
       {"no legacy|legacy/report|8080|reached from a source never_from lists"}},
      {"a denial is segmentation working",
       R"(rules:
- name: no batch
  to: {namespace: shop}
  never_from: [{workload: batch}])",
       {}},
      {"mTLS required in shop",
       R"(rules:
- name: shop mtls
  to: {namespace: shop}
  require_mtls: true)",
       {"shop mtls|shop/cart|80|not mutual TLS: plaintext inbound"}},
      {"nothing may reach catalog",
       R"(rules:
- name: catalog closed
  to: {workload: catalog}
  only_from: [])",
       {"catalog closed|shop/cart|80|reached from a source only_from does not list"}},
      {"a spec the flows keep",
       R"(rules:
- to: {namespace: shop, workload: payments, ports: ["8080", "9090"]}
  only_from: [{namespace: shop}, {namespace: legacy, workload: report}])",
       {}},
  };
  for (const auto& c : cases) {
    auto spec = parseSegmentationSpec(c.spec);
    ASSERT_TRUE(spec) << c.name << ": " << spec.error().message;
    std::vector<std::string> got;
    for (const auto& x : checkSegmentation(*spec, kObserved)) {
      got.push_back(x.rule + "|" + x.flow.source + "|" + x.flow.port + "|" + x.why);
    }
    ASSERT_EQ(got.size(), c.want.size()) << c.name;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i].starts_with(c.want[i])) << c.name << ": " << got[i];
  }
}

TEST(AuditSegmentation, ContradictionsCountConnections) {
  auto spec = parseSegmentationSpec("rules: [{to: {workload: payments}, never_from: [{workload: checkout}]}]");
  ASSERT_TRUE(spec) << spec.error().message;
  auto found = checkSegmentation(*spec, kObserved);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].flow.port, "8080");
  EXPECT_EQ(found[0].connections, 2u);
  EXPECT_EQ(found[1].flow.port, "9090");
  EXPECT_EQ(found[1].connections, 1u);
}

TEST(AuditSegmentation, ABadSpecIsAnErrorThatSaysWhere) {
  struct Case {
    std::string spec, error;
  } cases[] = {
      {"rules: [", "not YAML"},
      {"rule: []", "a list of rules"},
      {"rules: [{name: x}]", "rules[0]: needs `to`"},
      {"rules: [{to: {namespace: a}}]", "rules[0]: says nothing"},
      {"rules: [{to: {namespace: a}, only_form: []}]", "rules[0]: unknown field only_form"},
      {"rules: [{to: {namespce: a}, require_mtls: true}]", "rules[0].to: unknown field namespce"},
      {"rules: [{to: {namespace: a}, never_from: {namespace: b}}]", "rules[0].never_from: a list"},
  };
  for (const auto& c : cases) {
    auto spec = parseSegmentationSpec(c.spec);
    ASSERT_FALSE(spec) << c.spec;
    EXPECT_NE(spec.error().message.find(c.error), std::string::npos) << c.spec << ": " << spec.error().message;
  }
}

}  // namespace
}  // namespace warren::audit
