// The incremental build (ClusterState::Builder from a previous state) against a
// whole build of the same objects, after every step of random sequences of adds,
// changes and removes of every kind: the dump, the lookups and the problems must
// be the same. The pools are small on purpose, so IPs collide, services share
// VIPs, workload IPs are VIPs, and services named by workloads come and go.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "state/cluster_state.h"
#include "state/cow_map.h"
#include "state/state_json.h"

namespace warren::state {
namespace {

using Kind = ClusterState::Builder::Kind;

// The objects a state is built from, by kind and key.
struct Model {
  std::map<std::string, Workload> workloads;
  std::map<std::string, Service> services;
  std::map<std::string, AuthorizationPolicy> policies;
  std::map<std::string, L7Policy> l7;
  std::map<std::string, RequestAuthn> authns;
};

const std::vector<std::string> kIps = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "fd00::6"};
const std::vector<std::string> kVips = {"10.0.0.4", "10.0.0.5", "fd00::6", "10.96.0.7", "10.96.0.8"};
const std::vector<std::string> kNamespaces = {"a", "b"};

class Gen {
 public:
  explicit Gen(unsigned seed) : rng_(seed) {}
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[pick(v.size())];
  }

  std::string uid() { return "w" + std::to_string(pick(12)); }
  std::string serviceKey() { return "a/s" + std::to_string(pick(5)); }
  std::string policyKey() { return any(kNamespaces) + "/p" + std::to_string(pick(5)); }
  std::string waypoint() {
    if (chance(50)) return "";
    return chance(80) ? serviceKey() : "a/ghost";
  }

  Workload workload(const std::string& uid) {
    Workload w;
    w.uid = uid;
    w.name = uid + "-pod";
    w.ns = any(kNamespaces);
    w.serviceAccount = "sa" + std::to_string(pick(2));
    w.node = "node" + std::to_string(pick(2));
    for (size_t i = pick(3); i > 0; --i) w.ips.push_back(any(kIps));  // repeats allowed
    w.hostNetwork = chance(10);
    w.ready = chance(80);
    w.captured = chance(70);
    for (size_t i = pick(3); i > 0; --i) {
      std::vector<ServicePort> ports;
      if (chance(30)) ports.push_back({80, static_cast<uint32_t>(8000 + pick(3)), AppProtocol::Unknown});
      w.services[chance(85) ? serviceKey() : "a/ghost"] = ports;
    }
    for (size_t i = pick(3); i > 0; --i) w.policies.push_back(policyKey());
    w.waypoint = waypoint();
    return w;
  }
  Service service(const std::string& key) {
    Service s;
    s.ns = "a";
    s.hostname = key.substr(2);
    s.name = s.hostname + "-svc";
    for (size_t i = pick(3); i > 0; --i) s.vips.push_back(any(kVips));  // repeats allowed
    s.ports.push_back({80, static_cast<uint32_t>(8080 + pick(2)), AppProtocol::Http2});
    s.waypoint = waypoint();
    if (chance(20)) s.waypointFor = "service";
    return s;
  }
  AuthorizationPolicy policy(const std::string& key) {
    AuthorizationPolicy p;
    p.ns = key.substr(0, key.find('/'));
    p.name = key.substr(key.find('/') + 1);
    const PolicyScope scopes[] = {PolicyScope::Global, PolicyScope::Namespace, PolicyScope::WorkloadSelector};
    p.scope = scopes[pick(3)];
    p.action = chance(50) ? PolicyAction::Allow : PolicyAction::Deny;
    Rule r;
    Clause c;
    Match m;
    m.principals.push_back({StringMatch::Kind::Exact, "td/ns/a/sa/sa" + std::to_string(pick(2))});
    c.matches.push_back(m);
    r.clauses.push_back(c);
    p.rules.push_back(r);
    return p;
  }
  L7Policy l7(const std::string& key) {
    L7Policy p;
    p.ns = "a";
    p.name = key.substr(2);
    p.action = chance(50) ? PolicyAction::Allow : PolicyAction::Deny;
    const auto kind = chance(50) ? L7Target::Kind::Gateway : L7Target::Kind::Service;
    p.targets.push_back({kind, "a", "s" + std::to_string(pick(5))});
    return p;
  }
  RequestAuthn authn(const std::string& key) {
    RequestAuthn r;
    r.ns = "a";
    r.name = key.substr(2);
    r.targets.push_back({L7Target::Kind::Service, "a", "s" + std::to_string(pick(5))});
    if (chance(30)) r.invalid.push_back("bad issuer");
    return r;
  }

