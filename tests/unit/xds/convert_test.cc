// Istio workload-API resources -> the tunnel's state: every field Warren reads,
// the defaults istiod relies on, and every malformed input as an error that
// names the resource.

#include "xds/convert.h"

#include <sys/socket.h>

#include <functional>

#include <gtest/gtest.h>

#include "authz/authorize.h"
#include "io/tcp.h"
#include "tests/unit/xds/xds_test_util.h"
#include "tunnel/proxy/decisions.h"

namespace warren::xds {
namespace {

using namespace xdstest;
namespace iw = istio::workload;
namespace is = istio::security;

// The error's message must contain every fragment (the resource's name, the problem).
template <typename T>
void expectError(const Result<T>& r, std::initializer_list<std::string> fragments) {
  ASSERT_FALSE(r.ok()) << "expected an error containing " << *fragments.begin();
  for (const auto& f : fragments)
    EXPECT_NE(r.error().message.find(f), std::string::npos) << "\"" << r.error().message << "\" lacks \"" << f << "\"";
}

TEST(ConvertWorkload, EveryField) {
  iw::Workload in = workload("uid-1", "10.0.0.5", "shop");
  in.add_addresses(ipBytes("fd00::5"));
  in.set_name("web-0");
  in.set_service_account("web");
  in.set_node("node-a");
  in.set_status(iw::HEALTHY);
  auto& ports = (*in.mutable_services())["shop/web.shop.svc.cluster.local"];
  auto* p = ports.add_ports();
  p->set_service_port(80);
  p->set_target_port(8080);
  (*in.mutable_services())["shop/db.shop.svc.cluster.local"];  // endpoint, service's own ports
  in.add_authorization_policies("shop/allow-web");

  auto w = convertWorkload(in, "example.org");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->uid, "uid-1");
  EXPECT_EQ(w->name, "web-0");
  EXPECT_EQ(w->ns, "shop");
  EXPECT_EQ(w->serviceAccount, "web");
  EXPECT_EQ(w->node, "node-a");
  EXPECT_EQ(w->ips, (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  EXPECT_TRUE(w->captured);
  EXPECT_NE(w->captureReason.find("HBONE"), std::string::npos) << w->captureReason;
  EXPECT_TRUE(w->ready);
  // No trust domain on the wire: the configured one.
  EXPECT_EQ(w->identity.uri(), "spiffe://example.org/ns/shop/sa/web");
  ASSERT_EQ(w->services.size(), 2u);
  const auto& web = w->services.at("shop/web.shop.svc.cluster.local");
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].servicePort, 80u);
  EXPECT_EQ(web[0].targetPort, 8080u);
  EXPECT_TRUE(w->services.at("shop/db.shop.svc.cluster.local").empty());
  EXPECT_EQ(w->policies, (std::vector<std::string>{"shop/allow-web"}));
}

TEST(ConvertWorkload, ASidecarsPodIsReachedWithoutHboneNotRefused) {
  // A mesh moving from sidecars to ambient: istiod marks sidecar pods
  // LEGACY_ISTIO_MTLS. One of them must not make the whole response a NACK.
  iw::Workload in = workload("uid-sidecar", "10.0.0.7");
  in.set_tunnel_protocol(iw::LEGACY_ISTIO_MTLS);
  auto w = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_FALSE(w->captured) << "Warren cannot send sidecar mTLS; HBONE to it would fail";
  EXPECT_NE(w->captureReason.find("LEGACY_ISTIO_MTLS"), std::string::npos) << w->captureReason;
}

TEST(ConvertWorkload, DefaultsAndOutOfMesh) {
  iw::Workload in = workload("uid-2", "10.0.0.6");
  in.set_tunnel_protocol(iw::NONE);
  in.set_status(iw::UNHEALTHY);
  in.set_trust_domain("other.domain");
  auto w = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_FALSE(w->captured);
  EXPECT_NE(w->captureReason.find("NONE"), std::string::npos) << w->captureReason;
  EXPECT_FALSE(w->ready);
  EXPECT_EQ(w->serviceAccount, "default");
  EXPECT_EQ(w->identity.uri(), "spiffe://other.domain/ns/default/sa/default");
}

TEST(ConvertWorkload, HostnameOnlyWorkloadHasNoIps) {
  iw::Workload in = workload("uid-3", "");
  in.set_hostname("vm.example.com");
  auto w = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE(w->ips.empty());
}

TEST(ConvertWorkload, NetworkMode) {
  iw::Workload in = workload("uid-h", "10.0.0.9");
  auto standard = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(standard.ok());
  EXPECT_FALSE(standard->hostNetwork);
  in.set_network_mode(iw::HOST_NETWORK);
  auto host = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->hostNetwork);
  in.set_network_mode(static_cast<iw::NetworkMode>(7));
  expectError(convertWorkload(in, "cluster.local"), {"uid-h", "network_mode 7"});
}

