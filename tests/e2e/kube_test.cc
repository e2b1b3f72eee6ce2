// Enrollment with the cluster read from the Kubernetes API (warren-agent
// --kubeconfig), on one node of network namespaces. The API is a test server in
// this process speaking the real protocol (tests/support/kube_api_server.h);
// the pods are made by the real CNI plugins with warren-cni chained, as a
// container runtime runs them.
//
// On a real cluster the kubelet writes a Pod's status.podIP only after the
// sandbox's CNI ADD returns, and the agent's watch may deliver a new Pod after
// its ADD arrives. Either way a pod of a capturing namespace must be captured
// before its ADD succeeds, or the ADD must fail (the kubelet then retries).

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <algorithm>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "identity/local_ca.h"
#include "tests/support/cluster.h"
#include "tests/support/kube_api_server.h"
#include "tests/support/test_certs.h"
#include "tests/support/waypoint_fixture.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;
using testkube::KubeApiServer;
using Requests = std::vector<KubeApiServer::Request>;

nlohmann::json namespaceObject(const std::string& name, const std::map<std::string, std::string>& labels) {
  nlohmann::json ns = {
      {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}, {"uid", "ns-" + name}}}};
  if (!labels.empty()) ns["metadata"]["labels"] = labels;
  ns["status"] = {{"phase", "Active"}};
  return ns;
}

// A Pod as the API has it when the kubelet asks for its sandbox: scheduled to
// the node, Pending, no IP yet.
nlohmann::json pendingPod(const Pod& pod, const std::string& node) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"uid", "uid-" + pod.ns + "-" + pod.name}}},
          {"spec",
           {{"nodeName", node},
            {"serviceAccountName", pod.serviceAccount},
            {"containers", nlohmann::json::array({{{"name", "app"}, {"image", "registry.example/app:1"}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

nlohmann::json runningPod(const Pod& pod, const std::string& node, const std::string& ip) {
  nlohmann::json p = pendingPod(pod, node);
  p["status"] = {{"phase", "Running"}, {"podIP", ip}, {"podIPs", nlohmann::json::array({{{"ip", ip}}})}};
  return p;
}

class KubeEnrollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    startApi();
    if (!HasFailure()) startNode();
  }

  void startApi() {
    // OpenSSL writes with write(2): a client that went away must be an error.
    ::signal(SIGPIPE, SIG_IGN);
    auto ca = identity::LocalCa::open(dir_.file("ca"), "cluster.local");
    ASSERT_TRUE(ca) << ca.error().message;
    auto cert = testcerts::issueCert(dir_.file("ca"), {"IP:127.0.0.1"}, dir_.path(), "apiserver");
    ASSERT_TRUE(cert) << cert.error().message;
    api_ = std::make_unique<KubeApiServer>(cert->chain, cert->key, "agent-token");
    writeText(dir_.file("token"), "agent-token\n");
    writeText(dir_.file("kubeconfig"),
              "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
              "contexts: [{name: test, context: {cluster: c, user: agent}}]\n"
              "clusters: [{name: c, cluster: {server: '" +
                  api_->url() + "', certificate-authority: '" + cert->root +
                  "'}}]\n"
                  "users: [{name: agent, user: {tokenFile: '" +
                  dir_.file("token") + "'}}]\n");
    api_->upsert("namespaces", namespaceObject("mesh", {{"warren.io/mode", "enabled"}}));
    api_->upsert("namespaces", namespaceObject("plain", {}));
    api_->upsert("namespaces", namespaceObject("kube-system", {{"warren.io/mode", "enabled"}}));
    NodeOptions options;
    options.kubeconfig = dir_.file("kubeconfig");
    node_ = std::make_unique<TestNode>(options);
    // The tunnel runs in the node's netns (as a hostNetwork pod on the node): the
    // API answers there too, at the same URL.
    api_->listenIn("/var/run/netns/" + node_->nodeNetns());
  }

  void startNode() {
    ASSERT_TRUE(node_->startAgent().ok()) << node_->logTail("agent");
    ASSERT_TRUE(node_->startTunnel().ok()) << node_->logTail("tunnel");
    // The agent and the tunnel watching both resources: from here on, what the
    // test changes reaches them by the watch (unless the test holds it back).
    ASSERT_TRUE(api_->waitWatching("pods", 2) && api_->waitWatching("namespaces", 2));
    ASSERT_TRUE(api_->waitWatching("services") && api_->waitWatching("authorizationpolicies"));
  }

  void TearDown() override {
    if (HasFailure() && node_)
      std::cerr << "---- agent log ----\n"
                << node_->logTail("agent", 80) << "---- tunnel log ----\n"
                << node_->logTail("tunnel", 80);
    node_.reset();  // CNI DEL of every pod while the agent still runs, then the agent
    api_.reset();
  }

  static void writeText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

  size_t podGets(const std::string& key) {
    auto rs = api_->requests();
    return static_cast<size_t>(std::count_if(rs.begin(), rs.end(), [&](const KubeApiServer::Request& r) {
      return r.method == "GET" && r.resource == "pods" && r.name == key;
    }));
  }

  testcerts::TempDir dir_;
  std::unique_ptr<KubeApiServer> api_;
  std::unique_ptr<TestNode> node_;
};

TEST_F(KubeEnrollTest, APodWithoutAnIpYetIsCapturedBeforeItsAddReturns) {
  Pod a = node_->preparePod("mesh", "a1", "10.244.1.31");
  const std::string rv = api_->upsert("pods", pendingPod(a, node_->name()));
  ASSERT_TRUE(api_->waitDelivered("pods", rv));
  std::string out;
  ASSERT_EQ(node_->cni("add", a, &out), 0) << out;
  // Captured when ADD returned, not later when the kubelet writes status.podIP.
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  std::string maps;
  ASSERT_EQ(node_->warrenctl({"-j", "pod", "list"}, &maps), 0) << maps;
  EXPECT_NE(maps.find("10.244.1.31"), std::string::npos) << "enrolled with the runtime's address: " << maps;

  // The kubelet then writes the same address: nothing changes.
  api_->upsert("pods", runningPod(a, node_->name(), "10.244.1.31"));
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
}

TEST_F(KubeEnrollTest, APodTheWatchHasNotDeliveredIsFetchedFromTheApi) {
  api_->holdWatches("pods", true);
  Pod a = node_->preparePod("mesh", "a2", "10.244.1.32");
  api_->upsert("pods", pendingPod(a, node_->name()));
  std::string out;
  ASSERT_EQ(node_->cni("add", a, &out), 0) << out;
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  EXPECT_GE(podGets("mesh/a2"), 1u);
  // The watch catching up later changes nothing; nor do the agent's resyncs meanwhile.
  api_->holdWatches("pods", false);
  const std::string rv = api_->bookmark("pods");
  ASSERT_TRUE(api_->waitDelivered("pods", rv));
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
}

TEST_F(KubeEnrollTest, AnAddForAPodTheApiDoesNotKnowFailsOnlyInACapturingNamespace) {
  Pod ghost = node_->preparePod("mesh", "ghost", "10.244.1.33");
  std::string out;
  EXPECT_NE(node_->cni("add", ghost, &out), 0) << out;
  EXPECT_NE(out.find("\"code\":11"), std::string::npos) << out;
  EXPECT_NE(out.find("pod mesh/ghost is not in the cluster view, and namespace mesh captures"), std::string::npos)
      << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), ghost.netnsPath()));

  EXPECT_GE(podGets("mesh/ghost"), 1u);  // the API was asked before the ADD was refused

  // Another namespace's pod is never held up, known or not, nor waits for the API.
  Pod plain = node_->preparePod("plain", "p1", "10.244.1.34");
  EXPECT_EQ(node_->cni("add", plain, &out), 0) << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), plain.netnsPath()));
  EXPECT_EQ(podGets("plain/p1"), 0u);
  // Nor is kube-system's, even labelled for capture (the CNI's alwaysPass).
  Pod dns = node_->preparePod("kube-system", "coredns", "10.244.1.35");
  EXPECT_EQ(node_->cni("add", dns, &out), 0) << out;
}