 private:
  std::mt19937 rng_;
};

std::vector<std::string> messages(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

// What the data path asks of a state, beyond its dump.
nlohmann::json lookups(const ClusterState& st) {
  nlohmann::json j;
  std::set<std::string> addrs(kIps.begin(), kIps.end());
  addrs.insert(kVips.begin(), kVips.end());
  for (const auto& ip : addrs) {
    const Workload* w = st.findByIp(ip);
    const Service* s = st.findServiceByVip(ip);
    j["byIp"][ip] = w ? w->uid : "";
    j["byVip"][ip] = s ? s->key() : "";
    j["vipClaimants"][ip] = st.vipClaimants(ip);
  }
  for (const auto& [key, s] : st.services()) {
    std::vector<std::string> uids;
    for (const Workload* w : st.readyEndpoints(s)) uids.push_back(w->uid);
    j["endpoints"][key] = uids;
    std::string missing;
    const Service* wp = st.waypointFor(s, nullptr, &missing);
    j["waypoint"][key] = {wp ? wp->key() : "", missing};
  }
  for (const auto& [uid, w] : st.workloads()) {
    std::vector<std::string> keys;
    for (const auto* p : st.policiesFor(w)) keys.push_back(p->key());
    j["policiesFor"][uid] = keys;
  }
  return j;
}

ClusterStatePtr wholeBuild(const Model& m, std::vector<Error>* problems) {
  ClusterState::Builder b;
  for (const auto& [k, v] : m.workloads) b.add(v);
  for (const auto& [k, v] : m.services) b.add(v);
  for (const auto& [k, v] : m.policies) b.add(v);
  for (const auto& [k, v] : m.l7) b.add(v);
  for (const auto& [k, v] : m.authns) b.add(v);
  return b.finish(problems);
}

// One random change, to both the model and the incremental builder.
void randomChange(Gen& g, Model& m, ClusterState::Builder& b) {
  const bool remove = g.chance(30);
  switch (g.pick(5)) {
    case 0: {
      auto uid = g.uid();
      if (remove) {
        m.workloads.erase(uid);
        b.remove(Kind::Workload, uid);
      } else {
        auto w = g.workload(uid);
        m.workloads[uid] = w;
        b.add(w);
      }
      break;
    }
    case 1: {
      auto key = g.serviceKey();
      if (remove) {
        m.services.erase(key);
        b.remove(Kind::Service, key);
      } else {
        auto s = g.service(key);
        m.services[key] = s;
        b.add(s);
      }
      break;
    }
    case 2: {
      auto key = g.policyKey();
      if (remove) {
        m.policies.erase(key);
        b.remove(Kind::Policy, key);
      } else {
        auto p = g.policy(key);
        m.policies[key] = p;
        b.add(p);
      }
      break;
    }
    case 3: {
      auto key = "a/l" + std::to_string(g.pick(3));
      if (remove) {
        m.l7.erase(key);
        b.remove(Kind::L7Policy, key);
      } else {
        auto p = g.l7(key);
        m.l7[key] = p;
        b.add(p);
      }
      break;
    }
    default: {
      auto key = "a/r" + std::to_string(g.pick(3));
      if (remove) {
        m.authns.erase(key);
        b.remove(Kind::RequestAuthn, key);
      } else {
        auto r = g.authn(key);
        m.authns[key] = r;
        b.add(r);
      }
      break;
    }
  }
}

TEST(IncrementalState, EveryStepEqualsAWholeBuild) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    Gen g(seed);
    Model m;
    ClusterStatePtr st = ClusterState::Builder().finish();
    for (int step = 0; step < 300; ++step) {
      ClusterState::Builder b(st);
      // Mostly one change per step (an xDS delta of one pod), sometimes several,
      // sometimes none (a response that changed nothing).
      const size_t changes = g.chance(70) ? 1 : g.pick(6);
      for (size_t i = 0; i < changes; ++i) randomChange(g, m, b);
      std::vector<Error> incremental, whole;
      st = b.finish(&incremental);
      auto reference = wholeBuild(m, &whole);
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      ASSERT_EQ(toJson(*st).dump(1), toJson(*reference).dump(1));
      ASSERT_EQ(lookups(*st).dump(1), lookups(*reference).dump(1));
      ASSERT_EQ(messages(incremental), messages(whole));
    }
  }
}

