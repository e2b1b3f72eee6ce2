// warren-state-scale-bench: the cluster state at 10k and 100k workloads (issue 17).
//
// Not a timed test: it prints a table against the aims. Every
// measurement runs in a fresh process of this binary (`--worker ...`), so one
// size's freed heap does not hide in the next one's RSS:
//   yaml        the standalone source as the tunnel runs it (StateFeed): the YAML
//               directory read (source::DirectoryReader) and converted
//               (state::IncrementalConverter), then one pod added in its own file
//               and one policy changed, each applied as the tunnel applies any
//               change: only changed files parsed, only what they reach converted;
//               and authorize() over random flows.
//   xds         the real XdsClient against the test delta ADS server (which runs
//               in a third process, `xds-server`, so its copies are not counted):
//               initial state, then one workload added and one policy changed.
// RSS per workload is (VmRSS with the state held - VmRSS before) / workloads;
// "trimmed" is the same after malloc_trim(0), i.e. without the heap the build
// freed but glibc kept.

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "authz/authorize.h"
#include "common/file_io.h"
#include "source/dir_reader.h"
#include "state/from_snapshot.h"
#include "state/incremental_converter.h"
#include "tests/support/xds_server.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/state_bytes.h"
#include "tools/bench/synthetic_cluster.h"
#include "xds/resource_cache.h"
#include "xds/xds_client.h"

extern char** environ;

namespace warren::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

long rssNowKb() { return rssKb(getpid(), "VmRSS:"); }

// --- authorize() over random flows ---

json measureAuthorize(const state::ClusterState& st, const SyntheticCluster& cluster, int flows) {
  std::vector<const state::Workload*> dsts;
  for (const auto& [uid, w] : st.workloads())
    if (w.captured && !w.ips.empty()) dsts.push_back(&w);
  const auto& pods = cluster.pods();
  if (dsts.empty() || pods.empty()) return json{{"error", "no destinations"}};
  std::mt19937 rng(42);
  std::vector<double> ns;
  ns.reserve(flows);
  size_t allowed = 0, applicable = 0;
  for (int i = 0; i < flows; ++i) {
    const state::Workload& dst = *dsts[rng() % dsts.size()];
    const auto& src = pods[rng() % pods.size()];
    authz::ConnectionFacts c;
    c.srcIp = src.ip;
    c.srcIdentity = identity::workloadIdentity("cluster.local", src.ns, src.app);
    c.dstIp = dst.ips.front();
    c.dstPort = rng() % 5 == 0 ? SyntheticCluster::kAdminPort : SyntheticCluster::kTargetPort;
    auto t = Clock::now();
    authz::Decision d = authz::authorize(st, dst, c);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t).count());
    allowed += d.allowed;
    if (i < 10000) applicable += st.policiesFor(dst).size();
  }
  Percentiles p = percentiles(ns, 0);
  return json{{"p50_us", p.p50 / 1000},
              {"p99_us", p.p99 / 1000},
              {"flows", flows},
              {"allowed_share", static_cast<double>(allowed) / flows},
              {"policies_per_destination", static_cast<double>(applicable) / std::min(flows, 10000)}};
}

// --- the YAML directory (the standalone source) ---

