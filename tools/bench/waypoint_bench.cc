// The waypoint's L7 cost on two nodes, against a baseline and against HAProxy doing
// the same L7 job, all measured in the same run (not a test). The cluster is the e2e
// harness's: two node namespaces joined by a veth underlay, pods made by the real CNI
// plugins, a real agent and tunnel per node, a real warren-waypoint.
//
//   direct   plain/loader (node1) -> plain/app:8080 (node2)            no proxy at all
//   mesh-l4  payments/checkout (node1) -> l4/app:8080 (node2), a mesh pod with no
//            waypoint: the two tunnels and one HBONE hop, no L7 (what the waypoint adds
//            to the mesh is the warren row against this one)
//   warren   payments/checkout (node1) -> Service payments/ledger 10.96.0.20:80, bound to
//            the waypoint: checkout's tunnel -HBONE mTLS-> warren-waypoint (node1, L7
//            policy) -HBONE mTLS-> ledger's tunnel (node2) -> payments/ledger:8080
//   haproxy  plain/loader -HTTPS (TLS 1.3)-> haproxy in plain/haproxy (node1, path ACL,
//            nbthread 1) -HTTP/1.1 keep-alive (http-reuse always)-> plain/app:8080
//   hap-mesh haproxy on the mesh path, doing the waypoint's job as a mesh workload:
//            payments/checkout (node1) -> haproxy in l4/haproxy (node1, enrolled: the
//            tunnel's HBONE mTLS in, plain HTTP/1.1 to haproxy, same ACL, nbthread 1)
//            -> l4/app:8080 (node2; haproxy's connection captured: HBONE mTLS out). The
//            same two tunnels and two mTLS hops as the warren row, with haproxy in the
//            waypoint's place (the haproxy row's path has one TLS hop and no tunnel).
//   warren+RS256, warren+ES256  the warren path with an end user's JWT in every
//            request (Authorization: Bearer), verified by the waypoint against a
//            RequestAuthentication's inline keys (RSA 2048, P-256), its claims read
//            by a DENY rule on realm_access.roles; one token per path, as a client
//            sends the same token until it expires. The verified-token cache is on
//            (the waypoint's default; --jwt-cache-size 0 runs them without it), and
//            an in-process row times one signature check against one cache hit.
//
// The apps are one program, warren-demo-app http 8080 with 1 KB response bodies, on
// node2. The direct and HAProxy paths need an app outside the mesh: a pod bound to a
// waypoint refuses anything but the waypoint (plaintext included), by design.
// Policy on both proxies: allow GET /balance/* (on the waypoint, from checkout's
// principal only), deny POST /admin/* with 403; one denied curl per proxy checks it.
//
// Load: h2load --h1 (keep-alive, one request in flight per connection), GET
// /balance/1, N requests over C connections after a warm-up; latency percentiles
// from h2load's per-request log. CPU from /proc/<pid>/stat of the proxies (and of
// both tunnels for Warren), RSS from /proc/<pid>/status.
//
// Usage (root): warren-waypoint-bench [--requests N] [--clients C] [--warmup N]
//                                     [--body-bytes B] [--waypoint-log-level L]
//                                     [--jwt-cache-size N] [--verbose]

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jwt/verified_cache.h"
#include "tests/support/cluster.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/payments_waypoint_cluster.h"
#include "tools/bench/bench_util.h"

using namespace warren;
using namespace warren::e2e;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using warren::bench::Percentiles;
using warren::bench::percentiles;
namespace fs = std::filesystem;

