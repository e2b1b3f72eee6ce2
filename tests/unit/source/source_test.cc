// The standalone YAML source and the enrollment decision, without BPF.

#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <gtest/gtest.h>

#include "source/dir_watcher.h"
#include "source/enrollment.h"
#include "source/node_view.h"
#include "source/yaml_source.h"

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
      {"istio ambient label enables", {{"istio.io/dataplane-mode", "ambient"}}, {}, true, "n1", "n1", true, "ambient"},
      {"no label: not enrolled", {}, {}, true, "n1", "n1", false, "not enabled"},
      {"wrong value: not enrolled", {{"warren.io/mode", "yes"}}, {}, true, "n1", "n1", false, "not enabled"},
      {"istio sidecar-ish value is not ambient",
       {{"istio.io/dataplane-mode", "sidecar"}},
       {},
       true,
       "n1",
       "n1",
       false,
       "not enabled"},
      {"namespace disabled explicitly",
       {{"warren.io/mode", "disabled"}, {"istio.io/dataplane-mode", "ambient"}},
       {},
       true,
       "n1",
       "n1",
       false,
       "warren.io/mode=disabled"},
      {"pod opts out",
       {{"warren.io/mode", "enabled"}},
       {{"warren.io/mode", "disabled"}},
       true,
       "n1",
       "n1",
       false,
       "opts out"},
      {"pod opts out the istio way",
       {{"istio.io/dataplane-mode", "ambient"}},
       {{"istio.io/dataplane-mode", "none"}},
       true,
       "n1",
       "n1",
       false,
       "opts out"},
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
  void write(const std::string& name, const std::string& text) { std::ofstream(path + "/" + name) << text; }
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
  d.write("a-good.yaml",
          "kind: Namespace\nmetadata: {name: good}\n---\nkind: Pod\nmetadata: {name: ok, namespace: good}\n"
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
  ASSERT_EQ(s->pods.size(), 2u);
  EXPECT_EQ(s->pods.at("good/ok").ips, std::vector<std::string>{"10.0.0.1"});  // first wins
  // Without an IP a Pod still names its identity (the runtime gives the address).
  EXPECT_TRUE(s->pods.at("good/ghost").ips.empty());
  EXPECT_EQ(s->pods.at("good/ghost").serviceAccount, "x");
  EXPECT_TRUE(hasError(*s, "b-broken.yaml, line 3: malformed YAML"));
  EXPECT_TRUE(hasError(*s, "'10.0.0.300' is not an IP address"));
  EXPECT_TRUE(hasError(*s, "duplicate Pod good/ok"));
  EXPECT_TRUE(hasError(*s, "must be a mapping"));
  EXPECT_TRUE(hasError(*s, "has no kind"));
  EXPECT_TRUE(hasError(*s, "Pod has no metadata.name"));
  EXPECT_EQ(s->errors.size(), 6u);  // one per bad file or object above
}

// yaml-cpp 0.7's LoadAll loops forever, allocating, on a document that starts with
// ',' (found by tests/fuzz istio_yaml); the source reads one document at a time.
TEST(YamlSource, ADocumentStartingWithACommaDoesNotStopTheFile) {
  Snapshot s;
  loadDocuments(",\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: after}\n---\n,x: y\n", "comma.yaml", s);
  EXPECT_EQ(s.namespaces.count("after"), 1u);
}

TEST(YamlSource, DocumentsKeepTheirLinesAcrossMarkersEndMarkersAndDirectives) {
  Snapshot s;
  loadDocuments(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"  // lines 1-3
      "...\n"                                                   // 4: the end of a document
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"  // 5-7: no '---' before it
      "%YAML 1.2\n"                                             // 8: belongs to the next document
      "---\n"                                                   // 9
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nstatus: {podIP: nope}\n",  // 10-13
      "docs.yaml", s);
  EXPECT_EQ(s.namespaces.count("a"), 1u);
  EXPECT_EQ(s.namespaces.count("b"), 1u);
  EXPECT_TRUE(hasError(s, "docs.yaml, line 10: 'nope' is not an IP address"))
      << (s.errors.empty() ? "" : s.errors[0].message);

  Snapshot broken;
  loadDocuments("a: 1\n---\nb: [\n", "broken.yaml", broken);
  // Where the unclosed '[' meets the end of the text, as LoadAll reported it.
  EXPECT_TRUE(hasError(broken, "broken.yaml, line 4")) << (broken.errors.empty() ? "" : broken.errors[0].message);
}