TEST(ConvertWorkload, MalformedInputsAreErrorsNamingTheWorkload) {
  {
    iw::Workload in = workload("", "10.0.0.1");
    in.set_name("nameless");
    expectError(convertWorkload(in, "cluster.local"), {"default/nameless", "no uid"});
  }
  {
    iw::Workload in = workload("uid-ns", "10.0.0.1");
    in.clear_namespace_();
    expectError(convertWorkload(in, "cluster.local"), {"uid-ns", "no namespace"});
  }
  {
    iw::Workload in = workload("uid-len", "10.0.0.1");
    in.add_addresses(std::string("\x0a\x00\x00\x01\x02", 5));
    expectError(convertWorkload(in, "cluster.local"), {"uid-len", "addresses[1]", "5 bytes"});
  }
  {
    iw::Workload in = workload("uid-tp", "10.0.0.1");
    in.set_tunnel_protocol(static_cast<iw::TunnelProtocol>(7));
    expectError(convertWorkload(in, "cluster.local"), {"uid-tp", "tunnel_protocol 7"});
  }
  {
    iw::Workload in = workload("uid-st", "10.0.0.1");
    in.set_status(static_cast<iw::WorkloadStatus>(9));
    expectError(convertWorkload(in, "cluster.local"), {"uid-st", "status 9"});
  }
  {
    iw::Workload in = workload("uid-p0", "10.0.0.1");
    (*in.mutable_services())["default/a.default.svc.cluster.local"].add_ports()->set_target_port(80);
    expectError(convertWorkload(in, "cluster.local"),
                {"uid-p0", "services[default/a.default.svc.cluster.local]", "service port 0"});
  }
  {
    iw::Workload in = workload("uid-pbig", "10.0.0.1");
    auto* p = (*in.mutable_services())["default/a.default.svc.cluster.local"].add_ports();
    p->set_service_port(80);
    p->set_target_port(70000);
    expectError(convertWorkload(in, "cluster.local"), {"uid-pbig", "target port 70000"});
  }
  {
    iw::Workload in = workload("uid-key", "10.0.0.1");
    (*in.mutable_services())["no-slash"];
    expectError(convertWorkload(in, "cluster.local"), {"uid-key", "no-slash"});
  }
}

TEST(ConvertService, EveryField) {
  iw::Service in = service("web", "shop", "10.96.0.10");
  in.add_addresses()->set_address(ipBytes("fd00:96::10"));
  auto* p = in.add_ports();
  p->set_service_port(443);  // target 0: named target port, resolved per workload
  auto s = convertService(in);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->name, "web");
  EXPECT_EQ(s->ns, "shop");
  EXPECT_EQ(s->hostname, "web.shop.svc.cluster.local");
  EXPECT_EQ(s->key(), "shop/web.shop.svc.cluster.local");
  EXPECT_EQ(s->vips, (std::vector<std::string>{"10.96.0.10", "fd00:96::10"}));
  ASSERT_EQ(s->ports.size(), 2u);
  EXPECT_EQ(s->ports[0].servicePort, 80u);
  EXPECT_EQ(s->ports[0].targetPort, 8080u);
  EXPECT_EQ(s->ports[1].servicePort, 443u);
  EXPECT_EQ(s->ports[1].targetPort, 0u);
}

TEST(ConvertService, MalformedInputsAreErrorsNamingTheService) {
  {
    iw::Service in = service("web", "shop", "10.96.0.10");
    in.mutable_addresses(0)->set_address("abc");
    expectError(convertService(in), {"shop/web.shop.svc.cluster.local addresses[0]", "3 bytes"});
  }
  {
    iw::Service in = service("web", "shop", "10.96.0.10");
    in.clear_hostname();
    expectError(convertService(in), {"service shop/", "no hostname"});
  }
  {
    iw::Service in = service("web", "shop", "10.96.0.10");
    in.clear_name();
    expectError(convertService(in), {"shop/web.shop.svc.cluster.local", "no name"});
  }
  {
    iw::Service in = service("web", "shop", "10.96.0.10");
    in.mutable_ports(0)->set_service_port(0);
    expectError(convertService(in), {"shop/web.shop.svc.cluster.local ports", "service port 0"});
  }
  {
    iw::Service in = service("web", "shop", "10.96.0.10");
    in.mutable_ports(0)->set_service_port(65536);
    expectError(convertService(in), {"shop/web.shop.svc.cluster.local", "service port 65536"});
  }
}

