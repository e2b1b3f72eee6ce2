#include "tools/bench/state_churn.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/bench_util.h"

namespace warren::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The background: namespaces of 200 pods each on 100 other nodes, a Service per
// ten pods (an app), a namespace-wide ALLOW per namespace (its own namespace and
// the bench's) and one per-app ALLOW for every other app past that, about 1%.
// One file per namespace. Addresses 10.200.0.0/16 (pods) and 10.97.0.0/16 (VIPs):
// neither is the bench's.
void writeBackground(e2e::TestNode& n, int pods) {
  const int perNs = 200;
  for (int ns = 0; ns * perNs < pods; ++ns) {
    const std::string name = "bg-" + std::to_string(ns);
    std::ostringstream y;
    y << "apiVersion: v1\nkind: Namespace\nmetadata: {name: " << name << ", labels: {warren.io/mode: enabled}}\n---\n";
    y << "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: same-ns, namespace: " << name
      << "}\nspec: {action: ALLOW, rules: [{from: [{source: {namespaces: [" << name << ", mesh]}}]}]}\n---\n";
    for (int i = 0; i < perNs && ns * perNs + i < pods; ++i) {
      const int k = ns * perNs + i;
      const int app = i / 10;
      if (i % 10 == 0) {
        const int vip = k / 10;
        y << "apiVersion: v1\nkind: Service\nmetadata: {name: app" << app << ", namespace: " << name
          << "}\nspec: {clusterIP: 10.97." << vip / 250 << "." << vip % 250 + 1 << ", selector: {app: app" << app
          << "}, ports: [{name: http, port: 80, targetPort: 8080}]}\n---\n";
        if (app % 2 == 1)
          y << "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: app" << app
            << ", namespace: " << name << "}\nspec: {selector: {matchLabels: {app: app" << app
            << "}}, action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/" << name << "/sa/app"
            << app - 1 << "]}}], to: [{operation: {ports: [\"8080\"]}}]}]}\n---\n";
      }
      y << "apiVersion: v1\nkind: Pod\nmetadata: {name: p" << i << ", namespace: " << name << ", uid: uid-" << name
        << "-p" << i << ", labels: {app: app" << app << "}}\nspec: {serviceAccountName: app" << app
        << ", nodeName: bg-node-" << k % 100 << "}\nstatus: {podIP: 10.200." << k / 250 << "." << k % 250 + 1
        << "}\n---\n";
    }
    n.writeFile("zz-background-" + name + ".yaml", y.str());
  }
}

// The last "cluster state: N workloads" a tunnel logged, or -1.
long workloadsInForce(const e2e::TestNode& n) {
  const std::string log = n.readLog("tunnel");
  const std::string tag = "cluster state: ";
  const auto at = log.rfind(tag);
  if (at == std::string::npos) return -1;
  return std::atol(log.c_str() + at + tag.size());
}

// One object changed, `rate` times a second: a pod of its own file whose label
// changes each time (a rollout's annotation bump, a controller's label), so the
// state really differs every time.
class Churner {
 public:
  Churner(e2e::TestNode& n, int rate) : n_(n), rate_(rate) {
    thread_ = std::thread([this] { run(); });
  }
  ~Churner() {
    stop_ = true;
    thread_.join();
    n_.removeFile("zz-churn.yaml");
  }
  long changes() const { return changes_; }

 private:
  void run() {
    const auto period = std::chrono::microseconds(1000000 / rate_);
    auto next = Clock::now();
    while (!stop_) {
      n_.writeFile("zz-churn.yaml",
                   "apiVersion: v1\nkind: Pod\nmetadata: {name: churn, namespace: mesh, uid: uid-churn, labels: "
                   "{version: v" +
                       std::to_string(changes_.load()) +
                       "}}\nspec: {serviceAccountName: churn, nodeName: bg-node-0}\nstatus: {podIP: 10.244.9.9}\n");
      ++changes_;
      next += period;
      std::this_thread::sleep_until(next);  // the pace of the load, not a wait for a result
    }
  }
  e2e::TestNode& n_;
  const int rate_;
  std::atomic<bool> stop_{false};
  std::atomic<long> changes_{0};
  std::thread thread_;
};

struct Row {
  std::string state;
  Percentiles quiet, churning;
  double changesPerSecond = 0;
  double tunnelCpuChurning = 0;  // both tunnels' CPU seconds per wall second while churning
  double agentCpuChurning = 0;   // both agents' (each reads the directory too)
};