TEST_F(KubeEnrollTest, AnApiThatCannotAnswerFailsTheAddAndTheRetrySucceeds) {
  api_->holdWatches("pods", true);
  Pod a = node_->preparePod("mesh", "a3", "10.244.1.36");
  api_->upsert("pods", pendingPod(a, node_->name()));
  api_->failNext("pods", 100, 503);
  std::string out;
  EXPECT_NE(node_->cni("add", a, &out), 0) << out;
  EXPECT_NE(out.find("the API could not be asked"), std::string::npos) << out;
  EXPECT_NE(out.find("503"), std::string::npos) << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), a.netnsPath()));

  // The runtime tears the sandbox down and the kubelet tries again, by then
  // with an API that answers.
  ASSERT_EQ(node_->cni("del", a, &out), 0) << out;
  api_->failNext("pods", 0, 503);
  ASSERT_EQ(node_->cni("add", a, &out), 0) << out;
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
}

TEST_F(KubeEnrollTest, APodWhoseAddressDisagreesWithTheRuntimeFailsItsAdd) {
  Pod a = node_->preparePod("mesh", "a4", "10.244.1.37");
  const std::string rv = api_->upsert("pods", runningPod(a, node_->name(), "10.244.1.200"));
  ASSERT_TRUE(api_->waitDelivered("pods", rv));
  std::string out;
  EXPECT_NE(node_->cni("add", a, &out), 0) << out;
  EXPECT_NE(out.find("the runtime assigned 10.244.1.37 but the Pod says 10.244.1.200"), std::string::npos) << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), a.netnsPath()));
}