is::Address cidr(const std::string& ip, uint32_t len) {
  is::Address a;
  a.set_address(ipBytes(ip));
  a.set_length(len);
  return a;
}

TEST(ConvertAuthorization, EveryField) {
  is::Authorization in;
  in.set_name("policy");
  in.set_namespace_("shop");
  in.set_scope(is::WORKLOAD_SELECTOR);
  in.set_action(is::DENY);
  in.set_dry_run(true);
  auto* group = in.add_groups();
  auto* rules = group->add_rules();
  auto* m = rules->add_matches();
  m->add_namespaces()->set_exact("front");
  m->add_not_namespaces()->set_prefix("kube-");
  m->add_principals()->set_exact("spiffe://cluster.local/ns/front/sa/web");
  m->add_principals()->set_prefix("spiffe://cluster.local/ns/batch/");
  m->add_principals()->set_suffix("/sa/admin");
  m->add_not_principals()->mutable_presence();
  *m->add_source_ips() = cidr("10.1.2.3", 16);  // host bits dropped
  *m->add_not_source_ips() = cidr("10.1.9.9", 32);
  *m->add_destination_ips() = cidr("fd00::", 64);
  *m->add_not_destination_ips() = cidr("192.168.0.0", 24);
  m->add_destination_ports(8080);
  m->add_not_destination_ports(22);
  rules->add_matches()->add_destination_ports(9090);  // second match, OR'd
  group->add_rules()->add_matches()->add_namespaces()->set_suffix("-prod");
  in.add_groups();  // an empty group: a rule without clauses

  auto p = convertAuthorization(in);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->key(), "shop/policy");
  EXPECT_EQ(p->scope, state::PolicyScope::WorkloadSelector);
  EXPECT_EQ(p->action, state::PolicyAction::Deny);
  EXPECT_TRUE(p->dryRun);
  ASSERT_EQ(p->rules.size(), 2u);
  ASSERT_EQ(p->rules[0].clauses.size(), 2u);
  EXPECT_TRUE(p->rules[1].clauses.empty());
  ASSERT_EQ(p->rules[0].clauses[0].matches.size(), 2u);
  const auto& c = p->rules[0].clauses[0].matches[0];
  using Kind = state::StringMatch::Kind;
  ASSERT_EQ(c.namespaces.size(), 1u);
  EXPECT_EQ(c.namespaces[0].kind, Kind::Exact);
  EXPECT_EQ(c.namespaces[0].value, "front");
  EXPECT_EQ(c.notNamespaces[0].kind, Kind::Prefix);
  EXPECT_EQ(c.notNamespaces[0].value, "kube-");
  ASSERT_EQ(c.principals.size(), 3u);
  EXPECT_EQ(c.principals[0].kind, Kind::Exact);
  EXPECT_EQ(c.principals[0].value, "cluster.local/ns/front/sa/web");  // scheme stripped
  EXPECT_EQ(c.principals[1].kind, Kind::Prefix);
  EXPECT_EQ(c.principals[1].value, "cluster.local/ns/batch/");
  EXPECT_EQ(c.principals[2].kind, Kind::Suffix);
  EXPECT_EQ(c.principals[2].value, "/sa/admin");
  EXPECT_EQ(c.notPrincipals[0].kind, Kind::Presence);
  ASSERT_EQ(c.sourceIps.size(), 1u);
  EXPECT_EQ(c.sourceIps[0].text(), "10.1.0.0/16");
  EXPECT_TRUE(c.sourceIps[0].contains("10.1.200.1"));
  EXPECT_FALSE(c.sourceIps[0].contains("10.2.0.1"));
  EXPECT_EQ(c.notSourceIps[0].text(), "10.1.9.9/32");
  EXPECT_EQ(c.destinationIps[0].family, AF_INET6);
  EXPECT_EQ(c.destinationIps[0].text(), "fd00::/64");
  EXPECT_EQ(c.notDestinationIps[0].text(), "192.168.0.0/24");
  EXPECT_EQ(c.destinationPorts, (std::vector<uint32_t>{8080}));
  EXPECT_EQ(c.notDestinationPorts, (std::vector<uint32_t>{22}));
  EXPECT_EQ(p->rules[0].clauses[0].matches[1].destinationPorts, (std::vector<uint32_t>{9090}));
  EXPECT_EQ(p->rules[0].clauses[1].matches[0].namespaces[0].kind, Kind::Suffix);
}

