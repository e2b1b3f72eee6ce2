// One DeltaDiscoveryResponse at a time, without a transport: ACK and NACK
// replies, all-or-nothing application, removals, versions for a reconnect.

#include "xds/resource_cache.h"

#include <gtest/gtest.h>

#include "tests/unit/xds/xds_test_util.h"

namespace warren::xds {
namespace {

using namespace xdstest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

void addResource(DeltaDiscoveryResponse& r, const std::string& name, const std::string& version,
                 const google::protobuf::Any& body) {
  auto* res = r.add_resources();
  res->set_name(name);
  res->set_version(version);
  *res->mutable_resource() = body;
}

DeltaDiscoveryResponse response(const std::string& typeUrl, const std::string& nonce) {
  DeltaDiscoveryResponse r;
  r.set_type_url(typeUrl);
  r.set_nonce(nonce);
  return r;
}

TEST(ResourceCache, AcksAndBuildsState) {
  ResourceCache cache("cluster.local");
  auto r = response(kAddressType, "n1");
  addResource(r, "uid-a", "1", packAddress(workload("uid-a", "10.0.0.1")));
  addResource(r, "default/web.default.svc.cluster.local", "1", packAddress(service("web", "default", "10.96.0.1")));
  auto out = cache.apply(r);
  ASSERT_FALSE(out.rejected) << out.rejected->message;
  EXPECT_EQ(out.reply.type_url(), kAddressType);
  EXPECT_EQ(out.reply.response_nonce(), "n1");
  EXPECT_FALSE(out.reply.has_error_detail());
  ASSERT_TRUE(out.state);
  EXPECT_NE(out.state->findByIp("10.0.0.1"), nullptr);
  EXPECT_NE(out.state->findServiceByVip("10.96.0.1"), nullptr);

  auto p = response(kAuthorizationType, "n2");
  addResource(p, "default/deny", "7", packPolicy(denyFrom("deny", "default", "spiffe://cluster.local/ns/x/sa/y")));
  out = cache.apply(p);
  ASSERT_FALSE(out.rejected) << out.rejected->message;
  ASSERT_TRUE(out.state);
  // The policy joins the workloads already held: one state from both types.
  EXPECT_EQ(out.state->policies().count("default/deny"), 1u);
  EXPECT_NE(out.state->findByIp("10.0.0.1"), nullptr);
  EXPECT_EQ(cache.versions(kAuthorizationType), (std::map<std::string, std::string>{{"default/deny", "7"}}));
}

TEST(ResourceCache, OneBadResourceIsNackedAndTheRestApplied) {
  ResourceCache cache("cluster.local");
  auto good = response(kAddressType, "n1");
  addResource(good, "uid-a", "1", packAddress(workload("uid-a", "10.0.0.1")));
  ASSERT_FALSE(cache.apply(good).rejected);

  auto bad = response(kAddressType, "n2");
  addResource(bad, "uid-b", "2", packAddress(workload("uid-b", "10.0.0.2")));
  auto broken = workload("uid-bad", "10.0.0.3");
  broken.set_addresses(0, "12345");
  addResource(bad, "uid-bad", "2", packAddress(broken));
  bad.add_removed_resources("uid-a");
  auto out = cache.apply(bad);
  ASSERT_TRUE(out.rejected);
  EXPECT_EQ(out.reply.response_nonce(), "n2");
  EXPECT_EQ(out.reply.type_url(), kAddressType);
  ASSERT_TRUE(out.reply.has_error_detail());
  EXPECT_NE(out.reply.error_detail().message().find("uid-bad"), std::string::npos)
      << out.reply.error_detail().message();
  EXPECT_NE(out.reply.error_detail().message().find("5 bytes"), std::string::npos);
  EXPECT_NE(out.reply.error_detail().message().find("1 of 2 resources"), std::string::npos);
  // The rest applied: the good add and the removal, with their versions; the bad
  // one is neither held nor versioned, so the server sends it again once fixed.
  ASSERT_TRUE(out.state);
  EXPECT_NE(out.state->findWorkload("uid-b"), nullptr);
  EXPECT_EQ(out.state->findWorkload("uid-a"), nullptr);
  EXPECT_EQ(out.state->findWorkload("uid-bad"), nullptr);
  EXPECT_EQ(cache.versions(kAddressType), (std::map<std::string, std::string>{{"uid-b", "2"}}));

  auto next = response(kAddressType, "n3");
  next.add_removed_resources("uid-nonexistent");  // removals of unknown names are fine
  out = cache.apply(next);
  ASSERT_FALSE(out.rejected);
  EXPECT_NE(out.state->findWorkload("uid-b"), nullptr);
}

TEST(ResourceCache, AResourceWhoseBodyIsNotAnAddressIsNamedOnceInTheNack) {
  ResourceCache cache("cluster.local");
  auto r = response(kAddressType, "n1");
  addResource(r, "uid-x", "1", packPolicy(denyFrom("deny", "default", "spiffe://cluster.local/ns/x/sa/y")));
  auto out = cache.apply(r);
  ASSERT_TRUE(out.rejected);
  const std::string msg = out.reply.error_detail().message();
  EXPECT_NE(msg.find("resource uid-x: body is " + std::string(kAuthorizationType)), std::string::npos) << msg;
  EXPECT_EQ(msg.find("resource uid-x: resource uid-x"), std::string::npos) << msg;
}

TEST(ResourceCache, APolicyThatCannotBeReadIsEnforcedAsDenyAllInItsScope) {
  ResourceCache cache("cluster.local");
  auto good = response(kAuthorizationType, "n1");
  addResource(good, "shop/allow-web", "1", packPolicy(allowOnly("allow-web", "shop", "cluster.local/ns/shop/sa/web")));
  ASSERT_FALSE(cache.apply(good).rejected);

  // Its next version is broken (a port 0): NACKed, and until a valid version
  // comes, the namespace it governs is denied rather than left to the old rules
  // or to none.
  auto broken = allowOnly("allow-web", "shop", "cluster.local/ns/shop/sa/web");
  broken.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->add_destination_ports(0);
  auto bad = response(kAuthorizationType, "n2");
  addResource(bad, "shop/allow-web", "2", packPolicy(broken));
  auto out = cache.apply(bad);
  ASSERT_TRUE(out.rejected);
  ASSERT_TRUE(out.state);
  const auto& p = out.state->policies().at("shop/allow-web");
  EXPECT_EQ(p.action, state::PolicyAction::Deny);
  EXPECT_EQ(p.scope, state::PolicyScope::Namespace);
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_TRUE(p.rules[0].clauses.empty()) << "matches every connection";
  ASSERT_FALSE(p.conversionNotes.empty());
  EXPECT_NE(p.conversionNotes[0].find("deny-all until fixed"), std::string::npos);
  EXPECT_EQ(cache.versions(kAuthorizationType), (std::map<std::string, std::string>{}))
      << "not held at any version: the server resends it";
}

TEST(ResourceCache, RemovalsDropResources) {
  ResourceCache cache("cluster.local");
  auto r = response(kAddressType, "n1");
  addResource(r, "uid-a", "1", packAddress(workload("uid-a", "10.0.0.1")));
  addResource(r, "uid-b", "1", packAddress(workload("uid-b", "10.0.0.2")));
  ASSERT_FALSE(cache.apply(r).rejected);
  auto rm = response(kAddressType, "n2");
  rm.add_removed_resources("uid-a");
  auto out = cache.apply(rm);
  ASSERT_FALSE(out.rejected);
  EXPECT_EQ(out.state->findWorkload("uid-a"), nullptr);
  EXPECT_EQ(out.state->findByIp("10.0.0.1"), nullptr);
  EXPECT_NE(out.state->findWorkload("uid-b"), nullptr);
  EXPECT_EQ(cache.versions(kAddressType), (std::map<std::string, std::string>{{"uid-b", "1"}}));
}

TEST(ResourceCache, RejectsBodiesOfTheWrongTypeAndUnknownTypes) {
  ResourceCache cache("cluster.local");
  auto r = response(kAddressType, "n1");
  addResource(r, "default/deny", "1", packPolicy(denyFrom("deny", "default", "x")));
  auto out = cache.apply(r);
  ASSERT_TRUE(out.rejected);
  EXPECT_TRUE(out.state->workloads().empty());
  EXPECT_NE(out.rejected->message.find("default/deny"), std::string::npos) << out.rejected->message;
  EXPECT_NE(out.rejected->message.find("istio.security.Authorization"), std::string::npos);

  auto noBody = response(kAddressType, "n2");
  noBody.add_resources()->set_name("uid-empty");
  out = cache.apply(noBody);
  ASSERT_TRUE(out.rejected);
  EXPECT_NE(out.rejected->message.find("uid-empty"), std::string::npos) << out.rejected->message;

  auto unknown = response("type.googleapis.com/envoy.config.cluster.v3.Cluster", "n3");
  out = cache.apply(unknown);
  ASSERT_TRUE(out.rejected);
  EXPECT_NE(out.rejected->message.find("unsupported type"), std::string::npos);
  EXPECT_EQ(cache.addressCount(), 0u);
}

}  // namespace
}  // namespace warren::xds
