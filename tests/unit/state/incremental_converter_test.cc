// The incremental snapshot -> state conversion (state/incremental_converter.h)
// against stateFromSnapshot of the same snapshot, after every step of random
// sequences of adds, changes and removes of every source kind: the dump, the
// lookups and the notes must be the same. The pools are small on purpose, so pods
// share addresses and uids, selectors pick and drop pods, slices list pod
// addresses, namespaces relabel many pods at once, and waypoints come and go.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "source/enrollment.h"
#include "source/snapshot_diff.h"
#include "state/from_snapshot.h"
#include "state/incremental_converter.h"
#include "state/state_json.h"

namespace warren::state {
namespace {

using source::ObjectKind;

const std::vector<std::string> kNamespaces = {"a", "b", "istio-system"};
const std::vector<std::string> kPodIps = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::5"};
const std::vector<std::string> kVips = {"10.96.0.1", "10.96.0.2", "10.0.0.4"};
const std::vector<std::string> kApps = {"x", "y", "z"};

class Gen {
 public:
  explicit Gen(unsigned seed) : rng_(seed) {}
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[pick(v.size())];
  }
  std::string ns() { return any(kNamespaces); }
  std::string app() { return any(kApps); }

  // istio.io/use-waypoint on a pod, service or namespace: the waypoint "wp"
  // (which may or may not exist), a missing one, or an opt-out.
  void maybeWaypointLabel(std::map<std::string, std::string>& labels) {
    if (!chance(25)) return;
    const std::string names[] = {"wp", "wp", "ghost", "none"};
    labels["istio.io/use-waypoint"] = names[pick(4)];
    if (chance(30)) labels["istio.io/use-waypoint-namespace"] = "a";
  }

  source::Namespace namespaceObj(const std::string& name) {
    source::Namespace n{name, {}};
    if (chance(60)) n.labels[source::kModeLabel] = chance(80) ? source::kModeEnabled : source::kModeDisabled;
    if (chance(20)) n.labels[source::kIstioModeLabel] = source::kIstioAmbient;
    maybeWaypointLabel(n.labels);
    return n;
  }
  source::Pod pod(const std::string& key) {
    source::Pod p;
    p.ns = key.substr(0, key.find('/'));
    p.name = key.substr(key.find('/') + 1);
    // Mostly its own uid; sometimes one shared with another pod, or none.
    p.uid = chance(85) ? p.ns + "/" + p.name : chance(50) ? "shared" : "";
    p.serviceAccount = "sa" + std::to_string(pick(2));
    p.nodeName = "node" + std::to_string(pick(2));
    p.labels["app"] = app();
    if (chance(10)) p.labels[source::kGatewayNameLabel] = "wp";
    if (chance(10)) p.labels[source::kModeLabel] = source::kModeDisabled;
    maybeWaypointLabel(p.labels);
    for (size_t i = pick(3); i > 0; --i) {
      const std::string& ip = any(kPodIps);
      if (std::find(p.ips.begin(), p.ips.end(), ip) == p.ips.end()) p.ips.push_back(ip);
    }
    p.ready = chance(80);
    p.hostNetwork = chance(5);
    if (chance(50)) p.namedPorts["http"] = 8000 + static_cast<uint32_t>(pick(3));
    return p;
  }
  source::Service service(const std::string& key) {
    source::Service s;
    s.ns = key.substr(0, key.find('/'));
    s.name = key.substr(key.find('/') + 1);
    for (size_t i = pick(2); i > 0; --i) s.clusterIPs.push_back(any(kVips));
    if (chance(65)) s.selector["app"] = app();
    maybeWaypointLabel(s.labels);
    source::ServicePortSpec port{"http", "", 80, 0, ""};
    if (chance(40))
      port.targetPortName = "http";
    else if (chance(50))
      port.targetPort = 8080;
    s.ports.push_back(port);
    if (chance(30)) s.ports.push_back({"grpc", "grpc", 90, 9090, ""});
    return s;
  }
  source::EndpointSlice slice(const std::string& key) {
    source::EndpointSlice e;
    e.ns = "a";
    e.name = key.substr(2);
    e.serviceName = "s" + std::to_string(pick(4));
    e.ports.push_back({chance(80) ? "http" : "other", static_cast<uint32_t>(9000 + pick(2))});
    for (size_t i = pick(3); i > 0; --i) {
      source::EndpointSliceEndpoint ep;
      for (size_t j = 1 + pick(2); j > 0; --j) ep.addresses.push_back(any(kPodIps));
      ep.ready = chance(80);
      e.endpoints.push_back(ep);
    }
    return e;
  }
  source::AuthorizationPolicy policy(const std::string& key) {
    source::AuthorizationPolicy p;
    p.ns = key.substr(0, key.find('/'));
    p.name = key.substr(key.find('/') + 1);
    p.where = "policies.yaml, line " + std::to_string(1 + pick(50));
    if (chance(20)) {
      // A waypoint's: bound to the Gateway or to a Service.
      p.hasTargetRef = true;
      const bool gw = chance(50);
      p.targetRefs.push_back({gw ? "gateway.networking.k8s.io" : "", gw ? "Gateway" : "Service",
                              gw ? "wp" : "s" + std::to_string(pick(3)), ""});
    } else if (chance(70)) {
      p.selector.present = true;
      p.selector.matchLabels["app"] = app();
    }
    const std::string actions[] = {"ALLOW", "DENY", "AUDIT"};
    p.action = actions[pick(3)];
    source::PolicyRule rule;
    source::PolicySource from;
    from.fields["principals"] = {"cluster.local/ns/a/sa/sa" + std::to_string(pick(2))};
    rule.from.push_back(from);
    if (chance(20)) {
      source::PolicyOperation to;
      to.fields["methods"] = {"GET"};
      rule.to.push_back(to);
    }
    p.rules.push_back(rule);
    if (chance(5)) p.invalid.push_back("rules[0]: something unreadable");
    return p;
  }
  source::RequestAuthentication authn(const std::string& key) {
    source::RequestAuthentication r;
    r.ns = "a";
    r.name = key.substr(2);
    r.where = "authn.yaml, line 1";
    r.hasTargetRef = chance(80);
    if (r.hasTargetRef) r.targetRefs.push_back({"", "Service", "s" + std::to_string(pick(3)), ""});
    source::JwtRuleSpec rule;
    rule.issuer = "https://issuer" + std::to_string(pick(2));
    rule.jwksUri = "https://issuer/jwks";
    if (chance(20)) rule.timeout = "bad";
    r.jwtRules.push_back(rule);
    return r;
  }
  source::PeerAuthentication peer(const std::string& key) {
    source::PeerAuthentication p;
    p.ns = key.substr(0, key.find('/'));
    p.name = key.substr(key.find('/') + 1);
    const std::string modes[] = {"UNSET", "PERMISSIVE", "STRICT", "DISABLE"};
    p.mode = modes[pick(4)];
    if (chance(40)) {
      p.selector.present = true;
      p.selector.matchLabels["app"] = app();
      if (chance(50)) p.portLevel[8080] = modes[pick(4)];
    }
    return p;
  }
  source::Gateway gateway(const std::string& key) {
    source::Gateway g;
    g.ns = "a";
    g.name = key.substr(2);
    g.gatewayClassName = "istio-waypoint";
    const std::string kinds[] = {"service", "workload", "all", "none"};
    g.waypointFor = kinds[pick(4)];
    return g;
  }