// Istio 1.24+ sends serviceAccounts as their own fields (11, 12): read as the YAML
// source reads them, principal suffixes in any trust domain. Dropped, a match naming
// only service accounts would match every connection.
TEST(ConvertAuthorization, ServiceAccountsArePrincipalSuffixes) {
  is::Authorization in;
  in.set_name("sa");
  in.set_namespace_("shop");
  in.set_scope(is::NAMESPACE);
  auto* m = in.add_groups()->add_rules()->add_matches();
  auto* sa = m->add_service_accounts();
  sa->set_namespace_("front");
  sa->set_serviceaccount("web");
  auto* notSa = m->add_not_service_accounts();
  notSa->set_namespace_("front");
  notSa->set_serviceaccount("admin");
  auto p = convertAuthorization(in);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto& c = p->rules[0].clauses[0].matches[0];
  ASSERT_EQ(c.principals.size(), 1u);
  EXPECT_EQ(c.principals[0].kind, state::StringMatch::Kind::Suffix);
  EXPECT_EQ(c.principals[0].value, "/ns/front/sa/web");
  EXPECT_TRUE(c.principals[0].matches("cluster.local/ns/front/sa/web"));
  EXPECT_FALSE(c.principals[0].matches("cluster.local/ns/front/sa/other"));
  ASSERT_EQ(c.notPrincipals.size(), 1u);
  EXPECT_EQ(c.notPrincipals[0].value, "/ns/front/sa/admin");

  sa->clear_serviceaccount();
  expectError(convertAuthorization(in), {"shop/sa", "service_accounts", "not namespace/name"});
  sa->set_serviceaccount("*");
  expectError(convertAuthorization(in), {"service_accounts", "\"front/*\" is not namespace/name"});
}

// Istio's API refuses serviceAccounts beside principals or namespaces; a match that
// carries both anyway is refused (an OR of them would admit more than either), and
// the resource cache enforces the policy as deny-all in its place.
TEST(ConvertAuthorization, ServiceAccountsBesidePrincipalsOrNamespacesAreRefused) {
  for (int other = 0; other < 4; ++other) {
    is::Authorization in;
    in.set_name("sa");
    in.set_namespace_("shop");
    in.set_scope(is::NAMESPACE);
    auto* m = in.add_groups()->add_rules()->add_matches();
    auto* sa = other % 2 ? m->add_not_service_accounts() : m->add_service_accounts();
    sa->set_namespace_("front");
    sa->set_serviceaccount("web");
    if (other < 2)
      m->add_principals()->set_exact("cluster.local/ns/back/sa/db");
    else
      m->add_not_namespaces()->set_exact("back");
    expectError(convertAuthorization(in), {"shop/sa", "service_accounts set with principals or namespaces"});
  }
}

// ---- fields these protos do not define fail closed ----------------------------------

authz::Decision judge(const state::AuthorizationPolicy& p, const std::string& fromPrincipal) {
  state::Workload dst;
  dst.ns = "shop";
  dst.name = "db";
  dst.ips = {"10.0.0.5"};
  authz::ConnectionFacts c{"10.0.0.9", identity::SpiffeId::parse("spiffe://" + fromPrincipal).value(), "10.0.0.5",
                           5432};
  return authz::authorize(dst, {&p}, c);
}

TEST(ConvertAuthorization, AnAllowRuleWithAnUnknownFieldNeverMatches) {
  // A newer istiod's restriction (field 14 of Match) on "only web may connect":
  // read without it, the rule would still admit web, and a rule of only unknown
  // fields would admit everyone. Dropped instead: the ALLOW policy admits nobody.
  auto p = convertAuthorization(xdstest::allowOnly("only-web", "shop", "cluster.local/ns/shop/sa/web", 14));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->rules.empty());
  ASSERT_EQ(p->conversionNotes.size(), 1u);
  EXPECT_NE(p->conversionNotes[0].find("clauses[0].matches[0] field 14"), std::string::npos) << p->conversionNotes[0];
  EXPECT_FALSE(judge(*p, "cluster.local/ns/shop/sa/web").allowed);
  EXPECT_FALSE(judge(*p, "cluster.local/ns/evil/sa/x").allowed);
  // The same policy without it admits web only: the difference is the unknown field.
  auto known = convertAuthorization(xdstest::allowOnly("only-web", "shop", "cluster.local/ns/shop/sa/web"));
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(judge(*known, "cluster.local/ns/shop/sa/web").allowed);
  EXPECT_FALSE(judge(*known, "cluster.local/ns/evil/sa/x").allowed);
}