json yamlWorker(const ScaleSpec& spec, int flows) {
  const SyntheticCluster cluster(spec);
  char tmpl[] = "/tmp/warren-scale-XXXXXX";
  if (!mkdtemp(tmpl)) return json{{"error", "mkdtemp failed"}};
  const std::string dir = tmpl;
  struct RemoveDir {
    std::string d;
    ~RemoveDir() { std::filesystem::remove_all(d); }
  } removeDir{dir};
  if (auto st = cluster.writeYaml(dir); !st) return json{{"error", st.error().message}};
  const state::SnapshotOptions options;
  malloc_trim(0);
  const long rss0 = rssNowKb();
  const size_t heap0 = heapInUse();
  const size_t heapFree0 = heapFree();

  json out;
  // As the tunnel reads a directory (StateFeed): the reader keeps the snapshot and
  // the converter its indexes, both held with the state, so they are in the RSS.
  // Optional: destroyed one by one at the end to weigh each.
  std::optional<source::DirectoryReader> readerHolder(std::in_place, dir);
  std::optional<state::IncrementalConverter> converterHolder(std::in_place, options);
  source::DirectoryReader& reader = *readerHolder;
  state::IncrementalConverter& converter = *converterHolder;
  auto t = Clock::now();
  auto first = reader.read();
  if (!first) return json{{"error", first.error().message}};
  const double readMs = msSince(t);
  const size_t heapRead = heapInUse();
  auto t2 = Clock::now();
  state::ClusterStatePtr st = converter.apply(reader.snapshot(), *first);
  const double buildMs = msSince(t2);
  const double initialMs = msSince(t);
  first = source::SnapshotDiff{};
  const long rss1 = rssNowKb();
  malloc_trim(0);
  const long rss2 = rssNowKb();
  out["workloads"] = st->workloads().size();
  out["services"] = st->services().size();
  out["policies"] = st->policies().size();
  out["initial_ms"] = initialMs;
  out["read_ms"] = readMs;
  out["build_ms"] = buildMs;
  out["rss_before_kb"] = rss0;
  out["rss_per_workload_b"] = (rss1 - rss0) * 1024.0 / spec.workloads;
  out["rss_trimmed_per_workload_b"] = (rss2 - rss0) * 1024.0 / spec.workloads;
  out["authorize"] = measureAuthorize(*st, cluster, flows);

  // A change as the tunnel applies it: the directory read again (only new and
  // changed files parsed) and only what the changed objects reach converted.
  double changeReadMs = 0;  // of the last change: the directory's re-read, the rest is the conversion
  auto applyChange = [&]() -> Result<state::ClusterStatePtr> {
    const auto start = Clock::now();
    auto changes = reader.read();
    changeReadMs = msSince(start);
    if (!changes) return changes.error();
    return converter.apply(reader.snapshot(), *changes);
  };
  // One more pod in its own small file.
  const auto extra = cluster.extraPod();
  if (auto s = writeFileAtomic(dir + "/zz-extra-pod.yaml", SyntheticCluster::podYaml(extra), 0644); !s)
    return json{{"error", s.error().message}};
  t = Clock::now();
  auto next = applyChange();
  out["pod_added_ms"] = msSince(t);
  if (!next || !(*next)->findWorkload(extra.uid)) return json{{"error", "the added pod is not in the state"}};
  st = *next;
  out["pod_added_pods_converted"] = converter.counters().lastPodsConverted;
  out["pod_added_read_ms"] = changeReadMs;

  // One policy changed: its file rewritten with the new version.
  const auto changed = cluster.changedPolicy();
  std::string text;
  for (const auto& p : cluster.policies())
    if (SyntheticCluster::policyFile(p) == SyntheticCluster::policyFile(changed))
      text += SyntheticCluster::policyYaml(p.name == changed.name ? changed : p);
  if (auto s = writeFileAtomic(dir + "/" + SyntheticCluster::policyFile(changed), text, 0644); !s)
    return json{{"error", s.error().message}};
  t = Clock::now();
  next = applyChange();
  out["policy_changed_ms"] = msSince(t);
  if (!next) return json{{"error", next.error().message}};
  out["policy_changed_pods_converted"] = converter.counters().lastPodsConverted;
  out["policy_changed_read_ms"] = changeReadMs;
  out["whole_builds"] = converter.counters().whole;
  out["peak_rss_kb"] = rssKb(getpid(), "VmHWM:");

  // Where the bytes are: the heap in use per workload, the state's held alone.
  const double w = spec.workloads;
  malloc_trim(0);
  out["rss_end_trimmed_per_workload_b"] = (rssNowKb() - rss0) * 1024.0 / spec.workloads;
  const size_t heapAll = heapInUse();
  const size_t heapFreeAll = heapFree();
  converterHolder.reset();
  const size_t heapNoConverter = heapInUse();
  readerHolder.reset();
  const size_t heapState = heapInUse();
  auto per = [&](size_t a, size_t b) { return (static_cast<double>(a) - static_cast<double>(b)) / w; };
  out["heap_per_workload_b"] = {{"all", per(heapAll, heap0)},
                                {"free in the heap (fragments)", per(heapFreeAll, heapFree0)},
                                {"read (snapshot, reader, first diff)", per(heapRead, heap0)},
                                {"converter indexes", per(heapAll, heapNoConverter)},
                                {"reader (snapshot, files)", per(heapNoConverter, heapState)},
                                {"state", per(heapState, heap0)}};
  out["workload_fields_b"] = workloadBytes(*st);
  return out;
}

