// The standalone YAML source and the enrollment decision, without BPF.

#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <gtest/gtest.h>

#include "agent/source/dir_watcher.h"
#include "agent/source/enrollment.h"
#include "agent/source/yaml_source.h"

namespace warren::source {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- enrollment ------------------------------------------------------------------------

struct EnrollCase {
  const char* description;
  std::map<std::string, std::string> nsLabels;
  std::map<std::string, std::string> podLabels;
  bool nsKnown;
  const char* podNode;
  const char* agentNode;
  bool enrolled;
  const char* reasonHas;
};

TEST(Enrollment, DecisionTable) {
  const EnrollCase cases[] = {
      {"warren label enables", {{"warren.io/mode", "enabled"}}, {}, true, "n1", "n1", true, "warren.io/mode=enabled"},
      {"istio ambient label enables", {{"istio.io/dataplane-mode", "ambient"}}, {}, true, "n1", "n1", true,
       "ambient"},
      {"no label: not enrolled", {}, {}, true, "n1", "n1", false, "not enabled"},
      {"wrong value: not enrolled", {{"warren.io/mode", "yes"}}, {}, true, "n1", "n1", false, "not enabled"},
      {"istio sidecar-ish value is not ambient", {{"istio.io/dataplane-mode", "sidecar"}}, {}, true, "n1", "n1",
       false, "not enabled"},
      {"namespace disabled explicitly", {{"warren.io/mode", "disabled"}, {"istio.io/dataplane-mode", "ambient"}},
       {}, true, "n1", "n1", false, "warren.io/mode=disabled"},
      {"pod opts out", {{"warren.io/mode", "enabled"}}, {{"warren.io/mode", "disabled"}}, true, "n1", "n1", false,
       "opts out"},
      {"pod opts out the istio way", {{"istio.io/dataplane-mode", "ambient"}}, {{"istio.io/dataplane-mode", "none"}},
       true, "n1", "n1", false, "opts out"},
      {"unknown namespace", {}, {}, false, "n1", "n1", false, "unknown"},
      {"pod on another node", {{"warren.io/mode", "enabled"}}, {}, true, "n2", "n1", false, "node n2"},
      {"pod without node name is ours", {{"warren.io/mode", "enabled"}}, {}, true, "", "n1", true, "enabled"},
      {"agent without node name takes any", {{"warren.io/mode", "enabled"}}, {}, true, "n7", "", true, "enabled"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    Namespace ns{"apps", c.nsLabels};
    Pod pod;
    pod.name = "web";
    pod.ns = "apps";
    pod.labels = c.podLabels;
    pod.nodeName = c.podNode;
    auto d = decideEnrollment(c.nsKnown ? &ns : nullptr, pod, c.agentNode);
    EXPECT_EQ(d.enrolled, c.enrolled);
    EXPECT_NE(d.reason.find(c.reasonHas), std::string::npos) << d.reason;
  }
}

// ---- YAML --------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/warren-source-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(path + "/" + name) << text;
  }
  std::string path;
};

bool hasError(const Snapshot& s, const std::string& part) {
  for (const auto& e : s.errors)
    if (e.message.find(part) != std::string::npos) return true;
  return false;
}

TEST(YamlSource, MultiDocumentFilesWithDefaults) {
  TempDir d;
  d.write("cluster.yaml", R"(apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels:
    warren.io/mode: enabled
---
apiVersion: v1
kind: Pod
metadata:
  name: checkout
  namespace: payments
  uid: 1234-abcd
  labels: {app: checkout}
spec:
  serviceAccountName: checkout-sa
  nodeName: node1
status:
  podIP: 10.1.0.5
  podIPs:
  - ip: 10.1.0.5
  - ip: fd00::5
---
apiVersion: v1
kind: Pod
metadata:
  name: bare
status:
  podIP: 10.1.0.6
---
apiVersion: v1
kind: Service
metadata:
  name: skipped-for-now
)");
  auto s = loadDirectory(d.path);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->errors.empty()) << s->errors.front().message;
  ASSERT_EQ(s->namespaces.count("payments"), 1u);
  EXPECT_EQ(s->namespaces["payments"].labels["warren.io/mode"], "enabled");
  const Pod& p = s->pods.at("payments/checkout");
  EXPECT_EQ(p.uid, "1234-abcd");
  EXPECT_EQ(p.serviceAccount, "checkout-sa");
  EXPECT_EQ(p.nodeName, "node1");
  EXPECT_EQ(p.labels.at("app"), "checkout");
  EXPECT_EQ(p.ips, (std::vector<std::string>{"10.1.0.5", "fd00::5"}));
  const Pod& bare = s->pods.at("default/bare");
  EXPECT_EQ(bare.uid, "default/bare");
  EXPECT_EQ(bare.serviceAccount, "default");
}

