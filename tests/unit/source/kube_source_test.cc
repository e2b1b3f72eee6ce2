// KubeSource against a real HTTPS API server in this process (tests/support/
// kube_api_server.h): list, watch, resume, re-list, backoff, token rotation.
// Waits are on conditions (the source's onChange, the server's request log),
// never on sleeps.

#include <csignal>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "identity/local_ca.h"
#include "source/kube/kube_source.h"
#include "source/kube/pod_api.h"
#include "state/from_snapshot.h"
#include "tests/support/kube_api_server.h"
#include "tests/support/test_certs.h"

namespace warren::source::kube {
namespace {

using namespace std::chrono_literals;
using testkube::KubeApiServer;
using Requests = std::vector<KubeApiServer::Request>;

nlohmann::json fixture(const std::string& name) {
  std::ifstream in(std::string(WARREN_KUBE_TESTDATA) + "/" + name);
  return nlohmann::json::parse(in);
}

// A pod of the checkout fixture under another name and IP, on a node.
nlohmann::json podNamed(const std::string& name, const std::string& ip, const std::string& node = "node1") {
  nlohmann::json p = fixture("pod-checkout.json");
  p["metadata"]["name"] = name;
  p["metadata"]["uid"] = "uid-" + name;
  p["spec"]["nodeName"] = node;
  p["status"]["podIP"] = ip;
  p["status"]["podIPs"] = nlohmann::json::array({{{"ip", ip}}});
  return p;
}

const std::string kCheckout = "payments/checkout-7d9c6b5f4-x2x8q";

size_t count(const Requests& rs, const std::function<bool(const KubeApiServer::Request&)>& f) {
  return static_cast<size_t>(std::count_if(rs.begin(), rs.end(), f));
}
auto lists(const std::string& resource) {
  return [resource](const KubeApiServer::Request& r) { return r.resource == resource && !r.watch; };
}
auto watchesFrom(const std::string& resource, const std::string& rv) {
  return [resource, rv](const KubeApiServer::Request& r) {
    return r.resource == resource && r.watch && r.status == 200 && r.query.count("resourceVersion") &&
           r.query.at("resourceVersion") == rv;
  };
}

struct KubeSourceTest : ::testing::Test {
  testcerts::TempDir dir;
  testcerts::CertFiles serverCert;
  std::unique_ptr<KubeApiServer> api;
  std::unique_ptr<KubeSource> source;
  std::mutex mu;
  std::condition_variable cv;
  int changes = 0;

  void SetUp() override {
    // As warren-agent does (ShutdownSignal): OpenSSL writes with write(2), so a
    // peer that went away must be an error, not a SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    auto ca = identity::LocalCa::open(dir.file("ca"), "cluster.local");
    ASSERT_TRUE(ca) << ca.error().message;
    auto cert = testcerts::issueCert(dir.file("ca"), {"IP:127.0.0.1"}, dir.path(), "apiserver");
    ASSERT_TRUE(cert) << cert.error().message;
    serverCert = *cert;
    writeToken("token-1");
    api = std::make_unique<KubeApiServer>(serverCert.chain, serverCert.key, "token-1");
    api->upsert("namespaces", fixture("namespace-payments.json"));
    api->upsert("namespaces", fixture("namespace-default.json"));
    api->upsert("pods", fixture("pod-checkout.json"));
    api->upsert("pods", fixture("pod-fraud-scan-node2.json"));
  }
  void TearDown() override {
    source.reset();  // before the server: its watches end with it
    api.reset();
  }

  void writeToken(const std::string& token) {
    // Replaced whole, as the kubelet swaps a projected token.
    std::ofstream(dir.file("token.tmp")) << token << "\n";
    std::filesystem::rename(dir.file("token.tmp"), dir.file("token"));
  }

  KubeSource::Options options() {
    KubeSource::Options o;
    o.config.server = *httpclient::parseUrl(api->url());
    o.config.server.target = "";
    o.config.tls.ca.file = serverCert.root;
    o.config.tokenFile = dir.file("token");
    o.nodeName = "node1";
    o.debounce = 5ms;
    o.backoff = {10ms, 100ms};
    return o;
  }