// --- a child process of this binary, talked to over its stdin/stdout ---

struct Child {
  pid_t pid = -1;
  FILE* in = nullptr;   // its stdin
  FILE* out = nullptr;  // its stdout
  std::string line() {
    char buf[65536];
    return std::fgets(buf, sizeof buf, out) ? std::string(buf) : std::string();
  }
  void say(const std::string& s) {
    std::fputs((s + "\n").c_str(), in);
    std::fflush(in);
  }
  int finish() {
    if (in) std::fclose(in);
    in = nullptr;
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    if (out) std::fclose(out);
    out = nullptr;
    pid = -1;
    return status;
  }
  ~Child() {
    if (pid > 0) kill(pid, SIGTERM);
    finish();
  }
};

Child spawnSelf(const std::vector<std::string>& args) {
  int toChild[2], fromChild[2];
  Child c;
  if (pipe2(toChild, O_CLOEXEC) != 0 || pipe2(fromChild, O_CLOEXEC) != 0) return c;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, toChild[0], 0);
  posix_spawn_file_actions_adddup2(&fa, fromChild[1], 1);
  std::vector<std::string> all = {"/proc/self/exe"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&c.pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(toChild[0]);
  close(fromChild[1]);
  c.in = fdopen(toChild[1], "w");
  c.out = fdopen(fromChild[0], "r");
  return c;
}

std::vector<std::string> specArgs(const ScaleSpec& s) {
  return {"--workloads", std::to_string(s.workloads), "--services", std::to_string(s.services),
          "--policies",  std::to_string(s.policies)};
}

// --- the xDS path ---

// The test ADS server with the whole cluster pushed, in its own process: prints
// its port, then on stdin "add-pod" / "change-policy" pushes that change and
// prints "pushed"; EOF ends it.
int xdsServerWorker(const ScaleSpec& spec) {
  const SyntheticCluster cluster(spec);
  auto server = testxds::XdsTestServer::start();
  if (!server) return 1;
  server->push(xds::kAddressType, cluster.xdsAddresses());
  server->push(xds::kAuthorizationType, cluster.xdsAuthorizations());
  std::printf("%d\n", server->port());
  std::fflush(stdout);
  char buf[256];
  while (std::fgets(buf, sizeof buf, stdin)) {
    const std::string cmd(buf);
    if (cmd.starts_with("add-pod")) {
      const auto p = cluster.extraPod();
      server->push(xds::kAddressType, {{p.uid, cluster.xdsAddress(p)}});
    } else if (cmd.starts_with("change-policy")) {
      const auto p = cluster.changedPolicy();
      server->push(xds::kAuthorizationType, {{SyntheticCluster::xdsName(p), SyntheticCluster::xdsAuthorization(p)}});
    }
    std::printf("pushed\n");
    std::fflush(stdout);
  }
  return 0;
}

class StateWaiter {
 public:
  void set(state::ClusterStatePtr s) {
    std::lock_guard lock(mu_);
    latest_ = std::move(s);
    at_ = Clock::now();
    cv_.notify_all();
  }
  // The time the first state satisfying pred arrived, or nullopt after 120 s.
  std::optional<Clock::time_point> until(const std::function<bool(const state::ClusterState&)>& pred) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(120), [&] { return latest_ && pred(*latest_); })) return std::nullopt;
    return at_;
  }
  state::ClusterStatePtr latest() {
    std::lock_guard lock(mu_);
    return latest_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  state::ClusterStatePtr latest_;
  Clock::time_point at_;
};