TEST_F(KubeEnrollTest, APodOfANamespaceTheWatchHasNotDeliveredWaitsForIt) {
  api_->holdWatches("namespaces", true);
  api_->holdWatches("pods", true);
  api_->upsert("namespaces", namespaceObject("fresh", {{"istio.io/dataplane-mode", "ambient"}}));
  Pod a = node_->preparePod("fresh", "f1", "10.244.1.38");
  api_->upsert("pods", pendingPod(a, node_->name()));
  std::string out;
  ASSERT_EQ(node_->cni("add", a, &out), 0) << out;
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
}

// A pod deleted and made again under the same name (a StatefulSet's) while the
// agent's watch still shows the old object: its ADD carries the new uid
// (K8S_POD_UID), and the old object's identity must not be enrolled for it.
TEST_F(KubeEnrollTest, APodMadeAgainUnderTheSameNameIsEnrolledAsTheNewObjectOrNotAtAll) {
  Pod a = node_->preparePod("mesh", "r1", "10.244.1.42");
  nlohmann::json old = pendingPod(a, node_->name());
  old["metadata"]["uid"] = "uid-before";
  old["spec"]["serviceAccountName"] = "old-sa";
  ASSERT_TRUE(api_->waitDelivered("pods", api_->upsert("pods", old)));
  api_->holdWatches("pods", true);
  api_->remove("pods", "mesh/r1");
  api_->upsert("pods", pendingPod(a, node_->name()));  // uid-mesh-r1, as warren-cnirun passes

  // The API cannot answer: the stale object is no answer either, so the ADD fails.
  api_->failNext("pods", 100, 503);
  std::string out;
  EXPECT_NE(node_->cni("add", a, &out), 0) << out;
  EXPECT_NE(out.find("pod mesh/r1 (uid uid-mesh-r1) is not in the cluster view, which holds an earlier pod of that "
                     "name (uid uid-before)"),
            std::string::npos)
      << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  ASSERT_EQ(node_->cni("del", a, &out), 0) << out;

  // The retry: the API has the new object, and its identity is the one enrolled.
  api_->failNext("pods", 0, 503);
  ASSERT_EQ(node_->cni("add", a, &out), 0) << out;
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  std::string maps;
  ASSERT_EQ(node_->warrenctl({"-j", "pod", "list"}, &maps), 0) << maps;
  EXPECT_NE(maps.find("uid-mesh-r1"), std::string::npos) << maps;
  EXPECT_NE(maps.find(a.serviceAccount), std::string::npos) << maps;
  EXPECT_EQ(maps.find("uid-before"), std::string::npos) << maps;
  EXPECT_EQ(maps.find("old-sa"), std::string::npos) << maps;

  // The watch catching up changes nothing.
  api_->holdWatches("pods", false);
  ASSERT_TRUE(api_->waitDelivered("pods", api_->bookmark("pods")));
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
}

// ---- ambient.istio.io/redirection: istiod sends HBONE only to pods that carry it ----

const char* kRedirection = "ambient.istio.io/redirection";

bool annotated(const nlohmann::json& pod) {
  return pod.contains("metadata") && pod["metadata"].contains("annotations") &&
         pod["metadata"]["annotations"].value(kRedirection, "") == "enabled";
}

auto patchesOf(const std::string& key, int status) {
  return [key, status](const Requests& rs) {
    return static_cast<int>(std::count_if(rs.begin(), rs.end(), [&](const KubeApiServer::Request& r) {
      return r.method == "PATCH" && r.name == key && r.status == status;
    }));
  };
}

// A pod of namespace mesh, its Pod delivered to the agent, its ADD done, and
// the agent's annotation set: the start of each annotation test.
Pod addAnnotatedPod(KubeApiServer& api, TestNode& node, const std::string& name, const std::string& ip) {
  Pod a = node.preparePod("mesh", name, ip);
  EXPECT_TRUE(api.waitDelivered("pods", api.upsert("pods", pendingPod(a, node.name()))));
  std::string out;
  EXPECT_EQ(node.cni("add", a, &out), 0) << out;
  EXPECT_TRUE(api.waitFor([&](const Requests& rs) { return patchesOf("mesh/" + name, 200)(rs) >= 1; }));
  return a;
}