TEST(YamlSource, Ipv6OnlyPodsAndPodIpsWithoutPodIp) {
  Snapshot s;
  loadDocuments(
      "kind: Pod\nmetadata: {name: v6, namespace: mesh}\n"
      "status: {podIPs: [{ip: 'fd00::7'}, {ip: 'fd00::7'}, {ip: 10.2.0.7}]}\n",
      "/x/v6.yaml", s);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.pods.at("mesh/v6").ips, (std::vector<std::string>{"fd00::7", "10.2.0.7"}));
}

TEST(YamlSource, EndpointSlicesAreReadWithTheirServiceReadinessAndTcpPorts) {
  Snapshot s;
  loadDocuments(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: mesh, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432}, {name: dns, port: 53, protocol: UDP}, {name: all}]
endpoints:
- addresses: [10.244.1.5]
- addresses: [10.244.1.6]
  conditions: {ready: false}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: orphan, namespace: mesh}
addressType: IPv4
endpoints: [{addresses: [10.244.1.7]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: bad, namespace: mesh, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
endpoints: [{addresses: [not-an-ip]}]
)",
                "/x/slices.yaml", s);
  ASSERT_EQ(s.endpointSlices.size(), 1u);  // the orphan names no Service; the bad one is reported
  const EndpointSlice& slice = s.endpointSlices.at("mesh/db-1");
  EXPECT_EQ(slice.serviceName, "db");
  ASSERT_EQ(slice.ports.size(), 1u);  // TCP ports with a number only
  EXPECT_EQ(slice.ports[0].name, "pg");
  EXPECT_EQ(slice.ports[0].port, 5432u);
  ASSERT_EQ(slice.endpoints.size(), 2u);
  EXPECT_TRUE(slice.endpoints[0].ready);
  EXPECT_FALSE(slice.endpoints[1].ready);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].message.find("'not-an-ip' is not an IP address"), std::string::npos) << s.errors[0].message;
}

TEST(YamlSource, PodWithoutAnIpIsKeptForItsIdentity) {
  Snapshot s;
  loadDocuments("kind: Pod\nmetadata: {name: ghost, namespace: mesh}\nspec: {serviceAccountName: g}\n", "/x/noip.yaml",
                s);
  EXPECT_TRUE(s.errors.empty());
  ASSERT_EQ(s.pods.count("mesh/ghost"), 1u);
  EXPECT_TRUE(s.pods.at("mesh/ghost").ips.empty());
  EXPECT_EQ(s.pods.at("mesh/ghost").serviceAccount, "g");
}

TEST(Enrollment, CapturingNamespacesAreThoseWhoseLabelsEnableCapture) {
  Snapshot s;
  s.namespaces["payments"] = {"payments", {{kModeLabel, kModeEnabled}}};
  s.namespaces["ambient"] = {"ambient", {{kIstioModeLabel, kIstioAmbient}}};
  s.namespaces["vetoed"] = {"vetoed", {{kModeLabel, kModeDisabled}, {kIstioModeLabel, kIstioAmbient}}};
  s.namespaces["plain"] = {"plain", {}};
  EXPECT_EQ(capturingNamespaces(s), (std::set<std::string>{"ambient", "payments"}));
}

TEST(Enrollment, HostNetworkPodIsNeverCapturedEvenInAnEnabledNamespace) {
  Namespace ns{"apps", {{"warren.io/mode", "enabled"}}};
  Pod pod;
  pod.name = "node-exporter";
  pod.ns = "apps";
  pod.hostNetwork = true;
  auto d = decideEnrollment(&ns, pod, "");
  EXPECT_FALSE(d.enrolled);
  EXPECT_NE(d.reason.find("host network"), std::string::npos) << d.reason;
}