  void start(KubeSource::Options o) {
    auto s = KubeSource::start(std::move(o), [this] {
      std::lock_guard lock(mu);
      changes++;
      cv.notify_all();
    });
    ASSERT_TRUE(s) << s.error().message;
    source = std::move(*s);
  }
  void startSynced(KubeSource::Options o) {
    start(std::move(o));
    ASSERT_TRUE(source->waitSynced(20s)) << source->status();
    // Both watches open: what follows is seen as events, not by the first list.
    ASSERT_TRUE(api->waitWatching("pods"));
    ASSERT_TRUE(api->waitWatching("namespaces"));
  }

  // Waits for a change notification after which pred holds.
  bool until(const std::function<bool(const Snapshot&)>& pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return pred(source->snapshot()); });
  }
};

TEST_F(KubeSourceTest, TheFirstListOfEachResourceMakesTheSnapshot) {
  start(options());
  ASSERT_TRUE(source->waitSynced(20s)) << source->status();
  const Snapshot s = source->snapshot();
  EXPECT_EQ(s.namespaces.size(), 2u);
  EXPECT_EQ(s.namespaces.at("payments").labels.at("warren.io/mode"), "enabled");
  ASSERT_EQ(s.pods.size(), 1u);  // fraud-scan runs on node2
  EXPECT_EQ(s.pods.at(kCheckout).ips, (std::vector<std::string>{"10.244.1.10", "fd00:10:244:1::a"}));
  EXPECT_TRUE(s.errors.empty());

  const Requests rs = api->requests();
  ASSERT_GE(rs.size(), 2u);
  for (const auto& r : rs) EXPECT_EQ(r.authorization, "Bearer token-1");
  auto podList = std::find_if(rs.begin(), rs.end(), lists("pods"));
  ASSERT_NE(podList, rs.end());
  EXPECT_EQ(podList->query.at("fieldSelector"), "spec.nodeName=node1");
  EXPECT_EQ(podList->query.at("limit"), "500");
  // Then a watch from the list's resourceVersion, with bookmarks.
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, [](const auto& r) { return r.resource == "pods" && r.watch; }) >= 1;
  }));
  for (const auto& r : api->requests())
    if (r.resource == "pods" && r.watch) {
      EXPECT_EQ(r.query.at("allowWatchBookmarks"), "true");
      EXPECT_EQ(r.query.at("fieldSelector"), "spec.nodeName=node1");
      EXPECT_EQ(r.query.at("timeoutSeconds"), "300");
      EXPECT_FALSE(r.query.at("resourceVersion").empty());
    }
}