json xdsWorker(const ScaleSpec& spec, int flows) {
  // The expected counts and the changed objects, without holding the cluster.
  size_t workloads, policies;
  std::string extraUid, changedKey, changedPeer;
  {
    const SyntheticCluster cluster(spec);
    workloads = cluster.pods().size();
    policies = cluster.policies().size();
    extraUid = cluster.extraPod().uid;
    const auto changed = cluster.changedPolicy();
    changedKey = changed.ns + "/" + changed.name;
    changedPeer = changed.peers.back();
  }
  std::vector<std::string> args = {"--worker", "xds-server"};
  for (auto& a : specArgs(spec)) args.push_back(a);
  Child server = spawnSelf(args);
  const int port = std::atoi(server.line().c_str());
  if (port <= 0) return json{{"error", "the xDS server did not start"}};
  malloc_trim(0);
  const long rss0 = rssNowKb();
  const size_t heap0 = heapInUse();
  const size_t heapFree0 = heapFree();

  StateWaiter waiter;
  xds::XdsOptions o;
  o.address = "127.0.0.1:" + std::to_string(port);
  o.nodeId = "ztunnel~10.0.0.1~bench.istio-system~istio-system.svc.cluster.local";
  json out;
  auto t = Clock::now();
  auto client = xds::XdsClient::start(o, [&](state::ClusterStatePtr s) { waiter.set(std::move(s)); });
  if (!client) return json{{"error", client.error().message}};
  auto at = waiter.until([&](const state::ClusterState& s) {
    return s.workloads().size() == workloads && s.policies().size() == policies;
  });
  if (!at) return json{{"error", "no complete state from xDS in 120 s"}};
  out["initial_ms"] = std::chrono::duration<double, std::milli>(*at - t).count();
  out["workloads"] = waiter.latest()->workloads().size();
  const long rss1 = rssNowKb();
  malloc_trim(0);
  const long rss2 = rssNowKb();
  out["rss_per_workload_b"] = (rss1 - rss0) * 1024.0 / spec.workloads;
  out["rss_trimmed_per_workload_b"] = (rss2 - rss0) * 1024.0 / spec.workloads;
  // After the memory is read: the flows' sources come from the cluster.
  out["authorize"] = measureAuthorize(*waiter.latest(), SyntheticCluster(spec), flows);

  t = Clock::now();
  server.say("add-pod");
  at = waiter.until([&](const state::ClusterState& s) { return s.findWorkload(extraUid) != nullptr; });
  if (!at) return json{{"error", "the added pod never arrived"}};
  out["pod_added_ms"] = std::chrono::duration<double, std::milli>(*at - t).count();
  server.line();

  t = Clock::now();
  server.say("change-policy");
  at = waiter.until([&](const state::ClusterState& s) {
    auto it = s.policies().find(changedKey);
    if (it == s.policies().end() || it->second.rules.empty()) return false;
    for (const auto& c : it->second.rules.front().clauses)
      for (const auto& m : c.matches)
        for (const auto& p : m.principals)
          if (p.value == changedPeer) return true;
    return false;
  });
  if (!at) return json{{"error", "the changed policy never arrived"}};
  out["policy_changed_ms"] = std::chrono::duration<double, std::milli>(*at - t).count();
  out["peak_rss_kb"] = rssKb(getpid(), "VmHWM:");

  // Where the bytes are: the heap in use per workload, with the client (its
  // resource cache) and with the state alone.
  const double w = spec.workloads;
  const state::ClusterStatePtr st = waiter.latest();
  malloc_trim(0);
  out["rss_end_trimmed_per_workload_b"] = (rssNowKb() - rss0) * 1024.0 / spec.workloads;
  const size_t heapAll = heapInUse();
  const size_t heapFreeAll = heapFree();
  client->reset();
  waiter.set(nullptr);
  const size_t heapState = heapInUse();
  auto per = [&](size_t a, size_t b) { return (static_cast<double>(a) - static_cast<double>(b)) / w; };
  out["heap_per_workload_b"] = {{"all", per(heapAll, heap0)},
                                {"free in the heap (fragments)", per(heapFreeAll, heapFree0)},
                                {"client (resource cache)", per(heapAll, heapState)},
                                {"state", per(heapState, heap0)}};
  out["workload_fields_b"] = workloadBytes(*st);
  return out;
}