TEST(YamlSource, BadFilesAndObjectsAreReportedAndTheRestLoads) {
  TempDir d;
  d.write("a-good.yaml", "kind: Namespace\nmetadata: {name: good}\n---\nkind: Pod\nmetadata: {name: ok, namespace: good}\n"
                         "status: {podIP: 10.0.0.1}\n");
  d.write("b-broken.yaml", "kind: Pod\nmetadata: [unclosed\n");
  d.write("c-noip.yaml", "kind: Pod\nmetadata: {name: ghost, namespace: good}\nspec: {serviceAccountName: x}\n");
  d.write("d-badip.yaml", "kind: Pod\nmetadata: {name: bad, namespace: good}\nstatus: {podIP: 10.0.0.300}\n");
  d.write("e-dup.yaml", "kind: Pod\nmetadata: {name: ok, namespace: good}\nstatus: {podIP: 10.0.0.9}\n");
  d.write("f-shapes.yaml", "- just\n- a list\n---\nmetadata: {name: nokind}\n---\nkind: Pod\nmetadata: {}\n");
  d.write("notes.txt", "kind: Namespace\nmetadata: {name: ignored}\n");
  d.write(".hidden.yaml", "kind: Namespace\nmetadata: {name: hidden}\n");
  d.write("editor.yaml~", "kind: Namespace\nmetadata: {name: backup}\n");
  auto s = loadDirectory(d.path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->namespaces.size(), 1u);
  ASSERT_EQ(s->pods.size(), 1u);
  EXPECT_EQ(s->pods.at("good/ok").ips, std::vector<std::string>{"10.0.0.1"});  // first wins
  EXPECT_TRUE(hasError(*s, "b-broken.yaml, line 3: malformed YAML"));
  EXPECT_TRUE(hasError(*s, "pod good/ghost in"));
  EXPECT_TRUE(hasError(*s, "has no status.podIP"));
  EXPECT_TRUE(hasError(*s, "'10.0.0.300' is not an IP address"));
  EXPECT_TRUE(hasError(*s, "duplicate Pod good/ok"));
  EXPECT_TRUE(hasError(*s, "must be a mapping"));
  EXPECT_TRUE(hasError(*s, "has no kind"));
  EXPECT_TRUE(hasError(*s, "Pod has no metadata.name"));
  EXPECT_EQ(s->errors.size(), 7u);  // one per bad file or object above
}

TEST(YamlSource, Ipv6OnlyPodsAndPodIpsWithoutPodIp) {
  Snapshot s;
  loadDocuments("kind: Pod\nmetadata: {name: v6, namespace: mesh}\n"
                "status: {podIPs: [{ip: 'fd00::7'}, {ip: 'fd00::7'}, {ip: 10.2.0.7}]}\n",
                "/x/v6.yaml", s);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.pods.at("mesh/v6").ips, (std::vector<std::string>{"fd00::7", "10.2.0.7"}));
}

TEST(YamlSource, NoIpErrorNamesThePodTheFileAndTheField) {
  Snapshot s;
  loadDocuments("kind: Pod\nmetadata: {name: ghost, namespace: mesh}\n", "/x/noip.yaml", s);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_TRUE(s.pods.empty());
  EXPECT_TRUE(hasError(s, "pod mesh/ghost in /x/noip.yaml, line 1 has no status.podIP")) << s.errors[0].message;
}

TEST(YamlSource, BadIpInPodIpsListDropsThePod) {
  Snapshot s;
  loadDocuments("kind: Pod\nmetadata: {name: p}\nstatus: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}, {ip: nope}]}\n",
                "/x/p.yaml", s);
  EXPECT_TRUE(s.pods.empty());
  EXPECT_TRUE(hasError(s, "pod default/p in /x/p.yaml, line 1: 'nope' is not an IP address"));
}