TEST_F(KubeSourceTest, WatchEventsAddChangeAndDeleteObjects) {
  startSynced(options());
  api->upsert("pods", podNamed("ledger-1", "10.244.1.20"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/ledger-1"); }));

  api->upsert("pods", podNamed("ledger-1", "10.244.1.21"));
  ASSERT_TRUE(until([](const Snapshot& s) {
    return s.pods.count("payments/ledger-1") && s.pods.at("payments/ledger-1").ips.front() == "10.244.1.21";
  }));

  api->remove("pods", "payments/ledger-1");
  ASSERT_TRUE(until([](const Snapshot& s) { return !s.pods.count("payments/ledger-1"); }));

  nlohmann::json ns = fixture("namespace-default.json");
  ns["metadata"]["labels"]["istio.io/dataplane-mode"] = "ambient";
  api->upsert("namespaces", ns);
  ASSERT_TRUE(
      until([](const Snapshot& s) { return s.namespaces.at("default").labels.count("istio.io/dataplane-mode"); }));

  // Another node's pod never reaches this node (the field selector).
  api->upsert("pods", podNamed("elsewhere", "10.244.2.30", "node2"));
  api->upsert("pods", podNamed("marker", "10.244.1.31"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/marker"); }));
  EXPECT_FALSE(source->snapshot().pods.count("payments/elsewhere"));
}

TEST_F(KubeSourceTest, APodWithoutAnIpIsInTheViewAndGetsItsIpByTheWatch) {
  startSynced(options());
  nlohmann::json pending = fixture("pod-ledger-pending.json");
  api->upsert("pods", pending);
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/ledger-5b8f7c9d6-kq7zt"); }));
  EXPECT_TRUE(source->snapshot().pods.at("payments/ledger-5b8f7c9d6-kq7zt").ips.empty());

  pending["status"]["phase"] = "Running";
  pending["status"]["podIP"] = "10.244.1.40";
  pending["status"]["podIPs"] = nlohmann::json::array({{{"ip", "10.244.1.40"}}});
  api->upsert("pods", pending);
  ASSERT_TRUE(until([](const Snapshot& s) {
    auto it = s.pods.find("payments/ledger-5b8f7c9d6-kq7zt");
    return it != s.pods.end() && it->second.ips == std::vector<std::string>{"10.244.1.40"};
  }));
}

TEST_F(KubeSourceTest, AListFollowsContinueTokensAcrossPages) {
  for (int i = 0; i < 6; ++i)
    api->upsert("pods", podNamed("page-" + std::to_string(i), "10.244.1." + std::to_string(50 + i)));
  KubeSource::Options o = options();
  o.pageSize = 2;
  start(o);
  ASSERT_TRUE(source->waitSynced(20s)) << source->status();
  EXPECT_EQ(source->snapshot().pods.size(), 7u);
  const Requests rs = api->requests();
  EXPECT_EQ(count(rs, lists("pods")), 4u);  // 7 pods, 2 a page
  EXPECT_EQ(count(rs, [](const auto& r) { return r.resource == "pods" && !r.watch && r.query.count("continue"); }), 3u);
}

TEST_F(KubeSourceTest, ADroppedStreamResumesFromTheLastEventWithoutLosingOne) {
  api->splitEvents(true);  // and every event arrives in two chunks
  startSynced(options());
  const std::string rvA = api->upsert("pods", podNamed("a", "10.244.1.60"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/a"); }));

  api->dropNextEvent("pods");
  api->upsert("pods", podNamed("b", "10.244.1.61"));  // half of it arrives, then the connection is reset
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/b"); }));
  const Requests rs = api->requests();
  EXPECT_EQ(count(rs, watchesFrom("pods", rvA)), 1u) << "resumed after the last complete event";
  EXPECT_EQ(count(rs, lists("pods")), 1u) << "no re-list was needed";
  EXPECT_EQ(source->snapshot().pods.size(), 3u);
}

TEST_F(KubeSourceTest, AWatchEndedByTheServerResumesWhereItWas) {
  startSynced(options());
  const std::string rv = api->upsert("pods", podNamed("a", "10.244.1.60"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/a"); }));
  api->endWatches();  // as at timeoutSeconds
  ASSERT_TRUE(api->waitFor([&](const Requests& rs) { return count(rs, watchesFrom("pods", rv)) == 1; }));
  EXPECT_EQ(count(api->requests(), lists("pods")), 1u);
}

TEST_F(KubeSourceTest, ABookmarkMovesTheResumePoint) {
  startSynced(options());
  const std::string rv = api->bookmark("pods");
  // Once the bookmark is on the wire, ending the watch shows where the client resumes.
  ASSERT_TRUE(api->waitDelivered("pods", rv));
  api->endWatches();
  ASSERT_TRUE(api->waitFor([&](const Requests& rs) { return count(rs, watchesFrom("pods", rv)) == 1; }));
}

TEST_F(KubeSourceTest, GoneAsAnHttpStatusListsAgainAndDropsWhatWasDeletedMeanwhile) {
  startSynced(options());
  api->goneNextWatch("pods", /*asErrorEvent=*/false);
  api->removeSilently("pods", kCheckout);  // deleted while the client's history is lost
  api->compact();
  api->endWatches();
  ASSERT_TRUE(until([](const Snapshot& s) { return !s.pods.count(kCheckout); }));
  const Requests rs = api->requests();
  EXPECT_EQ(count(rs, lists("pods")), 2u);
  EXPECT_EQ(count(rs, [](const auto& r) { return r.resource == "pods" && r.status == 410; }), 1u);
}

TEST_F(KubeSourceTest, GoneAsAnErrorEventListsAgain) {
  startSynced(options());
  api->goneNextWatch("pods", /*asErrorEvent=*/true);
  api->removeSilently("pods", kCheckout);
  api->endWatches();
  ASSERT_TRUE(until([](const Snapshot& s) { return !s.pods.count(kCheckout); }));
  EXPECT_EQ(count(api->requests(), lists("pods")), 2u);
}

TEST_F(KubeSourceTest, A401KeepsTheViewUntilTheRotatedTokenIsReadFromTheFile) {
  startSynced(options());
  api->setToken("token-2");  // the API now wants the rotated token
  api->endWatches();
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, [](const auto& r) { return r.status == 401 && r.authorization == "Bearer token-1"; }) >= 4;
  }));
  EXPECT_TRUE(source->snapshot().pods.count(kCheckout)) << "the last good view is kept";
  EXPECT_EQ(source->snapshot().namespaces.size(), 2u);

  writeToken("token-2");  // the kubelet rotates the projected token
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, [](const auto& r) { return r.watch && r.status == 200 && r.authorization == "Bearer token-2"; }) >=
           2;
  }));
  api->upsert("pods", podNamed("after-rotation", "10.244.1.70"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/after-rotation"); }));
}

TEST_F(KubeSourceTest, A403WaitsForTheFirstListAndSaysWhy) {
  api->forbid("pods", true);
  start(options());
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, [](const auto& r) { return r.resource == "pods" && r.status == 403; }) >= 2;
  }));
  EXPECT_FALSE(source->synced());
  const std::string status = source->status();
  EXPECT_NE(status.find("pods: not listed yet: list answered HTTP 403: pods is forbidden: User "
                        "\"system:serviceaccount:warren-system:warren\" cannot list resource \"pods\""),
            std::string::npos)
      << status;
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(changes, 0) << "no change reaches the agent before the first full list";
  }
  api->forbid("pods", false);
  ASSERT_TRUE(source->waitSynced(20s)) << source->status();
  EXPECT_TRUE(source->snapshot().pods.count(kCheckout));
}