TEST(YamlSource, HostNetworkIsReadAndANonBooleanDropsThePod) {
  Snapshot s;
  loadDocuments(
      "kind: Pod\nmetadata: {name: h}\nspec: {hostNetwork: true}\nstatus: {podIP: 10.0.0.1}\n---\n"
      "kind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: false}\nstatus: {podIP: 10.0.0.2}\n---\n"
      "kind: Pod\nmetadata: {name: bad}\nspec: {hostNetwork: maybe}\nstatus: {podIP: 10.0.0.3}\n",
      "/x/h.yaml", s);
  ASSERT_EQ(s.pods.size(), 2u);
  EXPECT_TRUE(s.pods.at("default/h").hostNetwork);
  EXPECT_FALSE(s.pods.at("default/p").hostNetwork);
  EXPECT_TRUE(hasError(s, "pod default/bad in /x/h.yaml")) << (s.errors.empty() ? "" : s.errors[0].message);
  EXPECT_TRUE(hasError(s, "spec.hostNetwork 'maybe' is not a boolean"));
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
  loadDocuments(
      "apiVersion: example.com/v1\nkind: Pod\nmetadata: {name: crd}\nstatus: {podIP: 10.0.0.1}\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n"
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {}\n---\n"
      "apiVersion: example.com/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: NOPE}\n---\n"
      "---\n"
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: real}\n",
      "/x/mixed.yaml", s);
  EXPECT_TRUE(s.errors.empty()) << s.errors.front().message;
  EXPECT_TRUE(s.pods.empty());
  EXPECT_TRUE(s.authorizationPolicies.empty());
  EXPECT_EQ(s.namespaces.count("real"), 1u);
}

TEST(YamlSource, ServicesWithTargetPortsNamedPortsAndHeadless) {
  Snapshot s;
  loadDocuments(R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00:96::10"]
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: admin, port: 9000, targetPort: admin-port}
  - {name: same, port: 7000}
  - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: shop}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: bad, namespace: shop}
spec: {clusterIP: 10.96.0.300, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: c, ports: [{name: admin-port, containerPort: 9100}]}]
status: {podIP: 10.244.1.5, phase: Running, conditions: [{type: Ready, status: "False"}]}
)",
                "/x/svc.yaml", s);
  ASSERT_EQ(s.services.count("shop/web"), 1u);
  const auto& web = s.services.at("shop/web");
  EXPECT_EQ(web.clusterIPs, (std::vector<std::string>{"10.96.0.10", "fd00:96::10"}));
  ASSERT_EQ(web.ports.size(), 3u);  // UDP is not carried
  EXPECT_EQ(web.ports[0].targetPort, 8080u);
  EXPECT_EQ(web.ports[1].targetPortName, "admin-port");
  EXPECT_EQ(web.ports[2].targetPort, 0u);  // same as port
  EXPECT_TRUE(s.services.at("shop/headless").clusterIPs.empty());
  EXPECT_EQ(s.services.count("shop/bad"), 0u);
  EXPECT_TRUE(hasError(s, "service shop/bad in /x/svc.yaml, line 19: clusterIP '10.96.0.300' is not an IP address"));
  const auto& pod = s.pods.at("shop/web-1");
  EXPECT_FALSE(pod.ready);
  EXPECT_EQ(pod.namedPorts.at("admin-port"), 9100u);
}

TEST(YamlSource, IstioSecurityObjectsAsOperatorsWriteThem) {
  Snapshot s;
  loadDocuments(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop, annotations: {istio.io/dry-run: "true"}}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/a/sa/b"], notIpBlocks: [10.0.0.0/8]}}]
    to: [{operation: {ports: ["8080"]}}]
    when: [{key: source.namespace, values: [a], notValues: [b]}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: typo, namespace: shop}
spec: {rules: [{from: [{source: {principal: [x]}}]}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: PERMISSIVE}}}
)",
                "/x/sec.yaml", s);
  EXPECT_TRUE(s.errors.empty()) << s.errors.front().message;
  const auto& p = s.authorizationPolicies.at("shop/allow-web");
  EXPECT_TRUE(p.dryRun);
  EXPECT_TRUE(p.selector.present);
  EXPECT_EQ(p.selector.matchLabels.at("app"), "web");
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].from[0].fields.at("principals")[0], "cluster.local/ns/a/sa/b");
  EXPECT_EQ(p.rules[0].from[0].fields.at("notIpBlocks")[0], "10.0.0.0/8");
  EXPECT_EQ(p.rules[0].to[0].fields.at("ports")[0], "8080");
  EXPECT_EQ(p.rules[0].when[0].notValues[0], "b");
  EXPECT_TRUE(p.invalid.empty());
  // A misspelt field is kept as invalid (the tunnel then fails closed), never as an
  // empty field that would match everything.
  ASSERT_EQ(s.authorizationPolicies.at("shop/typo").invalid.size(), 1u);
  EXPECT_EQ(s.authorizationPolicies.at("shop/typo").invalid[0],
            "rules[0].from.source: unknown field 'principal' (line 15)");
  const auto& pa = s.peerAuthentications.at("istio-system/default");
  EXPECT_EQ(pa.mode, "STRICT");
  EXPECT_EQ(pa.portLevel.at(8080), "PERMISSIVE");
}