Row measure(const ChurnOptions& o, const std::string& label, e2e::TestNode& n1, e2e::TestNode& n2,
            const e2e::Pod& client, const e2e::Pod& server, uint16_t port) {
  Row r;
  r.state = label;
  (void)newConnectionLatency(client, server.ip, port, 50);  // the pooled HBONE connection, warm
  r.quiet = newConnectionLatency(client, server.ip, port, o.connections);
  const pid_t t1 = n1.tunnel()->pid(), t2 = n2.tunnel()->pid();
  const pid_t a1 = n1.agent()->pid(), a2 = n2.agent()->pid();
  const double c0 = cpuSeconds(t1) + cpuSeconds(t2), ca0 = cpuSeconds(a1) + cpuSeconds(a2);
  const auto start = Clock::now();
  long changes = 0;
  {
    Churner churn(n1, o.changesPerSecond);
    std::this_thread::sleep_for(200ms);  // the churn under way before the first sample
    r.churning = newConnectionLatency(client, server.ip, port, o.connections);
    changes = churn.changes();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  r.changesPerSecond = static_cast<double>(changes) / wall;
  r.tunnelCpuChurning = (cpuSeconds(t1) + cpuSeconds(t2) - c0) / wall;
  r.agentCpuChurning = (cpuSeconds(a1) + cpuSeconds(a2) - ca0) / wall;
  return r;
}

}  // namespace

int measureChurn(const ChurnOptions& o, e2e::TestNode& n1, e2e::TestNode& n2, const e2e::Pod& client,
                 const e2e::Pod& server, uint16_t port) {
  std::printf(
      "Warren state churn, two nodes: new connections (connect + 64-byte echo + close, one at a time, %d per "
      "measurement) with the cluster state quiet, then with one object changed %d times a second in the YAML "
      "directory both tunnels read\n\n",
      o.connections, o.changesPerSecond);
  // Before any churn: the churn's own pod is gone again when the background comes.
  const long before = workloadsInForce(n1);
  std::vector<Row> rows;
  rows.push_back(measure(o, "bench's own (" + std::to_string(before) + " workloads)", n1, n2, client, server, port));
  if (o.background > 0) {
    writeBackground(n1, o.background);
    const auto deadline = Clock::now() + 120s;
    bool applied = false;
    while (Clock::now() < deadline && !applied) {
      applied = workloadsInForce(n1) >= before + o.background && workloadsInForce(n2) >= before + o.background;
      if (!applied) std::this_thread::sleep_for(100ms);  // the tunnels' log is the only signal; poll it
    }
    if (!applied) {
      std::fprintf(stderr, "the tunnels did not take the %d background pods within 120 s (node1 %ld, node2 %ld)\n",
                   o.background, workloadsInForce(n1), workloadsInForce(n2));
      return 1;
    }
    std::printf("with the background in force: node1's agent RSS %.1f MB, tunnel RSS %.1f MB\n",
                static_cast<double>(rssKb(n1.agent()->pid(), "VmRSS:")) / 1024.0,
                static_cast<double>(rssKb(n1.tunnel()->pid(), "VmRSS:")) / 1024.0);
    rows.push_back(measure(o,
                           "+" + std::to_string(o.background) + " pods, " + std::to_string(o.background / 10) +
                               " services, ~" + std::to_string(o.background / 100) + " policies",
                           n1, n2, client, server, port));
  }
  std::printf("%-44s %18s %18s %8s %10s %12s %11s\n", "state", "quiet p50/p99 us", "churning p50/p99", "p99 x",
              "changes/s", "tunnels CPU", "agents CPU");
  for (const auto& r : rows)
    std::printf("%-44s %8.0f/%-9.0f %8.0f/%-9.0f %7.2fx %10.1f %11.0f%% %10.0f%%\n", r.state.c_str(), r.quiet.p50,
                r.quiet.p99, r.churning.p50, r.churning.p99, r.quiet.p99 > 0 ? r.churning.p99 / r.quiet.p99 : 0,
                r.changesPerSecond, r.tunnelCpuChurning * 100, r.agentCpuChurning * 100);
  int failures = 0;
  for (const auto& r : rows) failures += r.quiet.failures + r.churning.failures;
  if (failures) std::printf("failed connections: %d\n", failures);
  std::printf("\naim (issue 17): churning p99 within 10%% of quiet (p99 x <= 1.10)\n");
  return 0;
}

}  // namespace warren::bench