namespace {

struct Options {
  int requests = 20000;
  int clients = 16;
  int warmup = 2000;                      // per path, before the measured run (not counted)
  int bodyBytes = 1024;                   // the app's response body
  std::string waypointLogLevel = "info";  // its default; it writes an access line per request at info
  std::string jwtCacheSize;               // "": the waypoint's default
  bool verbose = false;                   // the waypoint's and haproxy's log tails at the end
};

constexpr const char* kVip = "10.96.0.20";
constexpr const char* kHaproxyIp = "10.244.1.40";
constexpr uint16_t kHaproxyPort = 8443;
constexpr const char* kMeshHaproxyIp = "10.244.1.41";  // in the enrolled namespace l4
constexpr uint16_t kMeshHaproxyPort = 8080;

// HAProxy as the same L7 proxy: the same two rules, HTTP/1.1 keep-alive out. Paths
// are normalised first (the waypoint does too), which 2.6 calls experimental.
// `bind`: the frontend's bind line, TLS 1.3 in for the haproxy row, plain HTTP for
// the mesh row (the tunnels carry it over mTLS).
std::string haproxyConfig(const std::string& bind, const std::string& appIp) {
  return "global\n"
         "  nbthread 1\n"
         "  maxconn 4096\n"
         "  expose-experimental-directives\n"
         "defaults\n"
         "  mode http\n"
         "  timeout connect 5s\n"
         "  timeout client 30s\n"
         "  timeout server 30s\n"
         "  option http-keep-alive\n"
         "frontend ledger\n"
         "  bind " +
         bind +
         "\n"
         "  http-request normalize-uri path-merge-slashes\n"
         "  http-request normalize-uri path-strip-dotdot\n"
         "  http-request deny deny_status 403 if { method POST } { path_beg /admin/ }\n"
         "  http-request deny deny_status 403 unless { method GET } { path_beg /balance/ }\n"
         "  default_backend ledger\n"
         "backend ledger\n"
         "  http-reuse always\n"
         "  server app " +
         appIp + ":8080\n";
}

// The end users' identity provider: an RSA and an EC key, published inline in a
// RequestAuthentication bound to the waypoint, and one token signed by each.
constexpr const char* kIssuer = "https://idp.bench.example";

struct Idp {
  jwt::mint::SigningKey rsa{jwt::mint::KeyKind::Rsa2048};
  jwt::mint::SigningKey ec{jwt::mint::KeyKind::EcP256};

  nlohmann::json jwks() const {
    return jwt::mint::jwks({rsa.publicJwk("rsa-1", "RS256"), ec.publicJwk("ec-1", "ES256")});
  }
  std::string token(const jwt::mint::SigningKey& key, const char* alg, const char* kid) const {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    return jwt::mint::token(key, {{"alg", alg}, {"typ", "JWT"}, {"kid", kid}},
                            {{"iss", kIssuer},
                             {"sub", "customer-42"},
                             {"aud", "ledger"},
                             {"iat", now.count()},
                             {"exp", now.count() + 3600},
                             {"realm_access", {{"roles", {"customer"}}}}});
  }
  std::string yaml() const {
    return "apiVersion: security.istio.io/v1\n"
           "kind: RequestAuthentication\n"
           "metadata: {name: customers, namespace: payments}\n"
           "spec:\n"
           "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n"
           "  jwtRules:\n"
           "  - issuer: " +
           std::string(kIssuer) +
           "\n"
           "    audiences: [ledger]\n"
           "    jwks: '" +
           jwks().dump() +
           "'\n"
           "---\n"
           "apiVersion: security.istio.io/v1\n"
           "kind: AuthorizationPolicy\n"
           "metadata: {name: no-suspended-users, namespace: payments}\n"
           "spec:\n"
           "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n"
           "  action: DENY\n"
           "  rules:\n"
           "  - when: [{key: \"request.auth.claims[realm_access][roles]\", values: [suspended]}]\n";
  }
};

// Microseconds per call of `f`, over enough calls to take ~0.3 s.
template <typename F>
double microsPerCall(F&& f) {
  int n = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < 300ms)
    for (int i = 0; i < 50; ++i, ++n) f();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n;
}

// The bench's own files (certificate, haproxy.cfg, h2load logs), removed at exit.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/warren-waypoint-bench.XXXXXX";
    if (::mkdtemp(tmpl)) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

struct Load {
  double rps = 0;       // h2load's
  double wall = 0;      // seconds around the h2load run (what the CPU is divided by)
  Percentiles latency;  // microseconds, 200s only; failures: everything else
  long ok = 0;
  std::string error;  // h2load's output when it did not finish
};