// --- the table ---

json runWorker(const std::string& kind, const ScaleSpec& spec, int flows) {
  std::vector<std::string> args = {"--worker", kind, "--flows", std::to_string(flows)};
  for (auto& a : specArgs(spec)) args.push_back(a);
  Child c = spawnSelf(args);
  std::string last, l;
  while (!(l = c.line()).empty()) last = l;
  if (c.finish() != 0 || last.empty()) return json{{"error", kind + " worker failed"}};
  return json::parse(last, nullptr, false);
}

std::string verdict(bool met) { return met ? "met" : "NOT met"; }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

int orchestrate(const std::vector<std::pair<std::string, ScaleSpec>>& scenarios, bool withYaml, bool withXds,
                int flows) {
  std::printf("warren-state-scale-bench: the cluster state in one process (issue 17)\n\n");
  std::vector<std::pair<std::string, json>> rows;
  for (const auto& [name, spec] : scenarios) {
    std::fprintf(stderr, "%s: %d workloads, %d services, %d policies\n", name.c_str(), spec.workloads, spec.services,
                 spec.policies);
    json r;
    if (withYaml) r["yaml"] = runWorker("yaml", spec, flows);
    if (withXds) {
      std::fprintf(stderr, "%s: xDS...\n", name.c_str());
      r["xds"] = runWorker("xds", spec, flows);
    }
    r["spec"] = {spec.workloads, spec.services, spec.policies};
    rows.emplace_back(name, r);
  }
  std::printf(
      "| scenario (workloads/services/policies) | source | RSS per workload (trimmed) | initial apply | "
      "+1 pod | 1 policy changed | authorize() p50 / p99 (policies per dst) | peak RSS |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, r] : rows) {
    const std::string label = name + " (" + std::to_string(r["spec"][0].get<int>()) + "/" +
                              std::to_string(r["spec"][1].get<int>()) + "/" + std::to_string(r["spec"][2].get<int>()) +
                              ")";
    for (const char* src : {"yaml", "xds"}) {
      if (!r.contains(src)) continue;
      const json& m = r[src];
      if (m.is_discarded() || m.contains("error")) {
        std::printf("| %s | %s | error: %s |\n", label.c_str(), src,
                    m.is_discarded() ? "bad output" : m["error"].get<std::string>().c_str());
        continue;
      }
      std::string authz = "–";
      if (m.contains("authorize"))
        authz = fmt("%.2f", m["authorize"]["p50_us"].get<double>()) + " / " +
                fmt("%.2f µs", m["authorize"]["p99_us"].get<double>()) + " (" +
                fmt("%.1f", m["authorize"]["policies_per_destination"].get<double>()) + ")";
      std::printf(
          "| %s | %s | %s B (%s B) | %s ms | %s ms | %s ms | %s | %s MB |\n", label.c_str(),
          src == std::string("yaml") ? "YAML dir" : "xDS", fmt("%.0f", m["rss_per_workload_b"].get<double>()).c_str(),
          fmt("%.0f", m["rss_trimmed_per_workload_b"].get<double>()).c_str(),
          fmt("%.0f", m["initial_ms"].get<double>()).c_str(), fmt("%.1f", m["pod_added_ms"].get<double>()).c_str(),
          fmt("%.1f", m["policy_changed_ms"].get<double>()).c_str(), authz.c_str(),
          fmt("%.0f", m["peak_rss_kb"].get<double>() / 1024).c_str());
    }
  }

  // Against the aims of issue 17 (the largest scenario for memory and apply).
  std::printf("\nAims (issue 17):\n");
  for (const auto& [name, r] : rows) {
    for (const char* src : {"yaml", "xds"}) {
      if (!r.contains(src) || r[src].is_discarded() || r[src].contains("error")) continue;
      const json& m = r[src];
      const int w = r["spec"][0].get<int>();
      const double perW = m["rss_per_workload_b"].get<double>();
      std::printf("  %s %s: memory per workload %.0f B vs <= 1536 B: %s\n", name.c_str(), src, perW,
                  verdict(perW <= 1536).c_str());
      if (w >= 100000 && std::string(src) == "xds")
        std::printf("  %s %s: initial apply %.0f ms vs <= 2000 ms: %s\n", name.c_str(), src,
                    m["initial_ms"].get<double>(), verdict(m["initial_ms"].get<double>() <= 2000).c_str());
      const double change = std::max(m["pod_added_ms"].get<double>(), m["policy_changed_ms"].get<double>());
      std::printf("  %s %s: one-object change %.1f ms vs <= 10 ms: %s\n", name.c_str(), src, change,
                  verdict(change <= 10).c_str());
      if (m.contains("authorize") && r["spec"][2].get<int>() >= 1000) {
        const double p50 = m["authorize"]["p50_us"].get<double>();
        std::printf("  %s %s: authorize() at %d policies, p50 %.2f µs vs <= 2 µs: %s\n", name.c_str(), src,
                    r["spec"][2].get<int>(), p50, verdict(p50 <= 2).c_str());
      }
    }
  }
  std::printf("  new-connection p99 while the state churns at 100 changes/s: not measured by this benchmark\n");
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: warren-state-scale-bench [--scenarios 10k,100k,issue15] [--no-yaml] [--no-xds] [--flows N]\n"
               "       warren-state-scale-bench --write-yaml DIR [--workloads N --services N --policies N]\n"
               "  10k: 10,000 workloads, 1,000 services, 100 policies; 100k: 100,000 / 10,000 / 1,000;\n"
               "  issue15: 10,000 / 2,000 / 1,000 (the Performance issue's state-update row)\n");
}

}  // namespace
}  // namespace warren::bench