TEST(ConvertAuthorization, ADenyRuleWithAnUnknownFieldDeniesOnWhatItKnows) {
  is::Authorization in = denyFrom("no-evil", "shop", "cluster.local/ns/evil/sa/x");
  auto* m = in.mutable_groups(0)->mutable_rules(0)->mutable_matches(0);
  m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(13, "opaque extension");
  auto p = convertAuthorization(in);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->rules.size(), 1u);
  ASSERT_EQ(p->conversionNotes.size(), 1u);
  EXPECT_NE(p->conversionNotes[0].find("enforced on the fields it knows"), std::string::npos);
  EXPECT_FALSE(judge(*p, "cluster.local/ns/evil/sa/x").allowed) << "denies at least what it names";
}

TEST(ConvertAuthorization, AnUnknownFieldOfThePolicyItselfDeniesEverythingItSelects) {
  is::Authorization in = xdstest::allowOnly("only-web", "shop", "cluster.local/ns/shop/sa/web");
  in.GetReflection()->MutableUnknownFields(&in)->AddVarint(9, 1);
  auto p = convertAuthorization(in);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->action, state::PolicyAction::Deny);
  ASSERT_EQ(p->conversionNotes.size(), 1u);
  EXPECT_NE(p->conversionNotes[0].find("field 9"), std::string::npos);
  EXPECT_FALSE(judge(*p, "cluster.local/ns/shop/sa/web").allowed);
}

TEST(ConvertAuthorization, ScopesAndActions) {
  is::Authorization in = denyFrom("p", "shop", "x");
  in.set_scope(is::GLOBAL);
  in.set_action(is::ALLOW);
  auto p = convertAuthorization(in);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->scope, state::PolicyScope::Global);
  EXPECT_EQ(p->action, state::PolicyAction::Allow);
  EXPECT_FALSE(p->dryRun);

  in.set_scope(is::NAMESPACE);
  in.set_action(is::AUDIT);
  p = convertAuthorization(in);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->scope, state::PolicyScope::Namespace);
  EXPECT_EQ(p->action, state::PolicyAction::Audit);
}

TEST(ConvertAuthorization, MalformedInputsAreErrorsNamingThePolicy) {
  auto withMatch = [](const std::function<void(is::Match*)>& edit) {
    is::Authorization in = denyFrom("bad", "shop", "spiffe://cluster.local/ns/a/sa/b");
    edit(in.mutable_groups(0)->mutable_rules(0)->mutable_matches(0));
    return convertAuthorization(in);
  };
  expectError(withMatch([](is::Match* m) { *m->add_source_ips() = cidr("10.0.0.0", 33); }),
              {"shop/bad", "source_ips", "prefix length 33"});
  expectError(withMatch([](is::Match* m) { *m->add_destination_ips() = cidr("fd00::", 129); }),
              {"shop/bad", "destination_ips", "prefix length 129"});
  expectError(withMatch([](is::Match* m) {
                auto* a = m->add_not_source_ips();
                a->set_address("abc");
                a->set_length(8);
              }),
              {"shop/bad", "not_source_ips", "3 bytes"});
  expectError(withMatch([](is::Match* m) { m->add_destination_ports(0); }),
              {"shop/bad", "destination_ports", "port 0"});
  expectError(withMatch([](is::Match* m) { m->add_not_destination_ports(70000); }),
              {"shop/bad", "not_destination_ports", "port 70000"});
  expectError(withMatch([](is::Match* m) { m->add_namespaces(); }), {"shop/bad", "namespaces", "string match"});

  is::Authorization in = denyFrom("bad", "shop", "x");
  in.set_scope(static_cast<is::Scope>(5));
  expectError(convertAuthorization(in), {"shop/bad", "unknown scope 5"});
  in = denyFrom("bad", "shop", "x");
  in.set_action(static_cast<is::Action>(6));
  expectError(convertAuthorization(in), {"shop/bad", "unknown action 6"});
  in = denyFrom("", "shop", "x");
  expectError(convertAuthorization(in), {"authorization shop/", "no name"});
  in = denyFrom("bad", "", "x");
  expectError(convertAuthorization(in), {"bad", "NAMESPACE scope without a namespace"});
}