TEST_F(KubeSourceTest, ServerErrorsBackOffAndKeepTheLastView) {
  startSynced(options());
  api->failNext("pods", 3, 503);
  api->endWatches();
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, [](const auto& r) { return r.resource == "pods" && r.status == 503; }) == 3;
  }));
  EXPECT_TRUE(source->snapshot().pods.count(kCheckout));
  // Then it recovers on its own, still watching from where it was (no re-list).
  api->upsert("pods", podNamed("after-outage", "10.244.1.80"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.pods.count("payments/after-outage"); }));
  EXPECT_EQ(count(api->requests(), lists("pods")), 1u);
}

TEST_F(KubeSourceTest, AnUntrustedServerCertificateIsNamedAndNeverSynced) {
  KubeSource::Options o = options();
  auto other = identity::LocalCa::open(dir.file("other-ca"), "cluster.local");
  ASSERT_TRUE(other);
  o.config.tls.ca.file = dir.file("other-ca") + "/root-cert.pem";
  start(o);
  // No request reaches the server, so there is nothing to wait on but the status.
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (source->status().find("certificate verification failed") == std::string::npos &&
         std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(10ms);
  EXPECT_NE(source->status().find("certificate verification failed"), std::string::npos) << source->status();
  EXPECT_FALSE(source->synced());
  EXPECT_TRUE(api->requests().empty());
}

TEST_F(KubeSourceTest, StoppingInterruptsBlockedWatchesAtOnce) {
  startSynced(options());
  const auto t0 = std::chrono::steady_clock::now();
  source.reset();  // the watches are blocked in reads that would last timeoutSeconds (300 s)
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// ---- single-pod requests (pod_api.h) against the server's object endpoints --------

const char* kRedirection = "ambient.istio.io/redirection";

TEST_F(KubeSourceTest, AMergePatchOfAPodIsStoredReturnedAndSeenByTheWatch) {
  startSynced(options());
  ApiClient client = source->client();
  const std::string before = api->get("pods", kCheckout)["metadata"]["resourceVersion"];

  // The answer is the patched object, with the annotations it had kept.
  auto answer = client.send("PATCH", podTarget("payments", "checkout-7d9c6b5f4-x2x8q"), "application/merge-patch+json",
                            redirectionPatch(true), 5s);
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_EQ(answer->status, 200) << answer->body;
  const nlohmann::json returned = nlohmann::json::parse(answer->body);
  const nlohmann::json stored = api->get("pods", kCheckout);
  EXPECT_EQ(returned, stored);
  EXPECT_EQ(stored["metadata"]["annotations"][kRedirection], "enabled");
  EXPECT_EQ(stored["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"], "2026-11-28T10:02:45Z");
  EXPECT_GT(std::stoull(stored["metadata"]["resourceVersion"].get<std::string>()), std::stoull(before));
  ASSERT_TRUE(until([](const Snapshot& s) {
    auto it = s.pods.find(kCheckout);
    return it != s.pods.end() && it->second.annotations.count(kRedirection) &&
           it->second.annotations.at(kRedirection) == "enabled";
  }));

  // null removes it, the other annotation stays.
  ASSERT_TRUE(setRedirection(client, "payments", "checkout-7d9c6b5f4-x2x8q", false));
  EXPECT_FALSE(api->get("pods", kCheckout)["metadata"]["annotations"].contains(kRedirection));
  ASSERT_TRUE(until([](const Snapshot& s) {
    auto it = s.pods.find(kCheckout);
    return it != s.pods.end() && !it->second.annotations.count(kRedirection) &&
           it->second.annotations.count("kubectl.kubernetes.io/restartedAt");
  }));
  const Requests rs = api->requests();
  EXPECT_EQ(count(rs, [](const auto& r) { return r.method == "PATCH" && r.status == 200; }), 2u);
  for (const auto& r : rs) {
    if (r.method != "PATCH") continue;
    EXPECT_EQ(r.contentType, "application/merge-patch+json");
  }
}

TEST_F(KubeSourceTest, APatchOfAnotherMediaTypeOrOfAMissingPodIsRefused) {
  startSynced(options());
  ApiClient client = source->client();
  auto answer = client.send("PATCH", podTarget("payments", "checkout-7d9c6b5f4-x2x8q"), "application/json",
                            redirectionPatch(true), 5s);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->status, 415);
  EXPECT_FALSE(api->get("pods", kCheckout)["metadata"]["annotations"].contains(kRedirection));

  auto set = setRedirection(client, "payments", "gone", true);
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message.find("404"), std::string::npos) << set.error().message;
  // Removing it from a pod that is gone: nothing left to undo.
  EXPECT_TRUE(setRedirection(client, "payments", "gone", false));
}