TEST(YamlSource, OtherApiGroupsAndKindsAreSkippedSilently) {
  Snapshot s;
  loadDocuments("apiVersion: example.com/v1\nkind: Pod\nmetadata: {name: crd}\nstatus: {podIP: 10.0.0.1}\n---\n"
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n"
                "apiVersion: v1\nkind: Service\nmetadata: {}\n---\n"
                "---\n"
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: real}\n",
                "/x/mixed.yaml", s);
  EXPECT_TRUE(s.errors.empty()) << s.errors.front().message;
  EXPECT_TRUE(s.pods.empty());
  EXPECT_EQ(s.namespaces.count("real"), 1u);
}

TEST(YamlSource, DuplicateNamespaceKeepsTheFirstAndNamesIt) {
  Snapshot s;
  loadDocuments("kind: Namespace\nmetadata: {name: n, labels: {a: '1'}}\n---\n"
                "kind: Namespace\nmetadata: {name: n, labels: {a: '2'}}\n",
                "/x/ns.yaml", s);
  EXPECT_EQ(s.namespaces.at("n").labels.at("a"), "1");
  EXPECT_TRUE(hasError(s, "/x/ns.yaml, line 4: duplicate Namespace n"));
}

TEST(YamlSource, EditorAndToolTempFilesAreIgnored) {
  TempDir d;
  const std::string ns = "kind: Namespace\nmetadata: {name: NAME}\n";
  auto named = [&](const char* n) {
    std::string out = ns;
    out.replace(out.find("NAME"), 4, n);
    return out;
  };
  d.write("real.yml", named("real"));
  d.write(".real.yml.tmp", named("tmp"));
  d.write(".real.yml.swp", named("swp"));
  d.write("real.yml.swp", named("swp2"));
  d.write("#real.yml#", named("emacs"));
  d.write("real.yml~", named("backup"));
  fs::create_directory(d.path + "/sub.yaml");  // not recursive, and not a file
  d.write("sub.yaml/inner.yaml", named("inner"));
  auto s = loadDirectory(d.path);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->errors.empty());
  ASSERT_EQ(s->namespaces.size(), 1u);
  EXPECT_EQ(s->namespaces.count("real"), 1u);
}

TEST(YamlSource, UnreadableDirectoryFailsTheCall) {
  auto s = loadDirectory("/nonexistent/warren-cluster");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent/warren-cluster"), std::string::npos);
}

// ---- watcher -------------------------------------------------------------------------------

TEST(DirWatcher, ARenameIntoPlaceCallsBackWithinASecond) {
  TempDir d;
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  auto w = DirWatcher::start(d.path, [&] {
    std::lock_guard lock(mu);
    ++calls;
    cv.notify_all();
  });
  ASSERT_TRUE(w.ok());
  d.write(".ns.yaml.tmp", "kind: Namespace\nmetadata: {name: x}\n");
  fs::rename(d.path + "/.ns.yaml.tmp", d.path + "/ns.yaml");
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 1s, [&] { return calls > 0; }));
  // write + rename is one save: coalesced into one callback.
  EXPECT_FALSE(cv.wait_for(lock, 200ms, [&] { return calls > 1; }));
}

TEST(DirWatcher, StopsPromptly) {
  TempDir d;
  auto w = DirWatcher::start(d.path, [] {});
  ASSERT_TRUE(w.ok());
  auto start = std::chrono::steady_clock::now();
  w->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

TEST(DirWatcher, ADeleteCallsBackAndStoppingMidDebounceIsPrompt) {
  TempDir d;
  d.write("pod.yaml", "kind: Namespace\nmetadata: {name: x}\n");
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  auto w = DirWatcher::start(d.path, [&] {
    std::lock_guard lock(mu);
    ++calls;
    cv.notify_all();
  });
  ASSERT_TRUE(w.ok());
  fs::remove(d.path + "/pod.yaml");
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 1s, [&] { return calls > 0; }));
  }
  // An event still inside its debounce window must not hold up shutdown.
  d.write("again.yaml", "x: 1\n");
  auto start = std::chrono::steady_clock::now();
  w->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

TEST(DirWatcher, MissingDirectoryIsAnError) {
  auto w = DirWatcher::start("/nonexistent/warren-watch", [] {});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("/nonexistent/warren-watch"), std::string::npos);
}

}  // namespace
}  // namespace warren::source