TEST(ConvertAddress, NeitherWorkloadNorService) {
  iw::Address a;
  auto r = convertAddress(a, "cluster.local");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("neither"), std::string::npos);

  *a.mutable_service() = service("web", "shop", "10.96.0.1");
  r = convertAddress(a, "cluster.local");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(std::holds_alternative<state::Service>(*r));
}

TEST(BuildState, IndexesResourcesAndReportsConflictsAsWarnings) {
  std::map<std::string, AddressItem> addresses;
  auto w1 = convertWorkload(workload("uid-a", "10.0.0.1"), "cluster.local");
  auto w2 = convertWorkload(workload("uid-b", "10.0.0.1"), "cluster.local");  // same IP
  iw::Workload backend = workload("uid-c", "10.0.0.3");
  (*backend.mutable_services())["default/web.default.svc.cluster.local"];
  auto w3 = convertWorkload(backend, "cluster.local");
  auto s = convertService(service("web", "default", "10.96.0.1"));
  ASSERT_TRUE(w1.ok() && w2.ok() && w3.ok() && s.ok());
  addresses.emplace("uid-a", *w1);
  addresses.emplace("uid-b", *w2);
  addresses.emplace("uid-c", *w3);
  addresses.emplace("default/web.default.svc.cluster.local", *s);
  std::map<std::string, state::AuthorizationPolicy> policies;
  auto p = convertAuthorization(denyFrom("deny", "default", "x"));
  ASSERT_TRUE(p.ok());
  policies.emplace("default/deny", *p);

  std::vector<Error> warnings;
  auto st = buildState(addresses, policies, &warnings);
  ASSERT_TRUE(st);
  ASSERT_NE(st->findByIp("10.0.0.1"), nullptr);
  EXPECT_EQ(st->findByIp("10.0.0.1")->uid, "uid-a");
  const auto* svc = st->findServiceByVip("10.96.0.1");
  ASSERT_NE(svc, nullptr);
  auto eps = st->readyEndpoints(*svc);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0]->uid, "uid-c");
  EXPECT_EQ(st->policies().count("default/deny"), 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].message.find("uid-b"), std::string::npos) << warnings[0].message;
}

// Host-network pods share their node's IP: istiod sends them with NetworkMode
// HOST_NETWORK, and their address must neither clash (no warning) nor identify any
// of them, while each still serves its services.
TEST(BuildState, HostNetworkWorkloadsShareTheNodeIpWithoutClashing) {
  std::map<std::string, AddressItem> addresses;
  for (const char* uid : {"uid-h1", "uid-h2"}) {
    iw::Workload w = workload(uid, "10.0.0.9");
    w.set_network_mode(iw::HOST_NETWORK);
    (*w.mutable_services())["default/web.default.svc.cluster.local"];
    auto converted = convertWorkload(w, "cluster.local");
    ASSERT_TRUE(converted.ok());
    addresses.emplace(uid, *converted);
  }
  auto s = convertService(service("web", "default", "10.96.0.1"));
  ASSERT_TRUE(s.ok());
  addresses.emplace("default/web.default.svc.cluster.local", *s);
  std::vector<Error> warnings;
  auto st = buildState(addresses, {}, &warnings);
  ASSERT_TRUE(st);
  EXPECT_TRUE(warnings.empty()) << warnings[0].message;
  EXPECT_EQ(st->findByIp("10.0.0.9"), nullptr) << "a node IP names no workload";
  EXPECT_EQ(st->readyEndpoints(*st->findServiceByVip("10.96.0.1")).size(), 2u);
  EXPECT_EQ(st->findWorkload("uid-h1")->ips, std::vector<std::string>{"10.0.0.9"});
}

// ---- waypoints ----------------------------------------------------------------

iw::GatewayAddress waypointByHostname(const std::string& ns, const std::string& hostname) {
  iw::GatewayAddress gw;
  gw.mutable_hostname()->set_namespace_(ns);
  gw.mutable_hostname()->set_hostname(hostname);
  gw.set_hbone_mtls_port(15008);
  return gw;
}

iw::GatewayAddress waypointByAddress(const std::string& ip, const std::string& network = "") {
  iw::GatewayAddress gw;
  gw.mutable_address()->set_network(network);
  gw.mutable_address()->set_address(ipBytes(ip));
  gw.set_hbone_mtls_port(15008);
  return gw;
}

