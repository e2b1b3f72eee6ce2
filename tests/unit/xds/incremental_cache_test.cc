// ResourceCache's incremental rebuild against buildState over every resource it
// holds, after every delta of random sequences: workloads whose IPs collide,
// services sharing VIPs, waypoints named by a VIP no service has yet (resolved
// when one arrives, unresolved when it goes), by hostname, selector policies,
// services removed while workloads name them, rejected resources, and resources
// held under a name that is not their key (which forces whole builds).

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "state/state_json.h"
#include "tests/unit/xds/xds_test_util.h"
#include "xds/resource_cache.h"

namespace warren::xds {
namespace {

using namespace xdstest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

const std::vector<std::string> kIps = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.96.0.4", "10.96.0.5"};
const std::vector<std::string> kVips = {"10.96.0.4", "10.96.0.5", "10.96.0.6", "10.96.0.7"};

class Gen {
 public:
  explicit Gen(unsigned seed) : rng_(seed) {}
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[pick(v.size())];
  }

  std::string serviceName() { return "s" + std::to_string(pick(4)); }
  static std::string serviceKey(const std::string& name) { return "a/" + name + ".a.svc.cluster.local"; }

  void waypoint(istio::workload::GatewayAddress* gw) {
    if (chance(50)) {
      auto* a = gw->mutable_address();
      if (chance(30)) a->set_network("net1");
      a->set_address(ipBytes(any(kVips)));
    } else {
      auto* h = gw->mutable_hostname();
      h->set_namespace_("a");
      h->set_hostname((chance(85) ? serviceName() : std::string("ghost")) + ".a.svc.cluster.local");
    }
  }

  istio::workload::Workload workload(const std::string& uid) {
    auto w = xdstest::workload(uid, "", chance(50) ? "a" : "b");
    for (size_t i = pick(3); i > 0; --i) w.add_addresses(ipBytes(any(kIps)));
    if (chance(10)) w.set_network_mode(istio::workload::HOST_NETWORK);
    if (chance(20)) w.set_status(istio::workload::UNHEALTHY);
    for (size_t i = pick(3); i > 0; --i) {
      auto& ports = (*w.mutable_services())[serviceKey(chance(85) ? serviceName() : "ghost")];
      if (chance(30)) {
        auto* p = ports.add_ports();
        p->set_service_port(80);
        p->set_target_port(static_cast<uint32_t>(8000 + pick(3)));
      }
    }
    for (size_t i = pick(3); i > 0; --i) w.add_authorization_policies("a/p" + std::to_string(pick(4)));
    if (chance(50)) waypoint(w.mutable_waypoint());
    if (chance(5)) w.clear_namespace_();  // rejected: the cache keeps the previous version
    return w;
  }
  istio::workload::Service service(const std::string& name) {
    auto s = xdstest::service(name, "a", "");
    for (size_t i = pick(3); i > 0; --i) s.add_addresses()->set_address(ipBytes(any(kVips)));
    if (chance(40)) waypoint(s.mutable_waypoint());
    return s;
  }
  istio::security::Authorization policy(const std::string& name) {
    auto p = denyFrom(name, "a", "spiffe://td/ns/a/sa/sa" + std::to_string(pick(2)));
    const istio::security::Scope scopes[] = {istio::security::GLOBAL, istio::security::NAMESPACE,
                                             istio::security::WORKLOAD_SELECTOR};
    p.set_scope(scopes[pick(3)]);
    if (chance(50)) p.set_action(istio::security::ALLOW);
    return p;
  }