TEST_F(KubeSourceTest, FetchPodGetsThePodAndItsNamespaceAndRetriesErrors) {
  startSynced(options());
  ApiClient client = source->client();
  auto got = fetchPod(client, "payments", "checkout-7d9c6b5f4-x2x8q", true, {3, 2s, 1ms, 10s});
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->pods.at(kCheckout).serviceAccount, "checkout");
  EXPECT_EQ(got->namespaces.at("payments").labels.at("warren.io/mode"), "enabled");

  auto none = fetchPod(client, "payments", "nosuch", true, {3, 2s, 1ms, 10s});
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->pods.empty());
  EXPECT_EQ(none->namespaces.count("payments"), 1u);

  api->failNext("pods", 2, 503);
  got = fetchPod(client, "payments", "checkout-7d9c6b5f4-x2x8q", false, {3, 2s, 1ms, 10s});
  ASSERT_TRUE(got) << got.error().message;  // the third attempt
  EXPECT_EQ(got->pods.count(kCheckout), 1u);

  api->failNext("pods", 3, 503);
  got = fetchPod(client, "payments", "checkout-7d9c6b5f4-x2x8q", false, {3, 2s, 1ms, 10s});
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("HTTP 503"), std::string::npos) << got.error().message;
}

TEST_F(KubeSourceTest, FetchPodStopsRetryingWhenItsBudgetIsSpent) {
  // A CNI ADD waits on this: no retry starts that would end past the budget.
  startSynced(options());
  ApiClient client = source->client();
  const size_t before = api->requests().size();
  api->failNext("pods", 10, 503);
  // Attempt, pause 200 ms, attempt; the next pause (400 ms) would end past 500 ms.
  auto got = fetchPod(client, "payments", "checkout-7d9c6b5f4-x2x8q", false, {3, 2s, 200ms, 500ms});
  ASSERT_FALSE(got);
  EXPECT_EQ(api->requests().size() - before, 2u);
}

// ---- the tunnel's standalone mode: every resource it reads from the API ----

struct KubeStandaloneTest : KubeSourceTest {
  KubeSource::Options standalone() {
    KubeSource::Options o = options();
    o.nodeName = "";  // every node's pods: the tunnel needs every destination
    o.resources = standaloneResources();
    o.backoff.notServedRetry = 20ms;
    return o;
  }
  void startStandalone() {
    start(standalone());
    ASSERT_TRUE(source->waitSynced(20s)) << source->status();
    for (const auto& r : standaloneResources()) ASSERT_TRUE(api->waitWatching(r.name)) << r.name;
  }
  state::ClusterStatePtr state() const {
    std::vector<Error> notes;
    auto s = state::stateFromSnapshot(source->snapshot(), {}, &notes);
    for (const auto& n : notes) ADD_FAILURE() << n.message;
    return s;
  }
};