TEST(ConvertWaypoint, HostnameFormIsTheWaypointServicesKey) {
  iw::Workload in = workload("uid-w", "10.0.0.5", "shop");
  *in.mutable_waypoint() = waypointByHostname("shop", "waypoint.shop.svc.cluster.local");
  auto w = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->waypoint, "shop/waypoint.shop.svc.cluster.local");

  iw::Service svc = service("web", "shop", "10.96.0.1");
  *svc.mutable_waypoint() = waypointByHostname("infra", "wp.infra.svc.cluster.local");
  auto s = convertService(svc);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->waypoint, "infra/wp.infra.svc.cluster.local");
  EXPECT_TRUE(s->waypointFor.empty()) << "Istio never marks the waypoint itself";

  // No waypoint on the wire: none in the state.
  auto plain = convertService(service("db", "shop", "10.96.0.2"));
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->waypoint.empty());
  auto plainW = convertWorkload(workload("uid-x", "10.0.0.6"), "cluster.local");
  ASSERT_TRUE(plainW.ok());
  EXPECT_TRUE(plainW->waypoint.empty());
}

TEST(ConvertWaypoint, AddressFormWaitsForTheStateToResolveIt) {
  iw::Workload in = workload("uid-w", "10.0.0.5", "shop");
  *in.mutable_waypoint() = waypointByAddress("10.96.0.9");
  auto w = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->waypoint, waypointAddressKey("", "10.96.0.9"));
  EXPECT_EQ(w->waypoint, "address 10.96.0.9");
  *in.mutable_waypoint() = waypointByAddress("fd00::9", "net-1");
  w = convertWorkload(in, "cluster.local");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->waypoint, "address net-1/fd00::9");
}

TEST(ConvertWaypoint, MalformedWaypointsAreErrorsNotNoWaypoint) {
  iw::Workload in = workload("uid-bad", "10.0.0.5", "shop");
  in.mutable_waypoint()->set_hbone_mtls_port(15008);  // neither form
  expectError(convertWorkload(in, "cluster.local"), {"uid-bad", "neither a hostname nor an address"});
  *in.mutable_waypoint() = waypointByHostname("", "waypoint.shop.svc.cluster.local");
  expectError(convertWorkload(in, "cluster.local"), {"uid-bad", "not namespace/hostname"});
  *in.mutable_waypoint() = waypointByHostname("shop", "");
  expectError(convertWorkload(in, "cluster.local"), {"uid-bad", "not namespace/hostname"});
  in.mutable_waypoint()->mutable_address()->set_address(std::string("\x0a\x00\x00", 3));
  expectError(convertWorkload(in, "cluster.local"), {"uid-bad", "waypoint address", "3 bytes"});

  iw::Service svc = service("web", "shop", "10.96.0.1");
  svc.mutable_waypoint();
  expectError(convertService(svc), {"shop/web.shop.svc.cluster.local", "neither a hostname nor an address"});
}

// shop/web (VIP 10.96.0.1, pod 10.0.0.3) bound to the waypoint shop/waypoint
// (VIP 10.96.0.9, pod 10.0.0.9); shop/client (10.0.0.2) dials it.
std::map<std::string, AddressItem> waypointAddresses(const iw::GatewayAddress& forService,
                                                     const iw::GatewayAddress& forPod) {
  std::map<std::string, AddressItem> out;
  iw::Service web = service("web", "shop", "10.96.0.1");
  *web.mutable_waypoint() = forService;
  iw::Service wp = service("waypoint", "shop", "10.96.0.9");
  wp.mutable_ports(0)->set_service_port(15008);
  wp.mutable_ports(0)->set_target_port(15008);
  iw::Workload backend = workload("uid-web", "10.0.0.3", "shop");
  (*backend.mutable_services())["shop/web.shop.svc.cluster.local"];
  *backend.mutable_waypoint() = forPod;
  iw::Workload wpPod = workload("uid-wp", "10.0.0.9", "shop");
  wpPod.set_service_account("waypoint");
  wpPod.set_native_tunnel(true);
  (*wpPod.mutable_services())["shop/waypoint.shop.svc.cluster.local"];
  iw::Workload client = workload("uid-client", "10.0.0.2", "shop");
  for (const auto& s : {web, wp}) {
    auto c = convertService(s);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (c.ok()) out.emplace(c->key(), *c);
  }
  for (const auto& w : {backend, wpPod, client}) {
    auto c = convertWorkload(w, "cluster.local");
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (c.ok()) out.emplace(c->uid, *c);
  }
  return out;
}

sockaddr_storage addr(const char* hostPort) { return *io::parseHostPort(hostPort); }