// Every key Istio does not define is reported with its line, as kubectl's strict
// field validation would: dropped silently, a misplaced key would widen the policy.
TEST(YamlSource, UnknownFieldsAnywhereInAPolicyAreInvalidWithTheirLine) {
  Snapshot s;
  loadDocuments(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: misplaced, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {namespaces: [a]}}]
  to: [{operation: {paths: ["/admin"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: typos, namespace: shop}
spec:
  action: ALLOW
  rules:
  - too: [{operation: {methods: [GET]}}]
    when:
    - key: request.headers[x]
      value: [a]
    from:
    - sourse: {namespaces: [a]}
  selector:
    matchLabel: {app: web}
rules: []
)",
                "/x/typo.yaml", s);
  EXPECT_TRUE(s.errors.empty());
  const auto& misplaced = s.authorizationPolicies.at("shop/misplaced");
  EXPECT_EQ(misplaced.where, "/x/typo.yaml, line 1");
  ASSERT_EQ(misplaced.invalid.size(), 1u);
  EXPECT_EQ(misplaced.invalid[0], "spec: unknown field 'to' (line 9)");

  const auto& typos = s.authorizationPolicies.at("shop/typos");
  EXPECT_EQ(typos.where, "/x/typo.yaml, line 11");
  std::vector<std::string> want = {
      "document: unknown field 'rules' (line 25)",      "spec.selector: unknown field 'matchLabel' (line 24)",
      "rules[0]: unknown field 'too' (line 17)",        "rules[0].from: unknown field 'sourse' (line 22)",
      "rules[0].when: unknown field 'value' (line 20)",
  };
  for (const auto& w : want)
    EXPECT_NE(std::find(typos.invalid.begin(), typos.invalid.end(), w), typos.invalid.end()) << w;
  EXPECT_EQ(typos.invalid.size(), want.size());
}

TEST(YamlSource, TargetRefsSingularAndListWithNamespaceDefault) {
  Snapshot s;
  loadDocuments(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: list, namespace: shop}
spec:
  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}
  - {kind: Service, group: "", name: api, namespace: other}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: one, namespace: shop}
spec:
  targetRef: {kind: Service, group: core, name: web}
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: shop}
spec:
  targetRefs:
  - {kind: Gateway, name: waypoint, sectionName: http}
  - {group: gateway.networking.k8s.io}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: none, namespace: shop}
spec: {selector: {matchLabels: {app: web}}}
)",
                "/x/refs.yaml", s);
  EXPECT_TRUE(s.errors.empty());
  const auto& list = s.authorizationPolicies.at("shop/list");
  EXPECT_TRUE(list.hasTargetRef);
  EXPECT_TRUE(list.invalid.empty()) << list.invalid.front();
  ASSERT_EQ(list.targetRefs.size(), 2u);
  EXPECT_EQ(list.targetRefs[0].group, "gateway.networking.k8s.io");
  EXPECT_EQ(list.targetRefs[0].kind, "Gateway");
  EXPECT_EQ(list.targetRefs[0].name, "waypoint");
  EXPECT_EQ(list.targetRefs[0].ns, "shop");
  EXPECT_EQ(list.targetRefs[1].group, "");
  EXPECT_EQ(list.targetRefs[1].kind, "Service");
  EXPECT_EQ(list.targetRefs[1].ns, "other");

  const auto& one = s.authorizationPolicies.at("shop/one");
  EXPECT_TRUE(one.hasTargetRef);
  EXPECT_TRUE(one.invalid.empty());
  ASSERT_EQ(one.targetRefs.size(), 1u);
  EXPECT_EQ(one.targetRefs[0].group, "core");
  EXPECT_EQ(one.targetRefs[0].name, "web");
  EXPECT_EQ(one.targetRefs[0].ns, "shop");

  const auto& bad = s.authorizationPolicies.at("shop/bad");
  EXPECT_TRUE(bad.hasTargetRef);
  ASSERT_EQ(bad.invalid.size(), 2u);
  EXPECT_EQ(bad.invalid[0], "targetRefs[0]: unknown field 'sectionName' (line 21)");
  EXPECT_EQ(bad.invalid[1], "targetRefs[1] needs kind and name (line 22)");

  const auto& none = s.authorizationPolicies.at("shop/none");
  EXPECT_FALSE(none.hasTargetRef);
  EXPECT_TRUE(none.targetRefs.empty());
}

