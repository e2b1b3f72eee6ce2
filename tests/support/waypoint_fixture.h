#pragma once
// The two-node waypoint fixture the waypoint's e2e tests share:
//
//   node1: payments/checkout 10.244.1.10 (client)   payments/waypoint 10.244.1.50
//          (warren-waypoint, Gateway payments/waypoint, not captured)
//   node2: payments/ledger 10.244.2.20:8080 (app=ledger)
//   Service payments/ledger: 10.96.0.20:80 -> 8080; namespace payments uses the
//   waypoint (istio.io/use-waypoint), which takes all traffic (istio.io/waypoint-for).
//
//   checkout --HBONE--> waypoint (L7 policy) --HBONE--> ledger's tunnel (L4) --> app
//
// Derived fixtures change the cluster's YAML and the waypoint's flags.

#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/payments_waypoint_cluster.h"

namespace warren::e2e {

// The app: warren-demo-app's HTTP/1.1 server in ledger's netns. It prints one
// "http: METHOD target" line per request it receives: the witness of exactly what
// got past the waypoint.
using namespace std::chrono_literals;

class HttpApp {
 public:
  static std::unique_ptr<HttpApp> start(const TestNode& node, const Pod& pod, uint16_t port) {
    auto p = Process::spawnWatched(
        {"nsenter", "--net=" + pod.netnsPath(), node.binPath("warren-demo-app"), "http", std::to_string(port)},
        node.runDir() + "/app-" + pod.name + ".log", "listening on", 10s);
    if (!p) return nullptr;
    auto app = std::unique_ptr<HttpApp>(new HttpApp);
    app->proc_ = std::move(*p);
    return app;
  }
  std::vector<std::string> seen() { return linesAfter("http: "); }
  // The header lines ("name: value") of every request the app received, in order.
  std::vector<std::string> headersSeen() { return linesAfter("http-header: "); }
  // The trailer lines ("name: value") of every chunked request body it received, in order.
  std::vector<std::string> trailersSeen() { return linesAfter("http-trailer: "); }

 private:
  HttpApp() = default;
  // What follows `prefix` on each of the app's output lines that starts with it.
  std::vector<std::string> linesAfter(const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(proc_->output());
    for (std::string line; std::getline(in, line);)
      if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
    return out;
  }
  std::unique_ptr<Process> proc_;
};

class WaypointTest : public ::testing::Test {
 protected:
  // What a derived fixture changes: the cluster's YAML and the waypoint's flags.
  virtual std::string clusterYaml() { return kWaypointCluster; }
  virtual std::vector<std::string> waypointArgs() { return {"--request-head-timeout", "1500"}; }
  // Runs before the waypoint starts (e.g. a server the waypoint needs).
  virtual void beforeWaypoint() {}

  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>();
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("payments", {{"warren.io/mode", "enabled"}, {"istio.io/use-waypoint", "waypoint"}});
    node(0).writeFile("payments.yaml", clusterYaml());
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    checkout_ = node(0).addPod("payments", "checkout", "10.244.1.10");
    waypoint_ =
        node(0).addPod("payments", "waypoint", "10.244.1.50", {{"gateway.networking.k8s.io/gateway-name", "waypoint"}});
    ledger_ = node(1).addPod("payments", "ledger", "10.244.2.20", {{"app", "ledger"}});
    ASSERT_FALSE(HasFailure());
    EXPECT_FALSE(isEnrolled(node(0).pinRoot(), waypoint_.netnsPath())) << "a waypoint's pod is never captured";
    // Both tunnels route by the state that has all three pods and the waypoint:
    // waited for on the admin config dump, not on log wording.
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return tunnelKnowsWaypoint(i); }, 10s)) << node(i).logTail("tunnel");
    beforeWaypoint();
    ASSERT_FALSE(HasFailure());
    auto wp = node(0).startWaypoint(waypoint_, "payments/waypoint", waypointArgs());
    ASSERT_TRUE(wp.ok()) << wp.error().message;
    app_ = HttpApp::start(node(1), ledger_, 8080);
    ASSERT_TRUE(app_);
  }

  void TearDown() override {
    if (HasFailure() && cluster_) {
      std::cerr << cluster_->logTails(40) << "\n--- waypoint ---\n" << node(0).logTail("waypoint-waypoint", 60);
    }
    app_.reset();
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }

  bool tunnelKnowsWaypoint(size_t i) {
    auto r = httpRequest("/var/run/netns/" + node(i).nodeNetns(), "GET", "/config_dump", 15000);
    auto dump = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || dump.is_discarded()) return false;
    int pods = 0;
    for (const auto& w : dump["state"]["workloads"])
      pods += w.value("name", "") == "checkout" || w.value("name", "") == "waypoint" || w.value("name", "") == "ledger";
    return pods == 3;
  }

  // curl in the checkout pod; returns its stdout (bodies, then each -w line).
  std::string curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"nsenter", "--net=" + checkout_.netnsPath(), "curl", "-sS", "--max-time", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    lastCurlStatus_ = runCommand(argv, &out);
    return out;
  }

  // Any command in the checkout pod's network namespace; returns its output.
  std::string inCheckout(std::vector<std::string> args, int* rc = nullptr) {
    std::vector<std::string> argv = {"nsenter", "--net=" + checkout_.netnsPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    int status = runCommand(argv, &out);
    if (rc) *rc = status;
    return out;
  }

  std::vector<nlohmann::json> waypointAccessLog() {
    std::vector<nlohmann::json> out;
    std::istringstream in(node(0).readLog("waypoint-waypoint"));
    for (std::string line; std::getline(in, line);) {
      auto pos = line.find("access {");
      if (pos == std::string::npos) continue;
      auto j = nlohmann::json::parse(line.substr(pos + 7), nullptr, false);
      if (!j.is_discarded()) out.push_back(j);
    }
    return out;
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<HttpApp> app_;
  Pod checkout_, waypoint_, ledger_;
  int lastCurlStatus_ = 0;
};

}  // namespace warren::e2e