TEST_F(KubeEnrollTest, ACapturedPodIsAnnotatedAndTheAnnotationGoesWhenItIsReleased) {
  Pod a = addAnnotatedPod(*api_, *node_, "a5", "10.244.1.39");
  ASSERT_FALSE(HasFailure());
  std::string out;
  nlohmann::json stored = api_->get("pods", "mesh/a5");
  EXPECT_TRUE(annotated(stored)) << stored.dump();
  // A plain pod is never annotated.
  Pod p = node_->preparePod("plain", "p2", "10.244.1.40");
  ASSERT_TRUE(api_->waitDelivered("pods", api_->upsert("pods", pendingPod(p, node_->name()))));
  ASSERT_EQ(node_->cni("add", p, &out), 0) << out;

  // The pod opts out (its object as stored, with the annotation): released, and unannotated.
  stored["metadata"]["labels"]["warren.io/mode"] = "disabled";
  api_->upsert("pods", stored);
  ASSERT_TRUE(api_->waitFor([&](const Requests& rs) { return patchesOf("mesh/a5", 200)(rs) >= 2; }));
  EXPECT_FALSE(annotated(api_->get("pods", "mesh/a5"))) << api_->get("pods", "mesh/a5").dump();
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  const Requests rs = api_->requests();
  EXPECT_EQ(
      std::count_if(rs.begin(), rs.end(), [](const auto& r) { return r.name == "plain/p2" && r.method == "PATCH"; }),
      0);
}

TEST_F(KubeEnrollTest, AnAnnotationTheApiRefusesIsRetriedAndNeverHoldsThePodUp) {
  Pod a = node_->preparePod("mesh", "a6", "10.244.1.41");
  ASSERT_TRUE(api_->waitDelivered("pods", api_->upsert("pods", pendingPod(a, node_->name()))));
  api_->failNext("pods", 2, 500);
  std::string out;
  ASSERT_EQ(node_->cni("add", a, &out), 0) << out;
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  // Refused, then asked again at the agent's next resyncs until it is set.
  ASSERT_TRUE(api_->waitFor([&](const Requests& rs) {
    return patchesOf("mesh/a6", 500)(rs) == 2 && patchesOf("mesh/a6", 200)(rs) == 1;
  })) << node_->logTail("agent");
  EXPECT_TRUE(annotated(api_->get("pods", "mesh/a6")));
  EXPECT_NE(node_->readLog("agent").find("trying again at the next resync"), std::string::npos);
}

// The annotation set for the body of a PATCH: the merge patch istio-cni sends to remove it.
auto unannotations(const std::string& key) {
  return [key](const Requests& rs) {
    return static_cast<int>(std::count_if(rs.begin(), rs.end(), [&](const KubeApiServer::Request& r) {
      if (r.method != "PATCH" || r.name != key || r.status != 200) return false;
      auto patch = nlohmann::json::parse(r.body, nullptr, false);
      return r.contentType == "application/merge-patch+json" && patch.is_object() &&
             patch == nlohmann::json{{"metadata", {{"annotations", {{kRedirection, nullptr}}}}}};
    }));
  };
}

TEST_F(KubeEnrollTest, ACniDelRemovesTheAnnotation) {
  Pod a = addAnnotatedPod(*api_, *node_, "d1", "10.244.1.43");
  ASSERT_FALSE(HasFailure());
  std::string out;
  // Its echo in the view, so what follows is a removal of an annotation the agent sees.
  ASSERT_TRUE(api_->waitDelivered("pods", api_->bookmark("pods")));

  // The sandbox goes (a pod restarted, or deleted with its object kept by a finalizer).
  ASSERT_EQ(node_->cni("del", a, &out), 0) << out;
  ASSERT_TRUE(api_->waitFor([&](const Requests& rs) { return unannotations("mesh/d1")(rs) >= 1; }))
      << node_->logTail("agent");
  EXPECT_FALSE(annotated(api_->get("pods", "mesh/d1"))) << api_->get("pods", "mesh/d1").dump();
}

