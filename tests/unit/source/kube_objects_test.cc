// Objects exactly as `kubectl get -o json` prints them (testdata/kube/), read by
// the YAML source's own conversion, and kept per resource as watch events arrive.

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "source/kube/object_store.h"
#include "source/yaml_source.h"

namespace warren::source::kube {
namespace {

YAML::Node fixture(const std::string& name) {
  std::ifstream in(std::string(WARREN_KUBE_TESTDATA) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return YAML::Load(text.str());
}

const ResourceType kPods{"pods", "Pod", "v1", "/api/v1/pods", true};
const ResourceType kNamespaces{"namespaces", "Namespace", "v1", "/api/v1/namespaces", false};

TEST(KubectlJson, APodReadsAsTheYamlSourceReadsIt) {
  Snapshot s;
  convertObject(fixture("pod-checkout.json"), "pods payments/checkout", s);
  ASSERT_TRUE(s.errors.empty()) << s.errors.front().message;
  ASSERT_EQ(s.pods.size(), 1u);
  const Pod& p = s.pods.at("payments/checkout-7d9c6b5f4-x2x8q");
  EXPECT_EQ(p.uid, "8c1f0e4a-6b2d-4f3e-9a7c-5d4b3a2f1e0d");
  EXPECT_EQ(p.serviceAccount, "checkout");
  EXPECT_EQ(p.nodeName, "node1");
  EXPECT_EQ(p.ips, (std::vector<std::string>{"10.244.1.10", "fd00:10:244:1::a"}));
  EXPECT_TRUE(p.ready);
  EXPECT_FALSE(p.hostNetwork);
  EXPECT_EQ(p.namedPorts, (std::map<std::string, uint32_t>{{"http", 8080}, {"metrics", 9090}}));
  EXPECT_EQ(p.labels.at("app"), "checkout");
}

TEST(KubectlJson, ANamespaceAndItsLabels) {
  Snapshot s;
  convertObject(fixture("namespace-payments.json"), "namespaces payments", s);
  ASSERT_TRUE(s.errors.empty());
  EXPECT_EQ(s.namespaces.at("payments").labels.at("warren.io/mode"), "enabled");
}

TEST(KubectlJson, HostNetworkAndNotReadyConditions) {
  YAML::Node pod = fixture("pod-checkout.json");
  pod["spec"]["hostNetwork"] = true;
  pod["status"]["conditions"][2]["status"] = "False";  // Ready
  Snapshot s;
  convertObject(pod, "pods x", s);
  const Pod& p = s.pods.at("payments/checkout-7d9c6b5f4-x2x8q");
  EXPECT_TRUE(p.hostNetwork);
  EXPECT_FALSE(p.ready);
}

TEST(KubectlJson, ACompletedPodIsFinishedThoughItKeepsItsIp) {
  for (const char* phase : {"Running", "Succeeded", "Failed"}) {
    YAML::Node pod = fixture("pod-checkout.json");
    pod["status"]["phase"] = phase;
    Snapshot s;
    convertObject(pod, "pods x", s);
    const Pod& p = s.pods.at("payments/checkout-7d9c6b5f4-x2x8q");
    EXPECT_FALSE(p.ips.empty()) << phase;
    EXPECT_EQ(p.finished, std::string(phase) != "Running") << phase;
  }
}

TEST(KubectlJson, APendingPodWithoutAnIpKeepsItsIdentity) {
  // What the agent sees at CNI ADD on a real cluster: the kubelet writes
  // status.podIP only after the sandbox's ADD returns.
  Snapshot s;
  convertObject(fixture("pod-ledger-pending.json"), "pods payments/ledger", s);
  EXPECT_TRUE(s.errors.empty());
  ASSERT_EQ(s.pods.count("payments/ledger-5b8f7c9d6-kq7zt"), 1u);
  const Pod& p = s.pods.at("payments/ledger-5b8f7c9d6-kq7zt");
  EXPECT_TRUE(p.ips.empty());
  EXPECT_EQ(p.uid, "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a");
  EXPECT_EQ(p.labels.at("app"), "ledger");
  EXPECT_EQ(p.annotations.at("kubectl.kubernetes.io/restartedAt"), "2026-11-28T10:02:45Z");
}

TEST(ObjectStore, ListItemsGetTheirKindFromTheResource) {
  YAML::Node item = fixture("pod-checkout.json");
  item.remove("kind");
  item.remove("apiVersion");
  stampKind(item, kPods);
  Snapshot s;
  convertObject(item, "pods x", s);
  EXPECT_EQ(s.pods.size(), 1u);
}

WatchEvent event(WatchEvent::Type type, const YAML::Node& object) {
  return WatchEvent{type, object, std::string("1"), 0, ""};
}

TEST(ObjectStore, EventsAddChangeAndDeleteObjects) {
  std::vector<ObjectMap> objects(2);
  const std::vector<ResourceType> types = {kNamespaces, kPods};
  YAML::Node pod = fixture("pod-checkout.json");
  EXPECT_TRUE(applyEvent(objects[0], event(WatchEvent::Type::Added, fixture("namespace-payments.json")), kNamespaces));
  EXPECT_TRUE(applyEvent(objects[1], event(WatchEvent::Type::Added, pod), kPods));
  Snapshot s = buildSnapshot(types, objects);
  EXPECT_EQ(s.pods.at("payments/checkout-7d9c6b5f4-x2x8q").ips.front(), "10.244.1.10");
  EXPECT_EQ(s.namespaces.count("payments"), 1u);

  YAML::Node moved = YAML::Clone(pod);
  moved["status"]["podIPs"] = YAML::Load("[{ip: 10.244.1.99}]");
  moved["status"]["podIP"] = "10.244.1.99";
  EXPECT_TRUE(applyEvent(objects[1], event(WatchEvent::Type::Modified, moved), kPods));
  s = buildSnapshot(types, objects);
  EXPECT_EQ(s.pods.at("payments/checkout-7d9c6b5f4-x2x8q").ips, std::vector<std::string>{"10.244.1.99"});

  EXPECT_TRUE(applyEvent(objects[1], event(WatchEvent::Type::Deleted, moved), kPods));
  EXPECT_FALSE(applyEvent(objects[1], event(WatchEvent::Type::Deleted, moved), kPods));  // already gone
  EXPECT_FALSE(applyEvent(objects[1], event(WatchEvent::Type::Bookmark, moved), kPods));
  s = buildSnapshot(types, objects);
  EXPECT_TRUE(s.pods.empty());
  EXPECT_EQ(s.namespaces.count("payments"), 1u);
}

TEST(ObjectStore, UnusableObjectsAreNamedByResourceAndKey) {
  std::vector<ObjectMap> objects(1);
  YAML::Node bad = fixture("pod-ledger-pending.json");
  bad["status"]["podIP"] = "10.244.1.300";
  applyEvent(objects[0], event(WatchEvent::Type::Added, bad), kPods);
  Snapshot s = buildSnapshot({kPods}, objects);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].message.find("pods payments/ledger-5b8f7c9d6-kq7zt"), std::string::npos) << s.errors[0].message;
}

}  // namespace
}  // namespace warren::source::kube