const std::string kFraudScan = "payments/fraud-scan-6c4d8b7f9-m5n2p";

TEST_F(KubeStandaloneTest, ServicesEndpointSlicesAndEveryNodesPodsMakeTheTunnelsState) {
  api->upsert("services", fixture("service-checkout.json"));
  api->upsert("services", fixture("service-scoring-external.json"));
  api->upsert("endpointslices", fixture("endpointslice-scoring.json"));
  startStandalone();

  const Snapshot snap = source->snapshot();
  EXPECT_EQ(snap.pods.size(), 2u) << "fraud-scan runs on node2: the tunnel sees it too";
  EXPECT_EQ(snap.services.size(), 2u);
  EXPECT_EQ(snap.endpointSlices.size(), 1u);
  for (const auto& r : api->requests())
    if (r.resource == "pods") {
      EXPECT_FALSE(r.query.count("fieldSelector"));
    }

  const auto st = state();
  const state::Workload& checkout = st->workloads().at("8c1f0e4a-6b2d-4f3e-9a7c-5d4b3a2f1e0d");
  // By its selector, on the named target port http (8080).
  const std::string checkoutSvc = "payments/checkout.payments.svc.cluster.local";
  ASSERT_EQ(checkout.services.count(checkoutSvc), 1u);
  EXPECT_EQ(checkout.services.at(checkoutSvc).at(0).servicePort, 80u);
  EXPECT_EQ(checkout.services.at(checkoutSvc).at(0).targetPort, 8080u);
  EXPECT_EQ(st->services().at(checkoutSvc).vips, std::vector<std::string>{"10.96.41.7"});
  // A Service without a selector: its endpoints are the EndpointSlice's, on the slice's port.
  const std::string scoringSvc = "payments/scoring.payments.svc.cluster.local";
  const auto fraud = std::find_if(st->workloads().begin(), st->workloads().end(),
                                  [](const auto& kv) { return kv.second.name == "fraud-scan-6c4d8b7f9-m5n2p"; });
  ASSERT_NE(fraud, st->workloads().end());
  ASSERT_EQ(fraud->second.services.count(scoringSvc), 1u);
  EXPECT_EQ(fraud->second.services.at(scoringSvc).at(0).servicePort, 7070u);
  EXPECT_EQ(fraud->second.services.at(scoringSvc).at(0).targetPort, 9443u);
  EXPECT_FALSE(checkout.services.count(scoringSvc));
}

TEST_F(KubeStandaloneTest, AnAuthorizationPolicyAddedByAWatchEventTakesEffectAndGoesWithItsDeletion) {
  startStandalone();
  EXPECT_TRUE(state()->policies().empty());
  api->upsert("authorizationpolicies", fixture("authorizationpolicy-deny-fraud-scan.json"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.authorizationPolicies.count("payments/deny-fraud-scan"); }));
  EXPECT_EQ(count(api->requests(), lists("authorizationpolicies")), 1u) << "seen by the watch, not a re-list";
  auto st = state();
  ASSERT_EQ(st->policies().size(), 1u);
  const auto& policy = st->policies().begin()->second;
  EXPECT_EQ(policy.action, state::PolicyAction::Deny);
  EXPECT_EQ(st->workloads().at("8c1f0e4a-6b2d-4f3e-9a7c-5d4b3a2f1e0d").policies,
            std::vector<std::string>{st->policies().begin()->first});

  api->remove("authorizationpolicies", "payments/deny-fraud-scan");
  ASSERT_TRUE(until([](const Snapshot& s) { return s.authorizationPolicies.empty(); }));
  EXPECT_TRUE(state()->policies().empty());
  EXPECT_TRUE(state()->workloads().at("8c1f0e4a-6b2d-4f3e-9a7c-5d4b3a2f1e0d").policies.empty());
}