// The cases the random walk may reach late, spelled out: a VIP's first owner
// goes and the next takes it over; a workload IP stops being a VIP; the lower
// uid of two claiming one IP goes; a service its workloads name is removed and
// comes back.
TEST(IncrementalState, ContestedAddressesChangeHands) {
  auto svc = [](const std::string& name, std::vector<std::string> vips) {
    Service s;
    s.ns = "a";
    s.name = s.hostname = name;
    s.vips = std::move(vips);
    return s;
  };
  auto wl = [](const std::string& uid, std::vector<std::string> ips, const std::string& svcKey) {
    Workload w;
    w.uid = uid;
    w.ns = "a";
    w.ips = std::move(ips);
    w.services[svcKey] = {};
    return w;
  };
  ClusterState::Builder b0;
  b0.add(svc("s1", {"10.96.0.1"}));
  b0.add(svc("s2", {"10.96.0.1", "10.0.0.9"}));
  b0.add(wl("w1", {"10.0.0.1"}, "a/s2"));
  b0.add(wl("w2", {"10.0.0.1", "10.0.0.9"}, "a/s2"));
  std::vector<Error> p0;
  auto st0 = b0.finish(&p0);
  EXPECT_EQ(messages(p0), (std::vector<std::string>{
                              "service a/s2: VIP 10.96.0.1 already belongs to a/s1; ignored here",
                              "workload w2: IP 10.0.0.1 already belongs to w1; ignored here",
                              "workload w2: IP 10.0.0.9 is a service VIP; ignored",
                          }));

  ClusterState::Builder b1(st0);
  b1.remove(Kind::Service, "a/s1");
  b1.remove(Kind::Workload, "w1");
  b1.add(svc("s2", {"10.96.0.1"}));  // gives up 10.0.0.9
  std::vector<Error> p1;
  auto st1 = b1.finish(&p1);
  EXPECT_TRUE(p1.empty()) << messages(p1).front();
  ASSERT_NE(st1->findServiceByVip("10.96.0.1"), nullptr);
  EXPECT_EQ(st1->findServiceByVip("10.96.0.1")->key(), "a/s2");
  ASSERT_NE(st1->findByIp("10.0.0.1"), nullptr);
  EXPECT_EQ(st1->findByIp("10.0.0.1")->uid, "w2");
  ASSERT_NE(st1->findByIp("10.0.0.9"), nullptr);
  EXPECT_EQ(st1->findByIp("10.0.0.9")->uid, "w2");
  EXPECT_EQ(st1->findWorkload("w2")->ips, (std::vector<std::string>{"10.0.0.1", "10.0.0.9"}));

  ClusterState::Builder b2(st1);
  b2.remove(Kind::Service, "a/s2");
  auto st2 = b2.finish();
  EXPECT_EQ(st2->findService("a/s2"), nullptr);
  ClusterState::Builder b3(st2);
  b3.add(svc("s2", {"10.96.0.1"}));
  auto st3 = b3.finish();
  ASSERT_EQ(st3->readyEndpoints(*st3->findService("a/s2")).size(), 1u);
  // The earlier snapshots are untouched by the later builds.
  EXPECT_EQ(st0->findByIp("10.0.0.1")->uid, "w1");
  EXPECT_EQ(st0->findServiceByVip("10.96.0.1")->key(), "a/s1");
}