 private:
  std::mt19937 rng_;
};

template <typename T>
void addOrRemove(Gen& g, std::map<std::string, T>& map, const std::string& key, T obj) {
  if (g.chance(30))
    map.erase(key);
  else
    map[key] = std::move(obj);
}

// One random change to the snapshot, of any kind.
void randomChange(Gen& g, source::Snapshot& s) {
  switch (g.pick(12)) {
    case 0: {
      const std::string name = g.ns();
      addOrRemove(g, s.namespaces, name, g.namespaceObj(name));
      break;
    }
    case 1:
    case 2:
    case 3: {
      const std::string key = g.ns() + "/p" + std::to_string(g.pick(6));
      addOrRemove(g, s.pods, key, g.pod(key));
      break;
    }
    case 4:
    case 5: {
      // "a/wp" is the waypoint's own Service when the Gateway exists.
      const std::string key = g.chance(10) ? "a/wp" : g.any(kNamespaces) + "/s" + std::to_string(g.pick(4));
      addOrRemove(g, s.services, key, g.service(key));
      break;
    }
    case 6: {
      const std::string key = "a/e" + std::to_string(g.pick(3));
      addOrRemove(g, s.endpointSlices, key, g.slice(key));
      break;
    }
    case 7:
    case 8: {
      const std::string key = g.ns() + "/ap" + std::to_string(g.pick(4));
      addOrRemove(g, s.authorizationPolicies, key, g.policy(key));
      break;
    }
    case 9: {
      const std::string key = "a/r" + std::to_string(g.pick(2));
      addOrRemove(g, s.requestAuthentications, key, g.authn(key));
      break;
    }
    case 10: {
      const std::string key = g.ns() + "/pa" + std::to_string(g.pick(2));
      addOrRemove(g, s.peerAuthentications, key, g.peer(key));
      break;
    }
    default: {
      addOrRemove(g, s.gateways, std::string("a/wp"), g.gateway("a/wp"));
      break;
    }
  }
}

std::vector<std::string> messages(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

// What the data path asks of a state, beyond its dump.
nlohmann::json lookups(const ClusterState& st) {
  nlohmann::json j;
  std::set<std::string> addrs(kPodIps.begin(), kPodIps.end());
  addrs.insert(kVips.begin(), kVips.end());
  for (const auto& ip : addrs) {
    const Workload* w = st.findByIp(ip);
    const Service* s = st.findServiceByVip(ip);
    j["byIp"][ip] = w ? w->uid : "";
    j["byVip"][ip] = s ? s->key() : "";
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

void expectSameAsWhole(const ClusterState& st, const std::vector<Error>& notes, const source::Snapshot& s,
                       const SnapshotOptions& o) {
  std::vector<Error> wholeNotes;
  auto whole = stateFromSnapshot(s, o, &wholeNotes);
  ASSERT_EQ(toJson(st).dump(1), toJson(*whole).dump(1));
  ASSERT_EQ(lookups(st).dump(1), lookups(*whole).dump(1));
  ASSERT_EQ(messages(notes), messages(wholeNotes));
}

// Applies the change from `before` to `now` and checks the result against a whole build.
ClusterStatePtr applyChecked(IncrementalConverter& conv, const source::Snapshot& before, const source::Snapshot& now,
                             const SnapshotOptions& o) {
  std::vector<Error> notes;
  auto st = conv.apply(now, source::diffSnapshots(before, now), &notes);
  expectSameAsWhole(*st, notes, now, o);
  return st;
}

TEST(IncrementalConverter, EveryStepEqualsAWholeBuild) {
  const SnapshotOptions o;
  uint64_t incremental = 0, whole = 0;
  for (unsigned seed = 1; seed <= 30; ++seed) {
    Gen g(seed);
    source::Snapshot s;
    IncrementalConverter conv(o);
    for (int step = 0; step < 300; ++step) {
      const source::Snapshot before = s;
      // Mostly one change per step (one edited object), sometimes several (a
      // file of many), sometimes none (a file touched).
      const size_t changes = g.chance(70) ? 1 : g.pick(6);
      for (size_t i = 0; i < changes; ++i) randomChange(g, s);
      std::vector<Error> notes;
      auto st = conv.apply(s, source::diffSnapshots(before, s), &notes);
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      ASSERT_NO_FATAL_FAILURE(expectSameAsWhole(*st, notes, s, o));
    }
    incremental += conv.counters().incremental;
    whole += conv.counters().whole;
  }
  // The walk exercises the incremental path, not only the fallback.
  EXPECT_GT(incremental, whole);
}

// The cases that matter most for cost, spelled out: one pod converts one pod;
// a namespace relabel converts its pods and no others; a policy or a Service the
// pods it selects; a Gateway builds whole.
TEST(IncrementalConverter, ConvertsOnlyWhatAChangeReaches) {
  const SnapshotOptions o;
  source::Snapshot s;
  s.namespaces["a"] = {"a", {}};
  s.namespaces["b"] = {"b", {{source::kModeLabel, source::kModeEnabled}}};
  for (int i = 0; i < 50; ++i) {
    for (const std::string ns : {"a", "b"}) {
      source::Pod p;
      p.ns = ns;
      p.name = "p" + std::to_string(i);
      p.uid = ns + "/" + p.name;
      p.labels["app"] = i % 2 ? "x" : "y";
      p.ips = {"10." + std::string(ns == "a" ? "1" : "2") + ".0." + std::to_string(i + 1)};
      s.pods[ns + "/" + p.name] = p;
    }
  }
  source::AuthorizationPolicy pol;
  pol.ns = "a";
  pol.name = "only-x";
  pol.selector = {true, {{"app", "x"}}};
  s.authorizationPolicies["a/only-x"] = pol;
  IncrementalConverter conv(o);
  auto step = [&](const source::Snapshot& before) { return applyChecked(conv, before, s, o); };
  step({});
  EXPECT_EQ(conv.counters().whole, 1u);

  source::Snapshot before = s;
  s.pods["a/p3"].labels["app"] = "y";
  step(before);
  EXPECT_EQ(conv.counters().lastPodsConverted, 1u);

  // The namespace enrolled: its 50 pods are captured now, b's are not touched.
  before = s;
  s.namespaces["a"].labels[source::kModeLabel] = source::kModeEnabled;
  auto st = step(before);
  EXPECT_EQ(conv.counters().lastPodsConverted, 50u);
  EXPECT_TRUE(st->findWorkload("a/p7")->captured);

  // A selector policy: the pods it selected or selects, not the whole namespace.
  before = s;
  s.authorizationPolicies["a/only-x"].selector.matchLabels["app"] = "nobody";
  step(before);
  EXPECT_EQ(conv.counters().lastPodsConverted, 24u);  // odd i but p3, relabelled to y
  EXPECT_EQ(conv.counters().incremental, 3u);

  // A Service: the pods its selector picks, not its whole namespace.
  before = s;
  source::Service web;
  web.name = "web";
  web.ns = "a";
  web.selector = {{"app", "x"}};
  web.ports = {{"http", "", 80, 8080, ""}};
  s.services["a/web"] = web;
  st = step(before);
  EXPECT_EQ(conv.counters().lastPodsConverted, 24u);
  EXPECT_EQ(st->readyEndpoints(*st->findService("a/web.a.svc.cluster.local")).size(), 24u);
  EXPECT_EQ(conv.counters().incremental, 4u);

  // A Gateway (a waypoint) reaches every binding: whole.
  before = s;
  s.gateways["a/wp"] = {"wp", "a", "", "istio-waypoint", "all"};
  step(before);
  EXPECT_EQ(conv.counters().whole, 2u);
}

// Issue 17's namespace relabel at size: one Namespace object changes and a thousand
// pods move: into the mesh, behind a waypoint, out of the mesh. Each step converts
// exactly that namespace's pods (not the other namespace's) and gives the state,
// lookups and notes of a whole build.
TEST(IncrementalConverter, ANamespaceRelabelMovesAThousandPods) {
  constexpr int kPods = 1000;
  const SnapshotOptions o;
  source::Snapshot s;
  s.namespaces["big"] = {"big", {}};
  s.namespaces["other"] = {"other", {{source::kModeLabel, source::kModeEnabled}}};
  auto addPod = [&s](const std::string& ns, int i) {
    source::Pod p;
    p.ns = ns;
    p.name = "p" + std::to_string(i);
    p.uid = ns + "/" + p.name;
    p.serviceAccount = "sa" + std::to_string(i % 7);
    p.nodeName = "node" + std::to_string(i % 3);
    p.labels["app"] = "app" + std::to_string(i % 10);
    p.ips = {(ns == "big" ? "10.1." : "10.2.") + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)};
    s.pods[ns + "/" + p.name] = p;
  };
  for (int i = 0; i < kPods; ++i) addPod("big", i);
  for (int i = 0; i < 100; ++i) addPod("other", i);
  // The waypoint the namespace is later bound to, in its own namespace.
  s.gateways["other/wp"] = {"wp", "other", "", "istio-waypoint", "all"};
  source::Service wp;
  wp.name = "wp";
  wp.ns = "other";
  wp.clusterIPs = {"10.96.0.10"};
  wp.ports = {{"mesh", "", 15008, 15008, ""}};
  s.services["other/wp"] = wp;
  IncrementalConverter conv(o);
  auto step = [&](const source::Snapshot& before) { return applyChecked(conv, before, s, o); };
  auto countIn = [](const ClusterState& st, const std::string& ns, auto pred) {
    size_t n = 0;
    for (const auto& [uid, w] : st.workloads())
      if (w.ns == ns && pred(w)) ++n;
    return n;
  };
  auto captured = [](const Workload& w) { return w.captured; };
  auto behindWaypoint = [](const Workload& w) { return w.waypoint == "other/wp.other.svc.cluster.local"; };

  auto st = step({});
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(countIn(*st, "big", captured), 0u);
  const uint64_t wholeBuilds = conv.counters().whole;

  // Enrolled: the thousand pods are captured, the other namespace's untouched.
  source::Snapshot before = s;
  s.namespaces["big"].labels[source::kModeLabel] = source::kModeEnabled;
  st = step(before);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(conv.counters().lastPodsConverted, static_cast<size_t>(kPods));
  EXPECT_EQ(countIn(*st, "big", captured), static_cast<size_t>(kPods));

  // Bound to the waypoint by the namespace's label: every pod's waypoint set.
  before = s;
  s.namespaces["big"].labels["istio.io/use-waypoint"] = "wp";
  s.namespaces["big"].labels["istio.io/use-waypoint-namespace"] = "other";
  st = step(before);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(conv.counters().lastPodsConverted, static_cast<size_t>(kPods));
  EXPECT_EQ(countIn(*st, "big", behindWaypoint), static_cast<size_t>(kPods));

  // Out of the mesh again (and so past no waypoint).
  before = s;
  s.namespaces["big"].labels[source::kModeLabel] = source::kModeDisabled;
  st = step(before);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(conv.counters().lastPodsConverted, static_cast<size_t>(kPods));
  EXPECT_EQ(countIn(*st, "big", captured), 0u);
  EXPECT_EQ(countIn(*st, "other", captured), 100u);

  // None of it fell back to a whole build.
  EXPECT_EQ(conv.counters().whole, wholeBuilds);
}

}  // namespace
}  // namespace warren::state
