// warren-revalidate-bench: what a cluster-state change costs the tunnel's event
// loop for the inbound connections it holds. Every live inbound connection must be
// judged again when a change could revoke it (tunnel/proxy/revalidation.h). The
// baseline, measured in the same run, is what the tunnel did before: judge every
// live connection again on every change (a copy of its destination, then
// authorize()).
//
// The state is the synthetic cluster of warren-state-scale-bench (10k workloads,
// 1k services, 100 policies by default) read from its YAML directory; the node
// holds --connections live inbound connections spread over --destinations of its
// pods, from random sources. Changes, each applied as the xDS source applies a
// delta (ClusterState::Builder from the previous state):
//   pod:    one pod added elsewhere in the cluster (most changes in a big cluster);
//   policy: a policy that applies to one of the destinations changed;
// and, as the YAML and Kubernetes sources still do, the whole state rebuilt from
// an unchanged snapshot.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "authz/authorize.h"
#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tools/bench/synthetic_cluster.h"
#include "tunnel/proxy/revalidation.h"

namespace warren::bench {
namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Live {
  std::vector<proxy::PodContext> pods;
  std::vector<authz::ConnectionFacts> facts;
  std::vector<size_t> podOf;
};

// Before: every live connection judged again, its destination copied.
double judgeAllMs(const state::ClusterState& next, const Live& live, size_t* revoked) {
  auto t = Clock::now();
  for (size_t i = 0; i < live.facts.size(); ++i) {
    const state::Workload dst = *next.findByIp(live.facts[i].dstIp);
    *revoked += !authz::authorize(next, dst, live.facts[i]).allowed;
  }
  return msSince(t);
}

double revalidateMs(const state::ClusterState& judgedWith, const state::ClusterState& next, const Live& live,
                    proxy::Revalidation* out) {
  std::vector<proxy::LiveInbound> v;
  v.reserve(live.facts.size());
  for (size_t i = 0; i < live.facts.size(); ++i)
    v.push_back({i + 1, &live.pods[live.podOf[i]], &live.facts[i], &judgedWith});
  auto t = Clock::now();
  *out = proxy::revalidate(next, v);
  return msSince(t);
}

// One kind of change, measured both ways over its repetitions.
struct Tally {
  double beforeMs = 0, afterMs = 0;
  size_t judged = 0, revokedBefore = 0, revokedAfter = 0;
  int changes = 0;

  void add(const state::ClusterState& judgedWith, const state::ClusterState& next, const Live& live) {
    beforeMs += judgeAllMs(next, live, &revokedBefore);
    proxy::Revalidation r;
    afterMs += revalidateMs(judgedWith, next, live, &r);
    judged += r.judged;
    revokedAfter += r.revoked.size();
    ++changes;
  }
  void print(const char* what, size_t connections) const {
    if (changes == 0) return;
    std::printf("%-44s before %8.3f ms  after %8.3f ms  (judged %zu of %zu, revoked %zu / %zu)\n", what,
                beforeMs / changes, afterMs / changes, judged / static_cast<size_t>(changes), connections,
                revokedBefore, revokedAfter);
  }
};

int run(const ScaleSpec& spec, int connections, int destinations, int changes) {
  SyntheticCluster cluster(spec);
  const std::string dir = "/tmp/warren-revalidate-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  if (auto st = cluster.writeYaml(dir); !st) {
    std::fprintf(stderr, "write %s: %s\n", dir.c_str(), st.error().message.c_str());
    return 1;
  }
  auto snap = source::loadDirectory(dir);
  std::filesystem::remove_all(dir);
  if (!snap) {
    std::fprintf(stderr, "read: %s\n", snap.error().message.c_str());
    return 1;
  }
  state::ClusterStatePtr base = state::stateFromSnapshot(*snap, {});