TEST(BuildState, WaypointAddressesResolveToTheServiceWithThatVip) {
  std::vector<Error> warnings;
  auto st = buildState(waypointAddresses(waypointByAddress("10.96.0.9"), waypointByAddress("10.96.0.9", "net-1")), {},
                       &warnings);
  ASSERT_TRUE(st);
  EXPECT_TRUE(warnings.empty()) << warnings[0].message;
  EXPECT_EQ(st->findService("shop/web.shop.svc.cluster.local")->waypoint, "shop/waypoint.shop.svc.cluster.local");
  EXPECT_EQ(st->findWorkload("uid-web")->waypoint, "shop/waypoint.shop.svc.cluster.local");
  EXPECT_TRUE(st->findService("shop/waypoint.shop.svc.cluster.local")->waypointFor.empty());

  // Routing needs no waypointFor: it goes through the waypoint's endpoint.
  const auto* client = st->findWorkload("uid-client");
  auto r = proxy::decideOutbound(addr("10.96.0.1:80"), *st, 0, client);
  ASSERT_EQ(r.kind, proxy::OutboundRoute::Kind::Hbone) << r.reason;
  EXPECT_EQ(io::formatSockaddr(r.target), "10.0.0.9:15008");
  EXPECT_EQ(r.authority, "10.96.0.1:80");
  EXPECT_EQ(r.expectedIdentity.uri(), "spiffe://cluster.local/ns/shop/sa/waypoint");
  EXPECT_EQ(r.waypoint, "shop/waypoint.shop.svc.cluster.local");
  auto direct = proxy::decideOutbound(addr("10.0.0.3:8080"), *st, 0, client);
  EXPECT_EQ(direct.waypoint, "shop/waypoint.shop.svc.cluster.local") << direct.reason;
  // The waypoint's own traffic is not sent back to it.
  auto fromWaypoint = proxy::decideOutbound(addr("10.96.0.1:80"), *st, 0, st->findWorkload("uid-wp"));
  EXPECT_TRUE(fromWaypoint.waypoint.empty()) << fromWaypoint.reason;
  EXPECT_EQ(io::formatSockaddr(fromWaypoint.target), "10.0.0.3:15008");
}

TEST(BuildState, AnUnresolvableWaypointAddressIsNotedAndRefusesTraffic) {
  std::vector<Error> warnings;
  auto st =
      buildState(waypointAddresses(waypointByAddress("10.96.0.77"), waypointByAddress("10.0.0.9")), {}, &warnings);
  ASSERT_TRUE(st);
  ASSERT_EQ(warnings.size(), 2u);
  std::string all = warnings[0].message + "\n" + warnings[1].message;
  EXPECT_NE(all.find("service shop/web.shop.svc.cluster.local: waypoint address 10.96.0.77 is no service's VIP"),
            std::string::npos)
      << all;
  // A waypoint pod's own IP is not a VIP either: Warren resolves services only.
  EXPECT_NE(all.find("workload uid-web: waypoint address 10.0.0.9"), std::string::npos) << all;
  EXPECT_EQ(st->findService("shop/web.shop.svc.cluster.local")->waypoint, "address 10.96.0.77");

  const auto* client = st->findWorkload("uid-client");
  for (const char* dst : {"10.96.0.1:80", "10.0.0.3:8080"}) {
    auto r = proxy::decideOutbound(addr(dst), *st, 0, client);
    EXPECT_EQ(r.kind, proxy::OutboundRoute::Kind::Refuse) << dst;
    EXPECT_NE(r.reason.find("not known"), std::string::npos) << r.reason;
  }
}

TEST(BuildState, AWaypointHostnameThatIsNoServiceRefusesTraffic) {
  std::vector<Error> warnings;
  auto st = buildState(waypointAddresses(waypointByHostname("shop", "gone.shop.svc.cluster.local"),
                                         waypointByHostname("shop", "waypoint.shop.svc.cluster.local")),
                       {}, &warnings);
  ASSERT_TRUE(st);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].message.find("shop/web.shop.svc.cluster.local: waypoint shop/gone.shop.svc.cluster.local is "
                                     "no known service"),
            std::string::npos)
      << warnings[0].message;
  auto r = proxy::decideOutbound(addr("10.96.0.1:80"), *st, 0, st->findWorkload("uid-client"));
  EXPECT_EQ(r.kind, proxy::OutboundRoute::Kind::Refuse);
  EXPECT_EQ(r.waypoint, "shop/gone.shop.svc.cluster.local");
}

}  // namespace
}  // namespace warren::xds