TEST_F(KubeEnrollTest, UninstallRemovesTheAnnotationFromThisNodesPodsOnly) {
  Pod a = addAnnotatedPod(*api_, *node_, "u1", "10.244.1.44");
  ASSERT_FALSE(HasFailure());
  std::string out;
  // Another node's pod, annotated by that node's agent: not ours to change.
  Pod other;  // never run here: no netns, no CNI call
  other.name = "elsewhere";
  other.ns = "mesh";
  other.serviceAccount = "sa-elsewhere";
  nlohmann::json otherObject = runningPod(other, "node2", "10.244.2.9");
  otherObject["metadata"]["annotations"] = {{kRedirection, "enabled"}};
  api_->upsert("pods", otherObject);

  // The agent stops (as at a DaemonSet's deletion), then `warren-agent --uninstall` runs.
  node_->stopAgent(SIGTERM);
  ASSERT_TRUE(isEnrolled(node_->pinRoot(), a.netnsPath())) << "capture stays while the agent is away";
  ASSERT_EQ(runCommand({node_->binPath("warren-agent"), "--uninstall", "--kubeconfig", dir_.file("kubeconfig"),
                        "--node", node_->name(), "--bpffs", node_->pinRoot()},
                       &out),
            0)
      << out;
  EXPECT_EQ(unannotations("mesh/u1")(api_->requests()), 1) << out;
  EXPECT_FALSE(annotated(api_->get("pods", "mesh/u1"))) << api_->get("pods", "mesh/u1").dump();
  EXPECT_TRUE(annotated(api_->get("pods", "mesh/elsewhere")));
  EXPECT_EQ(unannotations("mesh/elsewhere")(api_->requests()), 0);
  // The pod list it read was this node's.
  const Requests rs = api_->requests();
  EXPECT_TRUE(std::any_of(rs.begin(), rs.end(), [&](const KubeApiServer::Request& r) {
    return r.method == "GET" && r.resource == "pods" && !r.watch && r.name.empty() && r.query.count("fieldSelector") &&
           r.query.at("fieldSelector") == "spec.nodeName=" + node_->name() && r.authorization == "Bearer agent-token";
  }));
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), a.netnsPath())) << "and the programs are gone";

  // An API that refuses: the pins still go, and the exit status says what stayed.
  ASSERT_EQ(node_->startAgent().ok(), true) << node_->logTail("agent");
  ASSERT_TRUE(eventually([&] { return annotated(api_->get("pods", "mesh/u1")); }, 10s))
      << "the agent annotates the pod it captures again\n"
      << node_->logTail("agent");
  node_->stopAgent(SIGTERM);
  api_->forbid("pods", true);
  EXPECT_EQ(runCommand({node_->binPath("warren-agent"), "--uninstall", "--kubeconfig", dir_.file("kubeconfig"),
                        "--node", node_->name(), "--bpffs", node_->pinRoot()},
                       &out),
            1)
      << out;
  EXPECT_NE(out.find("remove it by hand"), std::string::npos) << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), a.netnsPath()));
  api_->forbid("pods", false);
  EXPECT_TRUE(node_->startAgent().ok()) << node_->logTail("agent");  // for the CNI DEL at teardown
}

// ---- pods that were running before the agent (Warren installed on a live cluster) ----
//
//   [pod netns "old"] eth0 10.244.1.50/24 ==veth== 10.244.1.1/24 [node netns]  server :8080
//        a process (sleep) lives in it; no CNI ADD ever happened
//
// The agent, started afterwards, finds the pod's netns among /proc/*/ns/net by
// its IP, and enrolls it before it says it is ready.
class KubeRunningPodTest : public KubeEnrollTest {
 protected:
  void SetUp() override {
    startApi();
    ASSERT_FALSE(HasFailure());
    old_ = node_->preparePod("mesh", "old", "10.244.1.50");
    const std::string veth = "wk" + std::to_string(::getpid());  // at most 15 bytes; the peer goes with the pod's netns
    const std::string nodeNs = "/var/run/netns/" + node_->nodeNetns();
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", old_.netnsName, "link", "add", "eth0", "type", "veth", "peer", "name", veth, "netns",
              node_->nodeNetns()},
             {"ip", "-n", old_.netnsName, "addr", "add", "10.244.1.50/24", "dev", "eth0"},
             {"ip", "-n", old_.netnsName, "link", "set", "eth0", "up"},
             {"ip", "-n", node_->nodeNetns(), "addr", "add", "10.244.1.1/24", "dev", veth},
             {"ip", "-n", node_->nodeNetns(), "link", "set", veth, "up"}}) {
      std::string out;
      ASSERT_EQ(runCommand(argv, &out), 0) << argv[3] << ": " << out;
    }
    // The pod's own process; the namespace is found through it.
    auto app = Process::spawnWatched({"nsenter", "--net=" + old_.netnsPath(), "sleep", "600"}, dir_.file("old-app.log"),
                                     "", 10s);
    ASSERT_TRUE(app) << app.error().message;
    app_ = std::move(*app);
    struct stat want {
    }, got{};
    ASSERT_EQ(::stat(old_.netnsPath().c_str(), &want), 0);
    const std::string procNs = "/proc/" + std::to_string(app_->pid()) + "/ns/net";
    ASSERT_TRUE(eventually([&] { return ::stat(procNs.c_str(), &got) == 0 && got.st_ino == want.st_ino; }, 5s));
    server_ = PodServer::start(nodeNs, 8080);
    ASSERT_TRUE(server_);
    api_->upsert("pods", runningPod(old_, node_->name(), "10.244.1.50"));
    startNode();
  }
  void TearDown() override {
    KubeEnrollTest::TearDown();
    server_.reset();
    app_.reset();
  }

  Pod old_;
  std::unique_ptr<Process> app_;
  std::unique_ptr<PodServer> server_;
};