// h2load --h1 from inside `from`: n requests over c keep-alive connections.
Load h2load(const Pod& from, const std::string& url, const std::vector<std::string>& headers, int n, int c,
            const std::string& logFile) {
  Load l;
  std::string out;
  std::vector<std::string> argv = {
      "nsenter",   "--net=" + from.netnsPath(), "h2load",     "--h1", "--requests", std::to_string(n),
      "--clients", std::to_string(c),           "--log-file", logFile};
  for (const auto& h : headers) argv.insert(argv.end(), {"-H", h});
  argv.push_back(url);
  auto start = Clock::now();
  int rc = runCommand(argv, &out);
  l.wall = std::chrono::duration<double>(Clock::now() - start).count();
  auto fin = out.find("finished in ");
  if (rc != 0 || fin == std::string::npos) {
    l.error = "h2load exited " + std::to_string(rc) + ": " + out.substr(0, 600);
    l.latency.failures = n;
    return l;
  }
  auto comma = out.find(", ", fin);
  if (comma != std::string::npos) l.rps = std::strtod(out.c_str() + comma + 2, nullptr);
  // Tab-separated: start (us since epoch), status, microseconds to the end of the response.
  std::ifstream in(logFile);
  std::vector<double> us;
  long startUs, status, took;
  while (in >> startUs >> status >> took)
    if (status == 200) us.push_back(static_cast<double>(took));
  l.ok = static_cast<long>(us.size());
  // Failures: any other status, and requests h2load never logged.
  l.latency = percentiles(std::move(us), n - static_cast<int>(l.ok));
  return l;
}

// curl from inside `from`: "CODE BYTES" (status and body size), or curl's error.
std::string curlFrom(const Pod& from, std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "nsenter", "--net=" + from.netnsPath(),    "curl", "-sS", "-k", "--max-time", "5", "-o", "/dev/null",
      "-w",      "%{http_code} %{size_download}"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  runCommand(argv, &out);
  return out;
}

bool tunnelKnowsWaypoint(TestNode& node) {
  auto r = httpRequest("/var/run/netns/" + node.nodeNetns(), "GET", "/config_dump", 15000);
  auto dump = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || dump.is_discarded()) return false;
  int pods = 0;
  for (const auto& w : dump["state"]["workloads"])
    pods += w.value("name", "") == "checkout" || w.value("name", "") == "waypoint" || w.value("name", "") == "ledger";
  return pods == 3;
}

// /proc/<pid>/status's "Threads:" (a number field, read as the kB ones are).
long threadCount(pid_t pid) { return bench::rssKb(pid, "Threads:"); }

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--verbose") {
      o.verbose = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) return false;
    if (k == "--waypoint-log-level") {
      o.waypointLogLevel = argv[i + 1];
      continue;
    }
    if (k == "--jwt-cache-size") {
      o.jwtCacheSize = argv[i + 1];
      continue;
    }
    int v = std::atoi(argv[i + 1]);
    if (v <= 0) return false;
    if (k == "--requests")
      o.requests = v;
    else if (k == "--clients")
      o.clients = v;
    else if (k == "--warmup")
      o.warmup = v;
    else if (k == "--body-bytes")
      o.bodyBytes = v;
    else
      return false;
  }
  return o.clients <= o.requests && o.clients <= o.warmup;
}