TEST(YamlSource, DuplicateNamespaceKeepsTheFirstAndNamesIt) {
  Snapshot s;
  loadDocuments(
      "kind: Namespace\nmetadata: {name: n, labels: {a: '1'}}\n---\n"
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

// ---- What the node agent keeps (node_view.h) -----------------------------------------------

std::string podOn(const std::string& name, const std::string& node) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: shop}\nspec: {" +
         (node.empty() ? "" : "nodeName: " + node) + "}\nstatus: {podIP: 10.1.0." + std::to_string(name.size()) +
         "}\n---\n";
}

// Two files, so that "as it goes" shows: the other node's pods of the first file
// are gone before the second is read.
void writeTwoNodeCluster(TempDir& d) {
  d.write("a.yaml",
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {warren.io/mode: enabled}}\n---\n" +
              podOn("mine", "node1") + podOn("theirs", "node2") + podOn("anywhere", "") +
              "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
              "spec: {clusterIP: 10.96.0.1, selector: {app: web}, ports: [{port: 80}]}\n---\n");
  d.write("b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: bank}\n---\n" + podOn("theirs-too", "node3") +
                        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                        "metadata: {name: deny, namespace: bank}\nspec: {action: DENY, rules: [{}]}\n---\n"
                        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: bank}\n"
                        "status: {podIP: not-an-ip}\n");
}

TEST(NodeView, TheAgentKeepsEveryNamespaceAndOnlyItsNodesPods) {
  TempDir d;
  writeTwoNodeCluster(d);
  auto s = loadNodeView(d.path, "node1");
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::vector<std::string> pods;
  for (const auto& [key, p] : s->pods) pods.push_back(key);
  // An unscheduled pod (no spec.nodeName, as standalone files often have it) may be ours.
  EXPECT_EQ(pods, (std::vector<std::string>{"shop/anywhere", "shop/mine"}));
  EXPECT_EQ(s->namespaces.size(), 2u);
  EXPECT_EQ(s->namespaces.at("shop").labels.at("warren.io/mode"), "enabled");
  // Nothing the agent does not read.
  EXPECT_TRUE(s->services.empty());
  EXPECT_TRUE(s->authorizationPolicies.empty());
  // Problems with the files are still said.
  EXPECT_TRUE(hasError(*s, "not-an-ip"));
}

TEST(NodeView, AnAgentWithoutANodeNameKeepsEveryPod) {
  TempDir d;
  writeTwoNodeCluster(d);
  auto s = loadNodeView(d.path, "");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->pods.size(), 4u);
}

TEST(NodeView, OtherNodesPodsAreDroppedAfterEachFileNotAtTheEnd) {
  TempDir d;
  writeTwoNodeCluster(d);
  std::vector<size_t> podsSeen;
  auto s = loadDirectory(d.path, [&](Snapshot& snap) {
    podsSeen.push_back(snap.pods.size());
    keepNodeView(snap, "node1");
  });
  ASSERT_TRUE(s.ok());
  // a.yaml: 3 pods read, 2 kept; b.yaml adds 1 (node3's), which goes too.
  EXPECT_EQ(podsSeen, (std::vector<size_t>{3, 3}));
  EXPECT_EQ(s->pods.size(), 2u);
}

TEST(NodeView, KeptOnNodeReadsNodeNameAsDecideEnrollmentDoes) {
  Pod p;
  p.nodeName = "node1";
  EXPECT_TRUE(keptOnNode(p, "node1"));
  EXPECT_FALSE(keptOnNode(p, "node2"));
  EXPECT_TRUE(keptOnNode(p, ""));
  p.nodeName = "";
  EXPECT_TRUE(keptOnNode(p, "node2"));
}

}  // namespace
}  // namespace warren::source