TEST_F(KubeStandaloneTest, ACustomResourceTheServerDoesNotServeIsEmptyAndPickedUpOnceInstalled) {
  // A cluster without Istio's CRDs nor the Gateway API's.
  for (const char* r : {"authorizationpolicies", "peerauthentications", "requestauthentications", "gateways"})
    api->serve(r, false);
  start(standalone());
  ASSERT_TRUE(source->waitSynced(20s)) << "a missing CRD must not block readiness: " << source->status();
  EXPECT_NE(source->status().find("gateways: not served"), std::string::npos) << source->status();
  EXPECT_EQ(source->snapshot().pods.size(), 2u);
  // Asked again now and then (here every 20 ms), without a growing backoff.
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, [](const auto& r) { return r.resource == "gateways" && r.status == 404; }) >= 3;
  }));

  // The Gateway API is installed (v1 only here: were v1beta1 served too, the
  // ask could find it first, and keep to it) and a waypoint made: the next ask finds it.
  api->serveVersions("gateways", {"gateway.networking.k8s.io/v1"});
  api->serve("gateways", true);
  api->upsert("gateways", fixture("gateway-waypoint.json"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.gateways.count("payments/waypoint"); })) << source->status();
  EXPECT_NE(source->status().find("gateways: listed (1)"), std::string::npos) << source->status();
}

TEST_F(KubeStandaloneTest, AForbiddenResourceIsNotTakenForAMissingOne) {
  // 403 is an RBAC mistake, not "no such resource": never ready on a partial view.
  api->forbid("authorizationpolicies", true);
  start(standalone());
  EXPECT_FALSE(source->waitSynced(300ms));
  EXPECT_NE(source->status().find("authorizationpolicies: not listed yet: list answered HTTP 403"), std::string::npos)
      << source->status();
  api->forbid("authorizationpolicies", false);
  EXPECT_TRUE(source->waitSynced(20s)) << source->status();
}

// ---- Istio before 1.22 (and older Gateway API installs) serve their kinds as v1beta1 only ----

auto listsAt(const std::string& resource, const std::string& apiVersion) {
  return [resource, apiVersion](const KubeApiServer::Request& r) {
    return r.resource == resource && !r.watch && r.apiVersion == apiVersion;
  };
}

// A watch of `resource` at `apiVersion` that the server answered 200.
auto watchAnsweredAt(const std::string& resource, const std::string& apiVersion) {
  return [resource, apiVersion](const KubeApiServer::Request& r) {
    return r.resource == resource && r.watch && r.apiVersion == apiVersion && r.status == 200;
  };
}

TEST_F(KubeStandaloneTest, PoliciesServedOnlyAsV1beta1AreReadThereAndApplyAsV1Ones) {
  for (const char* r : {"authorizationpolicies", "peerauthentications", "requestauthentications"})
    api->serveVersions(r, {"security.istio.io/v1beta1"});
  api->serveVersions("gateways", {"gateway.networking.k8s.io/v1beta1"});
  api->upsert("authorizationpolicies", fixture("authorizationpolicy-deny-fraud-scan.json"));
  api->upsert("gateways", fixture("gateway-waypoint.json"));
  startStandalone();

  // The first whole view already holds them: v1's 404 never showed as "none".
  const Snapshot first = source->snapshot();
  EXPECT_EQ(first.authorizationPolicies.count("payments/deny-fraud-scan"), 1u);
  EXPECT_EQ(first.gateways.count("payments/waypoint"), 1u);
  EXPECT_NE(source->status().find("authorizationpolicies: listed as v1beta1 (1)"), std::string::npos)
      << source->status();
  EXPECT_NE(source->status().find("gateways: listed as v1beta1 (1)"), std::string::npos) << source->status();
  // The same effect as the v1 policy has (AnAuthorizationPolicyAddedByAWatchEvent...).
  auto st = state();
  ASSERT_EQ(st->policies().size(), 1u);
  EXPECT_EQ(st->policies().begin()->second.action, state::PolicyAction::Deny);
  EXPECT_EQ(st->workloads().at("8c1f0e4a-6b2d-4f3e-9a7c-5d4b3a2f1e0d").policies,
            std::vector<std::string>{st->policies().begin()->first});
  // Every watch is at v1beta1.
  for (const auto& r : api->requests())
    if (r.resource == "authorizationpolicies" && r.watch) {
      EXPECT_EQ(r.apiVersion, "security.istio.io/v1beta1");
    }

  // Watch events at v1beta1 apply.
  api->remove("authorizationpolicies", "payments/deny-fraud-scan");
  ASSERT_TRUE(until([](const Snapshot& s) { return s.authorizationPolicies.empty(); }));

  // A re-list (410) stays at the version that works: v1 is not asked again.
  const size_t v1Lists = count(api->requests(), listsAt("authorizationpolicies", "security.istio.io/v1"));
  EXPECT_EQ(v1Lists, 1u);
  api->upsert("authorizationpolicies", fixture("authorizationpolicy-deny-fraud-scan.json"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.authorizationPolicies.size() == 1; }));
  api->goneNextWatch("authorizationpolicies", /*asErrorEvent=*/true);
  api->endWatches();
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, listsAt("authorizationpolicies", "security.istio.io/v1beta1")) >= 2;
  }));
  EXPECT_EQ(count(api->requests(), listsAt("authorizationpolicies", "security.istio.io/v1")), v1Lists);
  EXPECT_EQ(source->snapshot().authorizationPolicies.size(), 1u);
}