int main(int argc, char** argv) {
  using namespace warren::bench;
  spdlog::set_level(spdlog::level::warn);
  std::string worker, scenarios = "10k,100k,issue15", writeYamlDir;
  ScaleSpec spec;
  bool withXds = true, withYaml = true;
  int flows = 200000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--worker")
      worker = next();
    else if (a == "--workloads")
      spec.workloads = std::atoi(next().c_str());
    else if (a == "--services")
      spec.services = std::atoi(next().c_str());
    else if (a == "--policies")
      spec.policies = std::atoi(next().c_str());
    else if (a == "--flows")
      flows = std::atoi(next().c_str());
    else if (a == "--scenarios")
      scenarios = next();
    else if (a == "--no-xds")
      withXds = false;
    else if (a == "--no-yaml")
      withYaml = false;
    else if (a == "--write-yaml")
      writeYamlDir = next();
    else {
      usage();
      return 2;
    }
  }
  if (worker == "xds-server") return xdsServerWorker(spec);
  if (!writeYamlDir.empty()) {
    // The cluster as a directory for another process (the agent's RSS, say).
    auto st = SyntheticCluster(spec).writeYaml(writeYamlDir);
    if (!st) std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return st ? 0 : 1;
  }
  if (worker == "yaml" || worker == "xds") {
    const nlohmann::json r = worker == "yaml" ? yamlWorker(spec, flows) : xdsWorker(spec, flows);
    std::printf("%s\n", r.dump().c_str());
    return 0;
  }
  std::vector<std::pair<std::string, ScaleSpec>> chosen;
  const std::map<std::string, ScaleSpec> known = {
      {"10k", {10000, 1000, 100}}, {"100k", {100000, 10000, 1000}}, {"issue15", {10000, 2000, 1000}}};
  size_t start = 0;
  while (start <= scenarios.size()) {
    size_t comma = scenarios.find(',', start);
    const std::string s = scenarios.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!known.count(s)) {
      usage();
      return 2;
    }
    chosen.emplace_back(s, known.at(s));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return orchestrate(chosen, withYaml, withXds, flows);
}