TEST_F(KubeRunningPodTest, APodRunningBeforeTheAgentIsFoundByItsIpAndCaptured) {
  // Enrolled by the time the agent said it was ready, without any CNI ADD.
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), old_.netnsPath()));
  std::string maps;
  ASSERT_EQ(node_->warrenctl({"-j", "pod", "list"}, &maps), 0) << maps;
  EXPECT_NE(maps.find("\"old\""), std::string::npos) << maps;
  EXPECT_NE(maps.find("10.244.1.50"), std::string::npos) << maps;

  // Its connections go through the tunnel now.
  ConnectResult r;
  ASSERT_TRUE(eventually(
      [&] {
        r = connectFrom(old_.netnsPath(), "10.244.1.1", 8080, "captured-since-start", 2s);
        return r.error == 0;
      },
      10s))
      << std::strerror(r.error) << "\n"
      << node_->logTail("tunnel");
  EXPECT_EQ(r.reply, "captured-since-start");
  EXPECT_GE(podCounters(node_->pinRoot(), old_.netnsPath()).capturedOut, 1u);
  // And istiod is told, as for any captured pod.
  ASSERT_TRUE(api_->waitFor([&](const Requests& rs) { return patchesOf("mesh/old", 200)(rs) >= 1; }));
  EXPECT_TRUE(annotated(api_->get("pods", "mesh/old")));
}

// ---- the tunnel's standalone mode: its whole state from the API ----
//
//   [mesh/client 10.244.1.61] --captured--> tunnel --HBONE--> tunnel --> [mesh/server 10.244.1.62 :8080]
//   Service mesh/server 10.96.0.20:80 -> 8080, AuthorizationPolicy mesh/deny-client later
//
// The tunnel runs with --kubeconfig and no YAML at all: Pods, the Service and
// the policy reach it only as the API server's list and watch events.

nlohmann::json serviceObject() {
  return nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "server", "namespace": "mesh", "uid": "svc-server", "creationTimestamp": "2026-12-05T10:00:00Z"},
    "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"], "ipFamilies": ["IPv4"],
             "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
             "type": "ClusterIP", "selector": {"app": "server"},
             "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
    "status": {"loadBalancer": {}}})");
}

nlohmann::json denyPolicy(const std::string& principal) {
  nlohmann::json p = nlohmann::json::parse(R"({
    "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "deny-client", "namespace": "mesh", "uid": "ap-deny-client", "generation": 1,
                 "creationTimestamp": "2026-12-05T10:05:00Z"},
    "spec": {"action": "DENY", "selector": {"matchLabels": {"app": "server"}}}})");
  p["spec"]["rules"] =
      nlohmann::json::array({{{"from", nlohmann::json::array({{{"source", {{"principals", {principal}}}}}})}}});
  return p;
}

TEST_F(KubeEnrollTest, TheTunnelTakesItsStateFromTheApiAndAPolicyAddedThereRefusesTheNextConnection) {
  Pod client = node_->preparePod("mesh", "client", "10.244.1.61");
  Pod server = node_->preparePod("mesh", "server", "10.244.1.62");
  api_->upsert("services", serviceObject());
  api_->upsert("pods", runningPod(client, node_->name(), client.ip));
  nlohmann::json serverObject = runningPod(server, node_->name(), server.ip);
  serverObject["metadata"]["labels"] = {{"app", "server"}};
  ASSERT_TRUE(api_->waitDelivered("pods", api_->upsert("pods", serverObject)));
  std::string out;
  ASSERT_EQ(node_->cni("add", client, &out), 0) << out;
  ASSERT_EQ(node_->cni("add", server, &out), 0) << out;
  ASSERT_TRUE(eventually([&] { return node_->tunnelStateIs({.workloads = 2, .captured = 2, .services = 1}); }, 10s))
      << node_->logTail("tunnel");
  auto app = PodServer::start(server.netnsPath(), 8080);
  ASSERT_TRUE(app);

  // Allowed, through the Service the API has, over HBONE with the client's identity.
  auto r = connectFrom(client.netnsPath(), "10.96.0.20", 80, "through the mesh");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error) << "\n" << node_->logTail("tunnel");
  EXPECT_EQ(r.reply, "through the mesh");
  const std::string clientId = "spiffe://cluster.local/ns/mesh/sa/" + client.serviceAccount;
  nlohmann::json outbound, inbound;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& j : accessLog(*node_)) {
          if (j["direction"] == "outbound" && j["dst_service"] == "server.mesh.svc.cluster.local") outbound = j;
          if (j["direction"] == "inbound" && j["src_identity"] == clientId) inbound = j;
        }
        return !outbound.is_null() && !inbound.is_null();
      },
      5s))
      << node_->logTail("tunnel");
  EXPECT_EQ(outbound["protocol"], "hbone");
  EXPECT_EQ(inbound["verdict"], "allow");

  // A DENY for the client's principal, added through the API: the next connection is refused.
  api_->upsert("authorizationpolicies", denyPolicy("cluster.local/ns/mesh/sa/" + client.serviceAccount));
  bool refused = false;
  const auto added = std::chrono::steady_clock::now();
  while (!refused && std::chrono::steady_clock::now() - added < 10s) {
    auto next = connectFrom(client.netnsPath(), "10.96.0.20", 80, "again", 1s);
    refused = next.error != 0 && next.reply.empty();
  }
  ASSERT_TRUE(refused) << "the DENY policy from the API never took effect\n" << node_->logTail("tunnel");
  const auto tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - added);
  RecordProperty("api_policy_to_refusal_ms", std::to_string(tookMs.count()));
  std::cout << "policy added through the API -> a connection refused: " << tookMs.count() << " ms\n";
  // (That one may have been open when the policy came, and closed by it.) The
  // next is refused at its CONNECT, by that policy.
  auto next = connectFrom(client.netnsPath(), "10.96.0.20", 80, "once more", 1s);
  EXPECT_TRUE(next.error != 0 && next.reply.empty()) << next.reply;
  bool denied = false;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& j : accessLog(*node_))
          denied = denied || (j["direction"] == "inbound" && j["src_identity"] == clientId && j["verdict"] == "deny" &&
                              j["policy"] == "mesh/deny-client");
        return denied;
      },
      5s));
  // The tunnel read no YAML: the source it names is the API.
  EXPECT_NE(node_->readLog("tunnel").find("cluster state Kubernetes API"), std::string::npos);
}