TEST_F(KubeStandaloneTest, AnUpgradeThatDropsV1beta1IsFollowedToV1WithoutLosingTheObjects) {
  api->serveVersions("gateways", {"gateway.networking.k8s.io/v1beta1"});
  api->upsert("gateways", fixture("gateway-waypoint.json"));
  startStandalone();
  ASSERT_NE(source->status().find("gateways: listed as v1beta1 (1)"), std::string::npos) << source->status();

  // The CRD now serves v1 only: the open watch ends, the next one at v1beta1
  // answers 404, and the source lists v1.
  api->serveVersions("gateways", {"gateway.networking.k8s.io/v1"});
  api->endWatches();
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, watchAnsweredAt("gateways", "gateway.networking.k8s.io/v1")) >= 1;
  })) << source->status();
  EXPECT_NE(source->status().find("gateways: listed (1)"), std::string::npos) << source->status();
  EXPECT_EQ(source->snapshot().gateways.count("payments/waypoint"), 1u);
}

TEST_F(KubeStandaloneTest, AClusterThatStartsServingV1IsReadAsV1AfterTheRecheckPeriod) {
  api->serveVersions("gateways", {"gateway.networking.k8s.io/v1beta1"});
  api->upsert("gateways", fixture("gateway-waypoint.json"));
  KubeSource::Options o = standalone();
  o.backoff.preferredRecheck = 0ms;  // every normal end of a v1beta1 watch probes v1
  start(o);
  ASSERT_TRUE(source->waitSynced(20s)) << source->status();
  ASSERT_TRUE(api->waitWatching("gateways"));
  ASSERT_NE(source->status().find("gateways: listed as v1beta1 (1)"), std::string::npos) << source->status();

  // Istio upgraded: v1 is served beside v1beta1 (which alone would keep working).
  // A watch that ends after an event is a normal end: the next list asks v1.
  api->serveVersions("gateways", {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"});
  api->remove("gateways", "payments/waypoint");
  ASSERT_TRUE(until([](const Snapshot& s) { return s.gateways.empty(); }));
  api->upsert("gateways", fixture("gateway-waypoint.json"));
  ASSERT_TRUE(until([](const Snapshot& s) { return s.gateways.size() == 1; }));
  api->endWatches();
  ASSERT_TRUE(api->waitFor([](const Requests& rs) {
    return count(rs, watchAnsweredAt("gateways", "gateway.networking.k8s.io/v1")) >= 1;
  })) << source->status();
  EXPECT_NE(source->status().find("gateways: listed (1)"), std::string::npos) << source->status();
  EXPECT_EQ(source->snapshot().gateways.count("payments/waypoint"), 1u);
}

TEST_F(KubeStandaloneTest, WhenNoVersionIsServedEachReaskStartsAtV1) {
  api->serve("gateways", false);
  start(standalone());
  ASSERT_TRUE(source->waitSynced(20s)) << source->status();
  EXPECT_NE(source->status().find("gateways: not served"), std::string::npos) << source->status();
  // Asked in order v1, v1beta1, v1, v1beta1...: a cluster upgraded to v1 is read as v1.
  ASSERT_TRUE(api->waitFor(
      [](const Requests& rs) { return count(rs, listsAt("gateways", "gateway.networking.k8s.io/v1")) >= 3; }));
  std::vector<std::string> order;
  for (const auto& r : api->requests())
    if (r.resource == "gateways") order.push_back(r.apiVersion);
  ASSERT_GE(order.size(), 4u);
  for (size_t i = 0; i + 1 < order.size(); i += 2) {
    EXPECT_EQ(order[i], "gateway.networking.k8s.io/v1") << i;
    EXPECT_EQ(order[i + 1], "gateway.networking.k8s.io/v1beta1") << i;
  }
}

}  // namespace
}  // namespace warren::source::kube