// Structural sharing: a change to one workload leaves the others where they
// were, in memory shared by both snapshots, and the policy index shared.
TEST(IncrementalState, UnchangedObjectsAreShared) {
  ClusterState::Builder b0;
  for (int i = 0; i < 5000; ++i) {
    Workload w;
    w.uid = "uid-" + std::to_string(100000 + i);
    w.ns = "a";
    w.ips = {"10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1"};
    b0.add(w);
  }
  AuthorizationPolicy p;
  p.ns = "a";
  p.name = "p";
  p.scope = PolicyScope::Namespace;
  b0.add(p);
  auto st0 = b0.finish();
  ClusterState::Builder b1(st0);
  Workload extra;
  extra.uid = "uid-099999";
  extra.ns = "a";
  extra.ips = {"10.200.0.1"};
  b1.add(extra);
  auto st1 = b1.finish();
  EXPECT_EQ(st1->workloads().size(), 5001u);
  EXPECT_EQ(&st0->workloads().at("uid-104999"), &st1->workloads().at("uid-104999"));
  EXPECT_EQ(st1->policiesFor(st1->workloads().at("uid-104999")).front(), &st0->policies().at("a/p"));
  EXPECT_EQ(st1->findByIp("10.200.0.1")->uid, "uid-099999");
}

// The map under the state, against std::map through random inserts and erases
// (enough to split and merge chunks), with every earlier copy left unchanged.
TEST(CowMap, BehavesAsStdMapAndCopiesDoNotChange) {
  std::mt19937 rng(7);
  CowMap<int, int, 8> cow;
  std::map<int, int> ref;
  std::vector<std::pair<CowMap<int, int, 8>, std::map<int, int>>> snapshots;
  for (int step = 0; step < 20000; ++step) {
    const int key = static_cast<int>(rng() % 300);
    if (rng() % 3 == 0) {
      EXPECT_EQ(cow.erase(key), ref.erase(key));
    } else {
      cow.insert_or_assign(key, step);
      ref[key] = step;
    }
    if (step % 1000 == 0) snapshots.emplace_back(cow, ref);
  }
  auto same = [](const CowMap<int, int, 8>& c, const std::map<int, int>& r) {
    return c.size() == r.size() && std::equal(c.begin(), c.end(), r.begin(), r.end(), [](auto& a, auto& b) {
             return a.first == b.first && a.second == b.second;
           });
  };
  EXPECT_TRUE(same(cow, ref));
  for (int k = 0; k < 300; ++k) EXPECT_EQ(cow.count(k), ref.count(k)) << k;
  for (const auto& [c, r] : snapshots) EXPECT_TRUE(same(c, r));
}

// A value that counts its copies.
struct Counted {
  static inline int copies = 0;
  std::string s;
  explicit Counted(std::string v) : s(std::move(v)) {}
  Counted(const Counted& o) : s(o.s) { ++copies; }
  Counted(Counted&&) = default;
  Counted& operator=(const Counted& o) {
    s = o.s;
    ++copies;
    return *this;
  }
  Counted& operator=(Counted&&) = default;
};

// A write to a chunk only this map holds moves its other values into the new
// chunk (a whole build of 1,000 policies inserted one by one copied each chunk
// per insert); a chunk shared with a copy is copied, and the copy keeps every value.
TEST(CowMap, AWriteMovesTheValuesOfAChunkHeldAloneAndCopiesASharedOne) {
  auto value = [](int k) { return "a value long enough to live on the heap #" + std::to_string(k); };
  Counted::copies = 0;
  CowMap<int, Counted, 8> cow;
  for (int k = 0; k < 64; ++k) cow.insert_or_assign((k * 37) % 64, Counted(value((k * 37) % 64)));
  for (int k = 0; k < 64; k += 5) cow.erase(k);
  EXPECT_EQ(Counted::copies, 0);

  const CowMap<int, Counted, 8> copy = cow;
  cow.insert_or_assign(100, Counted(value(100)));
  cow.insert_or_assign(1, Counted(value(-1)));
  cow.erase(2);
  EXPECT_GT(Counted::copies, 0);
  for (int k = 0; k < 64; ++k) {
    ASSERT_EQ(copy.count(k), k % 5 == 0 ? 0u : 1u) << k;
    if (k % 5) {
      EXPECT_EQ(copy.at(k).s, value(k)) << k;
    }
  }
  EXPECT_EQ(cow.at(1).s, value(-1));
  EXPECT_EQ(cow.count(2), 0u);
  EXPECT_EQ(cow.at(3).s, value(3));
  EXPECT_EQ(cow.at(100).s, value(100));
  EXPECT_EQ(cow.size(), copy.size());
}

}  // namespace
}  // namespace warren::state