// ---- a waypoint on a cluster: its L7 policies from the API ----
//
//   [mesh/checkout 10.244.1.71] --HBONE--> [mesh/waypoint 10.244.1.73, warren-waypoint --kubeconfig]
//        --HBONE--> tunnel --> [mesh/ledger 10.244.1.72 :8080]
//   Service mesh/ledger 10.96.0.21:80 -> 8080, bound to Gateway mesh/waypoint by its label
//
// istiod sends no L7 policy over the workload API, so on a cluster the waypoint
// reads its AuthorizationPolicies (and the rest of its state) from the API: the
// policy here exists nowhere else, and a DENY added later takes effect by the watch.

nlohmann::json waypointGateway() {
  return nlohmann::json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "waypoint", "namespace": "mesh", "uid": "gw-waypoint"},
    "spec": {"gatewayClassName": "istio-waypoint",
             "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}})");
}

nlohmann::json ledgerService() {
  nlohmann::json s = serviceObject();
  s["metadata"]["name"] = "ledger";
  s["metadata"]["uid"] = "svc-ledger";
  s["metadata"]["labels"] = {{"istio.io/use-waypoint", "waypoint"}};
  s["spec"]["clusterIP"] = "10.96.0.21";
  s["spec"]["clusterIPs"] = {"10.96.0.21"};
  s["spec"]["selector"] = {{"app", "ledger"}};
  return s;
}

// A policy of the waypoint (targetRefs the Gateway): `action` for `method` on `paths`.
nlohmann::json waypointPolicy(const std::string& name, const std::string& action, const std::string& method,
                              const std::string& path, const std::string& principal = "") {
  nlohmann::json p = {
      {"apiVersion", "security.istio.io/v1"},
      {"kind", "AuthorizationPolicy"},
      {"metadata", {{"name", name}, {"namespace", "mesh"}, {"uid", "ap-" + name}}},
      {"spec",
       {{"action", action},
        {"targetRefs", nlohmann::json::array(
                           {{{"kind", "Gateway"}, {"group", "gateway.networking.k8s.io"}, {"name", "waypoint"}}})}}}};
  nlohmann::json rule = {{"to", nlohmann::json::array({{{"operation", {{"methods", {method}}, {"paths", {path}}}}}})}};
  if (!principal.empty()) rule["from"] = nlohmann::json::array({{{"source", {{"principals", {principal}}}}}});
  p["spec"]["rules"] = nlohmann::json::array({rule});
  return p;
}