// "1.23 0.98 0.80": the 1, 5 and 15 minute load averages.
std::string loadAverages() {
  double a[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &a[0], &a[1], &a[2]) != 3) a[0] = a[1] = a[2] = 0;
    std::fclose(f);
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a[0], a[1], a[2]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: warren-waypoint-bench [--requests N] [--clients C] [--warmup N] [--body-bytes B] "
                 "[--waypoint-log-level L] [--verbose]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "warren-waypoint-bench: run as root (it builds two nodes of namespaces)\n");
    return 1;
  }
  TempDir tmp;
  if (tmp.path.empty()) {
    std::fprintf(stderr, "cannot make a temporary directory\n");
    return 1;
  }
  // HAProxy's certificate: P-256, as Warren's workload certificates.
  const std::string pem = tmp.path + "/haproxy.pem";
  {
    std::string out;
    if (runCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", tmp.path + "/key.pem", "-out", tmp.path + "/cert.pem", "-days", "1", "-subj",
                    "/CN=ledger.bench", "-addext", "subjectAltName=IP:" + std::string(kHaproxyIp)},
                   &out) != 0) {
      std::fprintf(stderr, "openssl failed: %s\n", out.c_str());
      return 1;
    }
    std::ofstream(pem) << std::ifstream(tmp.path + "/cert.pem").rdbuf() << std::ifstream(tmp.path + "/key.pem").rdbuf();
    std::ofstream(tmp.path + "/haproxy.cfg")
        << haproxyConfig(std::string(kHaproxyIp) + ":" + std::to_string(kHaproxyPort) + " ssl crt " + pem +
                             " ssl-min-ver TLSv1.3 alpn http/1.1",
                         "10.244.2.21");
    std::ofstream(tmp.path + "/haproxy-mesh.cfg")
        << haproxyConfig(std::string(kMeshHaproxyIp) + ":" + std::to_string(kMeshHaproxyPort), "10.244.2.22");
  }

  TestCluster cluster;
  TestNode& n1 = cluster.node(0);
  TestNode& n2 = cluster.node(1);
  n1.writeNamespace("payments", {{"warren.io/mode", "enabled"}, {"istio.io/use-waypoint", "waypoint"}});
  n1.writeNamespace("plain", {});
  n1.writeNamespace("l4", {{"warren.io/mode", "enabled"}});
  n1.writeFile("payments.yaml", kWaypointCluster);
  const Idp idp;
  n1.writeFile("customers.yaml", idp.yaml());
  if (auto st = cluster.start(); !st) {
    std::fprintf(stderr, "cannot start the cluster: %s\n", st.error().message.c_str());
    return 1;
  }
  int rc = 0;
  Pod checkout = n1.addPod("payments", "checkout", "10.244.1.10", {}, &rc);
  Pod waypointPod =
      n1.addPod("payments", "waypoint", "10.244.1.50", {{"gateway.networking.k8s.io/gateway-name", "waypoint"}}, &rc);
  Pod loader = n1.addPod("plain", "loader", "10.244.1.12", {}, &rc);
  Pod haproxyPod = n1.addPod("plain", "haproxy", kHaproxyIp, {}, &rc);
  Pod meshHaproxyPod = n1.addPod("l4", "haproxy", kMeshHaproxyIp, {}, &rc);
  Pod ledger = n2.addPod("payments", "ledger", "10.244.2.20", {{"app", "ledger"}}, &rc);
  Pod app = n2.addPod("plain", "app", "10.244.2.21", {}, &rc);
  Pod l4app = n2.addPod("l4", "app", "10.244.2.22", {}, &rc);
  if (rc != 0) {
    std::fprintf(stderr, "cannot make the pods:\n%s", cluster.logTails().c_str());
    return 1;
  }
  for (TestNode* n : {&n1, &n2})
    if (!eventually([&] { return tunnelKnowsWaypoint(*n); }, 15s)) {
      std::fprintf(stderr, "%s's tunnel does not know the waypoint:\n%s", n->name().c_str(),
                   n->logTail("tunnel").c_str());
      return 1;
    }
  std::vector<std::string> waypointArgs = {"--log-level", o.waypointLogLevel};
  if (!o.jwtCacheSize.empty()) waypointArgs.insert(waypointArgs.end(), {"--jwt-cache-size", o.jwtCacheSize});
  if (auto st = n1.startWaypoint(waypointPod, "payments/waypoint", waypointArgs); !st) {
    std::fprintf(stderr, "cannot start the waypoint: %s\n", st.error().message.c_str());
    return 1;
  }
  std::vector<std::unique_ptr<Process>> apps;
  for (const Pod* p : {&ledger, &app, &l4app}) {
    auto s = Process::spawnWatched({"nsenter", "--net=" + p->netnsPath(), n2.binPath("warren-demo-app"), "http", "8080",
                                    std::to_string(o.bodyBytes)},
                                   tmp.path + "/app-" + p->ns + "-" + p->name + ".log", "listening on", 10s);
    if (!s) {
      std::fprintf(stderr, "cannot start the app in %s: %s\n", p->name.c_str(), s.error().message.c_str());
      return 1;
    }
    apps.push_back(std::move(*s));
  }
  // haproxy in the foreground (-db), owned by pid; it prints nothing when ready, so
  // readiness is a request through it. `name`: its config and log files' stem.
  auto startHaproxy = [&](const Pod& pod, const std::string& name) {
    auto p = Process::spawnWatched(
        {"nsenter", "--net=" + pod.netnsPath(), "haproxy", "-db", "-f", tmp.path + "/" + name + ".cfg"},
        tmp.path + "/" + name + ".log", "", 10s);
    if (!p) std::fprintf(stderr, "cannot start %s: %s\n", name.c_str(), p.error().message.c_str());
    return p;
  };
  auto haproxy = startHaproxy(haproxyPod, "haproxy");
  auto meshHaproxy = startHaproxy(meshHaproxyPod, "haproxy-mesh");
  if (!haproxy || !meshHaproxy) return 1;
  const std::string meshHaproxyBase = "http://" + std::string(kMeshHaproxyIp) + ":" + std::to_string(kMeshHaproxyPort);
  const std::string haproxyBase = "https://" + std::string(kHaproxyIp) + ":" + std::to_string(kHaproxyPort);
  const std::string okReply = "200 " + std::to_string(o.bodyBytes);

  struct Path {
    const char* name;
    const Pod& from;
    std::string url;                   // what h2load and curl ask for: GET /balance/1
    std::string deniedUrl;             // POST here must get 403 (empty: no proxy)
    pid_t proxy;                       // 0: no proxy
    std::vector<std::string> headers;  // sent with every request
    Load load;
    double proxyCpu = 0, tunnelCpu[2] = {0, 0};
    long rssIdleKb = 0, rssKb = 0, hwmKb = 0, threads = 0;
    std::string denied;
    Path(const char* n, const Pod& f, std::string u, std::string du, pid_t px, std::vector<std::string> hs = {})
        : name(n), from(f), url(std::move(u)), deniedUrl(std::move(du)), proxy(px), headers(std::move(hs)) {}
  } paths[] = {
      {"direct", loader, "http://" + app.ip + ":8080/balance/1", "", 0},
      {"mesh-l4", checkout, "http://" + l4app.ip + ":8080/balance/1", "", 0},
      {"warren", checkout, "http://" + std::string(kVip) + "/balance/1", "http://" + std::string(kVip) + "/admin/users",
       n1.waypoint()->pid()},
      {"haproxy", loader, haproxyBase + "/balance/1", haproxyBase + "/admin/users", (*haproxy)->pid()},
      {"w+RS256",
       checkout,
       "http://" + std::string(kVip) + "/balance/1",
       "",
       n1.waypoint()->pid(),
       {"authorization: Bearer " + idp.token(idp.rsa, "RS256", "rsa-1")}},
      {"w+ES256",
       checkout,
       "http://" + std::string(kVip) + "/balance/1",
       "",
       n1.waypoint()->pid(),
       {"authorization: Bearer " + idp.token(idp.ec, "ES256", "ec-1")}},
      {"hap-mesh", checkout, meshHaproxyBase + "/balance/1", meshHaproxyBase + "/admin/users", (*meshHaproxy)->pid()},
  };
  // Every path answers GET /balance/1 with the full body before any load.
  for (const Path& p : paths) {
    std::string last;
    std::vector<std::string> args;
    for (const auto& h : p.headers) args.insert(args.end(), {"-H", h});
    args.push_back(p.url);
    if (!eventually([&] { return (last = curlFrom(p.from, args)) == okReply; }, 10s)) {
      std::fprintf(stderr, "%s: GET %s answered \"%s\", not \"%s\"\n", p.name, p.url.c_str(), last.c_str(),
                   okReply.c_str());
      if (p.proxy == n1.waypoint()->pid())
        std::fprintf(stderr, "%s", n1.logTail("waypoint-waypoint").c_str());
      else if (p.proxy == (*haproxy)->pid())
        std::fprintf(stderr, "haproxy: %s\n", (*haproxy)->output().c_str());
      else if (p.proxy)
        std::fprintf(stderr, "haproxy in the mesh: %s\n%s", (*meshHaproxy)->output().c_str(),
                     n1.logTail("tunnel").c_str());
      return 1;
    }
  }

  std::printf(
      "Warren waypoint benchmark, two nodes (veth underlay), h2load --h1: %d requests (after %d warm-up) over "
      "%d keep-alive connections,\nGET /balance/1 with %d-byte responses; %ld CPUs shared by everything "
      "(load average at start: %s)\n\n",
      o.requests, o.warmup, o.clients, o.bodyBytes, sysconf(_SC_NPROCESSORS_ONLN), loadAverages().c_str());

  const pid_t tunnels[2] = {n1.tunnel()->pid(), n2.tunnel()->pid()};
  for (Path& p : paths) {
    if (p.proxy) p.rssIdleKb = bench::rssKb(p.proxy, "VmRSS:");
    Load warm = h2load(p.from, p.url, p.headers, o.warmup, o.clients, tmp.path + "/h2load-" + p.name + "-warmup.log");
    if (!warm.error.empty()) {
      std::fprintf(stderr, "%s warm-up: %s\n", p.name, warm.error.c_str());
      return 1;
    }
    double c0 = p.proxy ? bench::cpuSeconds(p.proxy) : 0;
    double t0[2] = {bench::cpuSeconds(tunnels[0]), bench::cpuSeconds(tunnels[1])};
    p.load = h2load(p.from, p.url, p.headers, o.requests, o.clients, tmp.path + "/h2load-" + p.name + ".log");
    if (!p.load.error.empty()) {
      std::fprintf(stderr, "%s: %s\n", p.name, p.load.error.c_str());
      return 1;
    }
    if (p.proxy) {
      p.proxyCpu = bench::cpuSeconds(p.proxy) - c0;
      p.rssKb = bench::rssKb(p.proxy, "VmRSS:");
      p.hwmKb = bench::rssKb(p.proxy, "VmHWM:");
      p.threads = threadCount(p.proxy);
    }
    for (int i = 0; i < 2; ++i) p.tunnelCpu[i] = bench::cpuSeconds(tunnels[i]) - t0[i];
    // Like for like: the denied request gets a 403 from each proxy.
    if (!p.deniedUrl.empty()) p.denied = curlFrom(p.from, {"-X", "POST", "-d", "x=1", p.deniedUrl});
  }
  // The witnesses: no POST reached either app.
  size_t postsSeen = 0;
  for (auto& a : apps) postsSeen += a->output().find("http: POST") != std::string::npos;

  std::printf("%-8s %9s %9s %9s %8s %8s %6s %9s %9s %9s %8s %8s %8s\n", "path", "req/s", "p50", "p99", "+p50", "+p99",
              "fail", "proxy", "CPU s per", "vCPU per", "RSS", "peak RSS", "MB per");
  std::printf("%-8s %9s %9s %9s %8s %8s %6s %9s %9s %9s %8s %8s %8s\n", "", "", "(us)", "(us)", "(us)", "(us)", "",
              "CPU s", "1k req", "1k rps", "(MB)", "(MB)", "1k rps");
  const Path& d = paths[0];
  for (const Path& p : paths) {
    std::printf("%-8s %9.0f %9.0f %9.0f ", p.name, p.load.rps, p.load.latency.p50, p.load.latency.p99);
    if (&p == &d)
      std::printf("%8s %8s ", "-", "-");
    else
      std::printf("%+8.0f %+8.0f ", p.load.latency.p50 - d.load.latency.p50, p.load.latency.p99 - d.load.latency.p99);
    std::printf("%6d ", p.load.latency.failures);
    if (!p.proxy) {
      std::printf("%9s %9s %9s %8s %8s %8s\n", "-", "-", "-", "-", "-", "-");
      continue;
    }
    double perKReq = p.proxyCpu * 1000 / o.requests;
    double vcpuPerKRps = p.load.rps > 0 ? p.proxyCpu / p.load.wall / (p.load.rps / 1000) : 0;
    double mbPerKRps = p.load.rps > 0 ? p.hwmKb / 1024.0 / (p.load.rps / 1000) : 0;
    std::printf("%9.2f %9.3f %9.3f %8.1f %8.1f %8.2f\n", p.proxyCpu, perKReq, vcpuPerKRps, p.rssKb / 1024.0,
                p.hwmKb / 1024.0, mbPerKRps);
  }
  const Path& l4 = paths[1];
  const Path& w = paths[2];
  const Path& h = paths[3];
  double wTunnels = w.tunnelCpu[0] + w.tunnelCpu[1];
  std::printf("\ntunnels' CPU: warren run node1 %.2f s, node2 %.2f s; mesh-l4 run node1 %.2f s, node2 %.2f s\n",
              w.tunnelCpu[0], w.tunnelCpu[1], l4.tunnelCpu[0], l4.tunnelCpu[1]);
  std::printf(
      "warren, waypoint + both tunnels: %.3f CPU s per 1k requests (haproxy %.3f); against mesh-l4: "
      "%.0f%% of its req/s, p50 %+.0f us\n",
      (w.proxyCpu + wTunnels) * 1000 / o.requests, h.proxyCpu * 1000 / o.requests,
      l4.load.rps > 0 ? 100 * w.load.rps / l4.load.rps : 0, w.load.latency.p50 - l4.load.latency.p50);
  const Path& hm = paths[6];
  std::printf(
      "haproxy on the mesh path (hap-mesh: the same two tunnels and two mTLS hops): %.0f req/s, p50 %.0f us; "
      "haproxy + both tunnels %.3f CPU s per 1k requests; warren %.0f%% of its req/s\n",
      hm.load.rps, hm.load.latency.p50, (hm.proxyCpu + hm.tunnelCpu[0] + hm.tunnelCpu[1]) * 1000 / o.requests,
      hm.load.rps > 0 ? 100 * w.load.rps / hm.load.rps : 0);
  std::printf(
      "proxy RSS idle before load: waypoint %.1f MB, haproxy %.1f MB; threads after: waypoint %ld, haproxy %ld\n",
      w.rssIdleKb / 1024.0, h.rssIdleKb / 1024.0, w.threads, h.threads);
  std::printf("tunnel peak RSS: node1 %.1f MB, node2 %.1f MB\n", bench::rssKb(tunnels[0], "VmHWM:") / 1024.0,
              bench::rssKb(tunnels[1], "VmHWM:") / 1024.0);
  for (const Path* p : {&d, &h})
    if (p->tunnelCpu[0] + p->tunnelCpu[1] > 0.05)
      std::printf("(the %s run cost the tunnels %.2f CPU s: they were not idle)\n", p->name,
                  p->tunnelCpu[0] + p->tunnelCpu[1]);
  // JWT: each token path against the same path without a token, then what one
  // signature check costs in this process against one cache hit.
  const Path& rs = paths[4];
  const Path& es = paths[5];
  auto vcpu = [](const Path& p) { return p.load.rps > 0 ? p.proxyCpu / p.load.wall / (p.load.rps / 1000) : 0; };
  std::printf("\nJWT at the waypoint (RequestAuthentication, inline keys; verified-token cache %s):\n",
              o.jwtCacheSize == "0" ? "OFF (--jwt-cache-size 0)" : "on");
  for (const Path* p : {&rs, &es})
    std::printf(
        "  %s token: %8.0f req/s (%3.0f%% of no token), p50 %+.0f us, waypoint %.3f vCPU per 1k rps (no token "
        "%.3f)\n",
        p == &rs ? "RS256" : "ES256", p->load.rps, w.load.rps > 0 ? 100 * p->load.rps / w.load.rps : 0,
        p->load.latency.p50 - w.load.latency.p50, vcpu(*p), vcpu(w));
  {
    auto r = httpRequest(waypointPod.netnsPath(), "GET", "/config_dump", 15000);
    auto dump = nlohmann::json::parse(r.body, nullptr, false);
    if (!dump.is_discarded() && dump.contains("verified_token_cache"))
      std::printf("  waypoint's verified-token cache: %s\n", dump["verified_token_cache"].dump().c_str());
  }
  {
    jwt::JwtRule rule;
    rule.issuer = kIssuer;
    rule.audiences = {"ledger"};
    auto keys = jwt::parseJwks(idp.jwks().dump());
    if (keys) {
      auto set = std::make_shared<const jwt::KeySet>(std::move(*keys));
      const std::string rsTok = idp.token(idp.rsa, "RS256", "rsa-1"), esTok = idp.token(idp.ec, "ES256", "ec-1");
      const auto now = std::chrono::system_clock::now();
      bool allOk = true;
      const double rsUs = microsPerCall([&] { allOk &= jwt::verify(rule, *set, rsTok, now).ok(); });
      const double esUs = microsPerCall([&] { allOk &= jwt::verify(rule, *set, esTok, now).ok(); });
      jwt::VerifiedTokenCache cache;
      const double hitUs = microsPerCall([&] { allOk &= cache.verify(rule, set, esTok, now).ok(); });
      std::printf("  in process, one token judged: RS256 %.1f us, ES256 %.1f us, a cache hit %.2f us%s\n", rsUs, esUs,
                  hitUs, allOk ? "" : " (SOME FAILED TO VERIFY)");
    }
  }
  std::printf(
      "\ndenied POST /admin/users: waypoint \"%s\", haproxy \"%s\", haproxy in the mesh \"%s\" (status, body "
      "bytes); POSTs seen by the apps: %zu\n",
      w.denied.c_str(), h.denied.c_str(), hm.denied.c_str(), postsSeen);

  auto met = [](bool ok) { return ok ? "met" : "NOT met"; };
  double wVcpu = w.load.rps > 0 ? w.proxyCpu / w.load.wall / (w.load.rps / 1000) : 0;
  double hVcpu = h.load.rps > 0 ? h.proxyCpu / h.load.wall / (h.load.rps / 1000) : 0;
  double wMb = w.load.rps > 0 ? w.hwmKb / 1024.0 / (w.load.rps / 1000) : 0;
  double hMb = h.load.rps > 0 ? h.hwmKb / 1024.0 / (h.load.rps / 1000) : 0;
  std::printf("\naims (the issue):\n");
  std::printf("  waypoint req/s >= HAProxy's          %8.0f vs %8.0f (%.0f%%)   %s\n", w.load.rps, h.load.rps,
              h.load.rps > 0 ? 100 * w.load.rps / h.load.rps : 0, met(w.load.rps >= h.load.rps));
  std::printf("  <= 0.10 vCPU per 1000 req/s          %8.3f (haproxy %.3f)     %s\n", wVcpu, hVcpu, met(wVcpu <= 0.10));
  std::printf("  <= 20 MB per 1000 req/s (peak RSS)   %8.2f (haproxy %.2f)      %s\n", wMb, hMb, met(wMb <= 20));
  std::printf(
      "notes: warren's path has two mTLS hops and two tunnels (client side and app side), haproxy's one TLS "
      "hop;\n       the waypoint logs at %s (an access line per request at info, written in blocks each second), "
      "haproxy has no log.\n",
      o.waypointLogLevel.c_str());

  bool likeForLike = w.denied.rfind("403 ", 0) == 0 && h.denied.rfind("403 ", 0) == 0 &&
                     hm.denied.rfind("403 ", 0) == 0 && postsSeen == 0;
  if (!likeForLike) std::printf("\nNOT LIKE FOR LIKE: a denied request did not get 403 from every proxy\n");
  if (o.verbose) {
    // Everything but the access lines (one per request), then how many there were.
    std::printf("\n---- waypoint log ----\n");
    std::istringstream in(n1.readLog("waypoint-waypoint"));
    size_t accessLines = 0;
    for (std::string line; std::getline(in, line);)
      if (line.find(" access {") == std::string::npos)
        std::printf("%s\n", line.c_str());
      else
        ++accessLines;
    std::printf("(and %zu access lines)\n", accessLines);
    std::printf("\n---- haproxy output ----\n%s", (*haproxy)->output().c_str());
  }
  (*haproxy)->stop(SIGTERM);
  (*meshHaproxy)->stop(SIGTERM);
  bool failed = false;
  for (const Path& p : paths) failed |= p.load.latency.failures > 0;
  return likeForLike && !failed ? 0 : 1;
}