  // The node's pods: captured workloads with selector policies, of different apps
  // (different selector policies), as a node's pods usually are.
  Live live;
  std::set<std::vector<std::string>> appsTaken;
  for (const auto& [uid, w] : base->workloads()) {
    if (static_cast<int>(live.pods.size()) == destinations) break;
    if (!w.captured || w.ips.empty() || w.policies.empty() || !w.waypoint.empty()) continue;
    if (!appsTaken.insert(w.policies).second) continue;
    proxy::PodContext p;
    p.uid = w.uid;
    p.name = w.name;
    p.ns = w.ns;
    p.serviceAccount = w.serviceAccount;
    p.ips = w.ips;
    live.pods.push_back(std::move(p));
  }
  std::mt19937 rng(7);
  const auto& sources = cluster.pods();
  // Allowed connections only: the tunnel holds no other.
  for (int tries = 0; static_cast<int>(live.facts.size()) < connections && tries < connections * 50; ++tries) {
    const size_t pi = rng() % live.pods.size();
    const auto& src = sources[rng() % sources.size()];
    authz::ConnectionFacts c;
    c.srcIp = src.ip;
    c.srcIdentity = identity::workloadIdentity("cluster.local", src.ns, src.app);
    c.dstIp = live.pods[pi].ips.front();
    c.dstPort = SyntheticCluster::kTargetPort;
    if (!authz::authorize(*base, *base->findByIp(c.dstIp), c).allowed) continue;
    live.facts.push_back(std::move(c));
    live.podOf.push_back(pi);
  }
  std::printf("state: %zu workloads, %zu services, %zu policies; %zu live inbound connections to %zu pods\n",
              base->workloads().size(), base->services().size(), base->policies().size(), live.facts.size(),
              live.pods.size());

  // pod: one more pod elsewhere, `changes` times in a row.
  Tally pod;
  state::ClusterStatePtr prev = base;
  const state::Workload& model = *base->findByIp(live.facts.front().dstIp);
  for (int i = 0; i < changes; ++i) {
    state::Workload w = model;
    w.uid = "bench/extra-" + std::to_string(i);
    w.name = "extra-" + std::to_string(i);
    w.ips = {"10.250." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)};
    state::ClusterState::Builder b(prev);
    b.add(std::move(w));
    auto next = b.finish();
    pod.add(*prev, *next, live);
    prev = next;
  }
  pod.print("one pod added elsewhere, per change", live.facts.size());

  // policy: a policy of the first destination gains a rule (allows one more peer).
  const state::AuthorizationPolicy* target = nullptr;
  for (const auto* p : base->policiesFor(*base->findByIp(live.facts.front().dstIp)))
    if (p->scope == state::PolicyScope::WorkloadSelector) target = p;
  Tally policy;
  for (int i = 0; target && i < changes; ++i) {
    state::AuthorizationPolicy p = *target;
    p.rules.push_back(p.rules.empty() ? state::Rule{} : p.rules.front());
    state::ClusterState::Builder b(base);
    b.add(std::move(p));
    policy.add(*base, *b.finish(), live);
  }
  policy.print("a policy of one destination changed", live.facts.size());

  // whole: the state rebuilt from the same snapshot (a source that rebuilds whole).
  Tally whole;
  for (int i = 0; i < 3; ++i) whole.add(*base, *state::stateFromSnapshot(*snap, {}), live);
  whole.print("the whole state rebuilt, nothing changed", live.facts.size());
  return 0;
}

}  // namespace
}  // namespace warren::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);
  warren::bench::ScaleSpec spec;
  int connections = 10000, destinations = 10, changes = 100;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> int { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--workloads")
      spec.workloads = next();
    else if (a == "--services")
      spec.services = next();
    else if (a == "--policies")
      spec.policies = next();
    else if (a == "--connections")
      connections = next();
    else if (a == "--destinations")
      destinations = next();
    else if (a == "--changes")
      changes = next();
    else {
      std::fprintf(stderr,
                   "usage: warren-revalidate-bench [--workloads N] [--services N] [--policies N] [--connections N] "
                   "[--destinations N] [--changes N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (spec.workloads <= 0 || connections <= 0 || destinations <= 0 || changes <= 0) {
    std::fprintf(stderr, "warren-revalidate-bench: every count must be a positive number\n");
    return 2;
  }
  return warren::bench::run(spec, connections, destinations, changes);
}