TEST_F(KubeEnrollTest, TheWaypointTakesItsPoliciesFromTheApiAndADenyAddedThereRefusesTheNextRequest) {
  Pod checkout = node_->preparePod("mesh", "checkout", "10.244.1.71");
  Pod ledger = node_->preparePod("mesh", "ledger", "10.244.1.72");
  Pod waypoint = node_->preparePod("mesh", "waypoint", "10.244.1.73");
  api_->upsert("gateways", waypointGateway());
  api_->upsert("services", ledgerService());
  api_->upsert("authorizationpolicies", waypointPolicy("ledger-get", "ALLOW", "GET", "/api/*",
                                                       "cluster.local/ns/mesh/sa/" + checkout.serviceAccount));
  api_->upsert("pods", runningPod(checkout, node_->name(), checkout.ip));
  nlohmann::json ledgerPod = runningPod(ledger, node_->name(), ledger.ip);
  ledgerPod["metadata"]["labels"] = {{"app", "ledger"}};
  api_->upsert("pods", ledgerPod);
  nlohmann::json waypointPod = runningPod(waypoint, node_->name(), waypoint.ip);
  waypointPod["metadata"]["labels"] = {{"gateway.networking.k8s.io/gateway-name", "waypoint"}};
  ASSERT_TRUE(api_->waitDelivered("pods", api_->upsert("pods", waypointPod)));
  std::string out;
  for (const Pod* p : {&checkout, &ledger, &waypoint}) ASSERT_EQ(node_->cni("add", *p, &out), 0) << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), waypoint.netnsPath())) << "a waypoint's pod is never captured";
  // The tunnel routes by a state with the three pods (the waypoint's Service is made from its Gateway).
  ASSERT_TRUE(eventually(
      [&] {
        return node_->tunnelState() && node_->tunnelState()->captured == 2 && node_->tunnelState()->workloads == 3;
      },
      10s))
      << node_->logTail("tunnel");
  // The waypoint reaches the API from its own netns, at the same URL.
  api_->listenIn(waypoint.netnsPath());
  ASSERT_TRUE(node_->startWaypoint(waypoint, "mesh/waypoint").ok()) << node_->logTail("waypoint-waypoint");
  auto app = HttpApp::start(*node_, ledger, 8080);
  ASSERT_TRUE(app);

  auto curl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "nsenter", "--net=" + checkout.netnsPath(), "curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string reply;
    runCommand(argv, &reply);
    return reply;
  };
  // Allowed by the API's policy; anything else refused at the waypoint, as Envoy answers.
  std::string allowed = curl({"http://10.96.0.21/api/balance"});
  EXPECT_EQ(allowed.substr(allowed.size() - 3), "200") << allowed << "\n" << node_->logTail("waypoint-waypoint");
  std::string denied = curl({"-X", "POST", "http://10.96.0.21/api/balance"});
  EXPECT_EQ(denied, "RBAC: access denied\n403") << node_->logTail("waypoint-waypoint");

  // A DENY added through the API: the next such request is refused.
  api_->upsert("authorizationpolicies", waypointPolicy("no-secrets", "DENY", "GET", "/api/secret"));
  std::string secret;
  ASSERT_TRUE(
      eventually([&] { return (secret = curl({"http://10.96.0.21/api/secret"})) == "RBAC: access denied\n403"; }, 10s))
      << secret << "\n"
      << node_->logTail("waypoint-waypoint");
  // The app saw exactly the allowed requests (the secret one perhaps, before the DENY came).
  auto seen = app->seen();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "GET /api/balance"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "POST /api/balance"), 0);
  // The waypoint read no YAML: the source it names is the API.
  EXPECT_NE(node_->readLog("waypoint-waypoint").find("cluster state from the Kubernetes API"), std::string::npos)
      << node_->logTail("waypoint-waypoint");
}

// ---- the tunnel says ready only on a whole view of the cluster ----

class KubeTunnelReadinessTest : public KubeEnrollTest {
 protected:
  void SetUp() override {
    startApi();
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(node_->startAgent().ok()) << node_->logTail("agent");
  }
  HttpReply ready() const {
    return httpRequest("/var/run/netns/" + node_->nodeNetns(), "GET", "/healthz/ready", 15021);
  }
};

TEST_F(KubeTunnelReadinessTest, NotReadyUntilEveryResourceIsListedAndAMissingCrdDoesNotHoldItBack) {
  // Istio's CRDs are not installed (404): that is no reason to wait. Services
  // are forbidden (403, an RBAC mistake): that is.
  for (const char* r : {"authorizationpolicies", "peerauthentications", "requestauthentications", "gateways"})
    api_->serve(r, false);
  api_->forbid("services", true);
  ASSERT_TRUE(node_->startTunnel(/*waitReady=*/false).ok());
  HttpReply r;
  // Not ready, and saying why, while everything else has been listed.
  const std::string why = "services: not listed yet: list answered HTTP 403";
  ASSERT_TRUE(eventually(
      [&] {
        r = ready();
        return r.status == 503 && r.body.find(why) != std::string::npos &&
               r.body.find("gateways: not served") != std::string::npos;
      },
      10s))
      << r.status << " " << r.body << "\n"
      << node_->logTail("tunnel");
  EXPECT_EQ(ready().status, 503);

  api_->forbid("services", false);
  ASSERT_TRUE(eventually([&] { return (r = ready()).status == 200; }, 10s)) << r.status << " " << r.body;
  // The missing CRD is named in the log, as an empty kind rather than a problem.
  EXPECT_NE(node_->readLog("tunnel").find("info tunnel kube gateways: not served by this API server"),
            std::string::npos)
      << node_->logTail("tunnel");
}

}  // namespace
}  // namespace warren::e2e