 private:
  std::mt19937 rng_;
};

// What the cache holds, as the messages last accepted for each name.
struct Held {
  std::map<std::string, istio::workload::Address> addresses;
  std::map<std::string, istio::security::Authorization> policies;
};

state::ClusterStatePtr wholeBuild(const Held& h, std::vector<Error>* warnings) {
  std::map<std::string, AddressItem> addresses;
  for (const auto& [name, a] : h.addresses) addresses.emplace(name, *convertAddress(a, "cluster.local"));
  std::map<std::string, state::AuthorizationPolicy> policies;
  for (const auto& [name, p] : h.policies) policies.emplace(name, *convertAuthorization(p));
  return buildState(addresses, policies, warnings);
}

std::vector<std::string> messages(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

nlohmann::json lookups(const state::ClusterState& st) {
  nlohmann::json j;
  for (const auto& ip : kIps) j["byIp"][ip] = st.findByIp(ip) ? st.findByIp(ip)->uid : "";
  for (const auto& ip : kVips) j["byVip"][ip] = st.findServiceByVip(ip) ? st.findServiceByVip(ip)->key() : "";
  for (const auto& [key, s] : st.services()) {
    std::vector<std::string> uids;
    for (const auto* w : st.readyEndpoints(s)) uids.push_back(w->uid);
    j["endpoints"][key] = uids;
  }
  for (const auto& [uid, w] : st.workloads()) {
    std::vector<std::string> keys;
    for (const auto* p : st.policiesFor(w)) keys.push_back(p->key());
    j["policiesFor"][uid] = keys;
  }
  return j;
}

TEST(ResourceCacheIncremental, EveryDeltaEqualsAWholeBuild) {
  for (unsigned seed = 1; seed <= 15; ++seed) {
    Gen g(seed);
    Held held;
    ResourceCache cache("cluster.local");
    for (int step = 0; step < 200; ++step) {
      DeltaDiscoveryResponse r;
      r.set_nonce(std::to_string(step));
      if (g.chance(75)) {
        r.set_type_url(kAddressType);
        for (size_t i = g.chance(70) ? 1 : g.pick(4); i > 0; --i) {
          istio::workload::Address a;
          std::string name;
          if (g.chance(55)) {
            name = "w" + std::to_string(g.pick(8));
            *a.mutable_workload() = g.workload(name);
          } else {
            const std::string svc = g.serviceName();
            // Now and then under a name other than its key, as a control plane
            // other than istiod might: the cache must then build whole.
            name = g.chance(4) ? "alias-" + svc : Gen::serviceKey(svc);
            *a.mutable_service() = g.service(svc);
          }
          auto* res = r.add_resources();
          res->set_name(name);
          res->set_version(std::to_string(step));
          res->mutable_resource()->PackFrom(a);
          if (convertAddress(a, "cluster.local")) held.addresses[name] = a;
        }
        if (g.chance(30) && !held.addresses.empty()) {
          auto it = std::next(held.addresses.begin(), static_cast<long>(g.pick(held.addresses.size())));
          r.add_removed_resources(it->first);
          held.addresses.erase(it);
        }
      } else {
        r.set_type_url(kAuthorizationType);
        const std::string name = "a/p" + std::to_string(g.pick(4));
        if (g.chance(25)) {
          r.add_removed_resources(name);
          held.policies.erase(name);
        } else {
          auto p = g.policy(name.substr(2));
          auto* res = r.add_resources();
          res->set_name(name);
          res->set_version(std::to_string(step));
          res->mutable_resource()->PackFrom(p);
          held.policies[name] = p;
        }
      }
      auto out = cache.apply(r);
      std::vector<Error> whole;
      auto reference = wholeBuild(held, &whole);
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      ASSERT_TRUE(out.state);
      ASSERT_EQ(state::toJson(*out.state).dump(1), state::toJson(*reference).dump(1));
      ASSERT_EQ(lookups(*out.state).dump(1), lookups(*reference).dump(1));
      ASSERT_EQ(messages(out.warnings), messages(whole));
    }
  }
}

// A waypoint named by a VIP that no service has yet: the workload keeps the
// unresolved address (its traffic refused) until the service arrives, then
// points at it, and back when the service goes; the workload itself is not resent.
TEST(ResourceCacheIncremental, WaypointByAddressResolvesWhenItsServiceArrives) {
  ResourceCache cache("cluster.local");
  auto w = workload("uid-a", "10.0.0.1", "a");
  w.mutable_waypoint()->mutable_address()->set_address(ipBytes("10.96.0.9"));
  DeltaDiscoveryResponse r1;
  r1.set_type_url(kAddressType);
  auto* res = r1.add_resources();
  res->set_name("uid-a");
  *res->mutable_resource() = packAddress(w);
  auto out1 = cache.apply(r1);
  EXPECT_EQ(out1.state->findWorkload("uid-a")->waypoint, "address 10.96.0.9");
  ASSERT_EQ(out1.warnings.size(), 1u);

  DeltaDiscoveryResponse r2;
  r2.set_type_url(kAddressType);
  res = r2.add_resources();
  res->set_name("a/wp.a.svc.cluster.local");
  *res->mutable_resource() = packAddress(service("wp", "a", "10.96.0.9"));
  auto out2 = cache.apply(r2);
  EXPECT_EQ(out2.state->findWorkload("uid-a")->waypoint, "a/wp.a.svc.cluster.local");
  EXPECT_TRUE(out2.warnings.empty()) << out2.warnings.front().message;

  DeltaDiscoveryResponse r3;
  r3.set_type_url(kAddressType);
  r3.add_removed_resources("a/wp.a.svc.cluster.local");
  auto out3 = cache.apply(r3);
  EXPECT_EQ(out3.state->findWorkload("uid-a")->waypoint, "address 10.96.0.9");
  EXPECT_EQ(out3.warnings.size(), 1u);
}

}  // namespace
}  // namespace warren::xds
