// Every kustomize overlay in daemonset/overlays, rendered by `kubectl kustomize`
// (Debian's kubectl 1.20 renders them as later ones do), checked for what a node
// needs: objects that parse with their required fields, the DaemonSet's
// arguments only using flags the binaries of this build tree accept (their
// --help), probes on the ports those flags give, the downward-API environment,
// bpffs propagation, the host's cgroup hierarchy, the CNI layout each overlay
// names, istiod's token and root certificate, and roles that grant every
// request the agent (and, standalone, the tunnel) makes (source/kube/permissions.cc,
// the code's own list) and nothing neither of them makes.

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "source/kube/permissions.h"
#include "source/kube/removal.h"
#include "tests/support/cluster.h"

namespace warren {
namespace {

namespace fs = std::filesystem;
const std::string kSourceDir = WARREN_SOURCE_DIR;
const std::string kBinDir = WARREN_BIN_DIR;

// The flags a binary's --help lists ("--node NAME" -> "--node").
std::set<std::string> helpFlags(const std::string& binary) {
  std::string out;
  EXPECT_EQ(e2e::runCommand({kBinDir + "/" + binary, "--help"}, &out), 0) << out;
  std::set<std::string> flags;
  static const std::regex flag(R"((^|\s)(--[a-z][a-z0-9-]*))");
  for (std::sregex_iterator it(out.begin(), out.end(), flag), end; it != end; ++it) flags.insert((*it)[2]);
  return flags;
}

std::vector<YAML::Node> render(const std::string& overlay) {
  std::string out;
  // stderr joins stdout in runCommand: kustomize's deprecation warnings are '#' comments.
  const int st = e2e::runCommand({"kubectl", "kustomize", overlay}, &out);
  EXPECT_EQ(st, 0) << overlay << ":\n" << out;
  std::vector<YAML::Node> docs;
  try {
    for (auto& d : YAML::LoadAll(out))
      if (d.IsMap()) docs.push_back(d);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << overlay << " does not parse: " << e.what() << "\n" << out;
  }
  return docs;
}

YAML::Node container(const YAML::Node& ds, const std::string& name) {
  for (const auto& c : ds["spec"]["template"]["spec"]["containers"])
    if (c["name"].as<std::string>() == name) return c;
  return YAML::Node();
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  if (seq && seq.IsSequence())
    for (const auto& s : seq) out.push_back(s.as<std::string>());
  return out;
}

// "--flag=value" or "--flag value": the value, "" when absent.
std::string argValue(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].starts_with(flag + "=")) return args[i].substr(flag.size() + 1);
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
  }
  return "";
}

int portOf(const std::string& address, int fallback) {
  return address.empty() ? fallback : std::stoi(address.substr(address.rfind(':') + 1));
}

struct Layout {
  std::string bin, net;
};
// What each overlay's name promises (README "Install on a cluster").
Layout expectedLayout(const std::string& overlay) {
  if (overlay.ends_with("-k3s"))
    return {"/var/lib/rancher/k3s/data/current/bin", "/var/lib/rancher/k3s/agent/etc/cni/net.d"};
  if (overlay.ends_with("-openshift")) return {"/var/lib/cni/bin", "/etc/kubernetes/cni/net.d"};
  return {"/opt/cni/bin", "/etc/cni/net.d"};
}

// The roles bound to `account` of namespace `ns` (ClusterRoles, and Roles in
// that namespace) grant every one of `permissions` and nothing else: each right
// an account holds must be one its binaries use. A rule naming objects
// (resourceNames) covers the one named request the code makes: the agent's
// removal check of its own DaemonSet (`daemonSet`), by its name.
void expectBoundRolesGrantExactly(const std::vector<YAML::Node>& docs, const std::string& account,
                                  const std::string& ns, const std::string& daemonSet,
                                  const std::vector<source::kube::ApiPermission>& permissions,
                                  const std::string& name) {
  std::map<std::string, YAML::Node> roles;  // "ClusterRole/name", "Role/name"
  for (const auto& d : docs) {
    const std::string kind = d["kind"].as<std::string>();
    if (kind == "ClusterRole" || (kind == "Role" && d["metadata"]["namespace"].as<std::string>("") == ns))
      roles.emplace(kind + "/" + d["metadata"]["name"].as<std::string>(), d);
  }
  std::vector<YAML::Node> boundRules;
  for (const auto& d : docs) {
    const std::string kind = d["kind"].as<std::string>();
    if (kind != "ClusterRoleBinding" && kind != "RoleBinding") continue;
    bool bound = false;
    for (const auto& s : d["subjects"])
      bound |= s["kind"].as<std::string>() == "ServiceAccount" && s["name"].as<std::string>() == account &&
               s["namespace"].as<std::string>("") == ns;
    const std::string role = d["roleRef"]["kind"].as<std::string>() + "/" + d["roleRef"]["name"].as<std::string>();
    EXPECT_TRUE(roles.count(role)) << name << ": " << d["metadata"]["name"] << " binds a missing " << role;
    if (bound && roles.count(role))
      for (const auto& rule : roles[role]["rules"]) boundRules.push_back(rule);
  }
  EXPECT_FALSE(boundRules.empty()) << name << ": no role is bound to the account " << ns << "/" << account;
  auto has = [](const YAML::Node& list, const std::string& v) {
    for (const auto& x : list)
      if (x.as<std::string>() == v || x.as<std::string>() == "*") return true;
    return false;
  };
  auto covers = [&](const YAML::Node& rule, const std::string& group, const std::string& resource,
                    const std::string& verb) {
    if (!has(rule["apiGroups"], group) || !has(rule["resources"], resource) || !has(rule["verbs"], verb)) return false;
    if (!rule["resourceNames"]) return true;
    return group == source::kube::kRemovalCheckGroup && resource == source::kube::kRemovalCheckResource &&
           has(rule["resourceNames"], daemonSet);
  };
  for (const auto& p : permissions)
    for (const auto& verb : p.verbs) {
      bool granted = false;
      for (const auto& rule : boundRules) granted |= covers(rule, p.apiGroup, p.resource, verb);
      EXPECT_TRUE(granted) << name << ": no bound role grants " << verb << " " << p.resource << " (group \""
                           << p.apiGroup << "\"), which " << p.usedFor;
    }
  for (const auto& rule : boundRules)
    for (const auto& group : strings(rule["apiGroups"]))
      for (const auto& resource : strings(rule["resources"]))
        for (const auto& verb : strings(rule["verbs"])) {
          const bool used = std::any_of(permissions.begin(), permissions.end(), [&](const auto& p) {
            return p.apiGroup == group && p.resource == resource &&
                   std::find(p.verbs.begin(), p.verbs.end(), verb) != p.verbs.end();
          });
          EXPECT_TRUE(used) << name << ": the account " << ns << "/" << account << " is granted " << verb << " "
                            << resource << " (group \"" << group << "\"), which none of its binaries asks for";
        }
}

std::vector<std::string> overlays() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kSourceDir + "/daemonset/overlays"))
    if (fs::exists(e.path() / "kustomization.yaml")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DeployManifests, EveryLayoutAndModeHasAnOverlay) {
  const std::vector<std::string> want = {"istiod",     "istiod-k3s",     "istiod-openshift",
                                         "standalone", "standalone-k3s", "standalone-openshift"};
  EXPECT_EQ(overlays(), want);
}

class OverlayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OverlayTest, RendersANodeThatRuns) {
  const std::string name = GetParam();
  const bool istiod = name.starts_with("istiod");
  const auto docs = render(kSourceDir + "/daemonset/overlays/" + name);
  ASSERT_FALSE(docs.empty());

  std::map<std::string, YAML::Node> byKind;
  for (const auto& d : docs) {
    ASSERT_TRUE(d["apiVersion"] && d["kind"] && d["metadata"]["name"]) << YAML::Dump(d);
    const std::string kind = d["kind"].as<std::string>();
    if (kind != "Namespace" && kind != "ClusterRole" && kind != "ClusterRoleBinding") {
      EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(""), "warren-system") << kind;
    }
    // emplace, never operator=: assigning to a YAML::Node that holds a document
    // rewrites that document (a second ClusterRole would overwrite the first).
    byKind.emplace(kind, d);
  }
  for (const char* kind : {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                           "ConfigMap", "DaemonSet"})
    ASSERT_TRUE(byKind.count(kind)) << name << " has no " << kind;

  const YAML::Node ds = byKind["DaemonSet"];
  const YAML::Node pod = ds["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["hostNetwork"].as<bool>(false));
  EXPECT_TRUE(pod["hostPID"].as<bool>(false));
  EXPECT_EQ(pod["dnsPolicy"].as<std::string>(""), "ClusterFirstWithHostNet");
  EXPECT_EQ(pod["serviceAccountName"].as<std::string>(""),
            byKind["ServiceAccount"]["metadata"]["name"].as<std::string>());
  EXPECT_EQ(ds["spec"]["selector"]["matchLabels"]["app"].as<std::string>(""),
            ds["spec"]["template"]["metadata"]["labels"]["app"].as<std::string>("?"));

  // Hitless upgrade: the new pod starts beside the old one (surge), which a
  // declared port would forbid (with hostNetwork it is a hostPort the scheduler
  // will not place twice on a node); the tunnel's drain deadline follows the pod's
  // grace period.
  EXPECT_EQ(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxSurge"].as<int>(0), 1);
  EXPECT_EQ(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"].as<int>(-1), 0);
  for (const auto& c : pod["containers"]) EXPECT_FALSE(c["ports"]) << c["name"] << " declares ports (hostPorts)";
  {
    std::string grace;
    for (const auto& e : container(ds, "tunnel")["env"])
      if (e["name"].as<std::string>() == "TERMINATION_GRACE_PERIOD_SECONDS") grace = e["value"].as<std::string>("");
    EXPECT_EQ(grace, std::to_string(pod["terminationGracePeriodSeconds"].as<int>(-1)));
  }

  std::map<std::string, YAML::Node> volumes;
  for (const auto& v : pod["volumes"]) volumes[v["name"].as<std::string>()] = YAML::Node(v);
  for (const auto& c : pod["containers"]) {
    const std::string cname = c["name"].as<std::string>();
    EXPECT_TRUE(c["image"]) << cname;
    EXPECT_TRUE(c["securityContext"]["privileged"].as<bool>(false)) << cname;
    for (const auto& m : c["volumeMounts"])
      EXPECT_TRUE(volumes.count(m["name"].as<std::string>())) << cname << " mounts a missing volume " << m["name"];
  }

  // The arguments, against the binaries' own --help.
  const YAML::Node agent = container(ds, "agent"), tunnel = container(ds, "tunnel"), cni = container(ds, "install-cni");
  ASSERT_TRUE(agent && tunnel && cni);
  const std::map<std::string, std::string> binaryOf = {{"agent", "warren-agent"}, {"tunnel", "warren-tunnel"}};
  for (const auto& [cname, binary] : binaryOf) {
    const YAML::Node c = container(ds, cname);
    EXPECT_EQ(strings(c["command"]), std::vector<std::string>{"/usr/local/bin/" + binary});
    const auto accepted = helpFlags(binary);
    for (const auto& a : strings(c["args"])) {
      if (!a.starts_with("--")) continue;
      const std::string flag = a.substr(0, a.find('='));
      EXPECT_TRUE(accepted.count(flag)) << name << ": " << binary << " does not accept " << flag;
    }
  }
  const auto agentArgs = strings(agent["args"]), tunnelArgs = strings(tunnel["args"]);
  EXPECT_NE(std::find(agentArgs.begin(), agentArgs.end(), "--kube"), agentArgs.end());
  EXPECT_FALSE(argValue(agentArgs, "--node").empty());
  EXPECT_EQ(argValue(agentArgs, "--cgroup"), "") << "the cgroup2 root is detected, never given";

  // Probes on the ports the flags open.
  const int agentHealth = portOf(argValue(agentArgs, "--health-address"), -1);
  ASSERT_GT(agentHealth, 0) << "the agent's probes need --health-address";
  EXPECT_EQ(agent["livenessProbe"]["httpGet"]["port"].as<int>(0), agentHealth);
  EXPECT_EQ(agent["livenessProbe"]["httpGet"]["path"].as<std::string>(""), "/healthz/live");
  EXPECT_EQ(agent["readinessProbe"]["httpGet"]["port"].as<int>(0), agentHealth);
  EXPECT_EQ(agent["readinessProbe"]["httpGet"]["path"].as<std::string>(""), "/healthz/ready");
  EXPECT_EQ(tunnel["readinessProbe"]["httpGet"]["port"].as<int>(0),
            portOf(argValue(tunnelArgs, "--readiness-address"), 15021));
  EXPECT_EQ(tunnel["readinessProbe"]["httpGet"]["path"].as<std::string>(""), "/healthz/ready");
  EXPECT_EQ(tunnel["livenessProbe"]["httpGet"]["port"].as<int>(0),
            portOf(argValue(tunnelArgs, "--metrics-address"), 15020));

  // The downward API: the node's name for the agent's pod selector, and the
  // pod's name, namespace and IP for the tunnel's xDS node id.
  for (const YAML::Node& c : {agent, tunnel}) {
    std::map<std::string, std::string> fieldOf;
    for (const auto& e : c["env"])
      if (e["valueFrom"] && e["valueFrom"]["fieldRef"])
        fieldOf[e["name"].as<std::string>()] = e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>();
    EXPECT_EQ(fieldOf["NODE_NAME"], "spec.nodeName");
    EXPECT_EQ(fieldOf["POD_NAME"], "metadata.name");
    EXPECT_EQ(fieldOf["POD_NAMESPACE"], "metadata.namespace");
    EXPECT_EQ(fieldOf["INSTANCE_IP"], "status.podIP");
  }

  // Mounts: the agent's pins reach the host (Bidirectional), the host's cgroup
  // hierarchy where the agent looks for it.
  std::map<std::string, YAML::Node> agentMounts;
  for (const auto& m : agent["volumeMounts"]) agentMounts[m["mountPath"].as<std::string>()] = YAML::Node(m);
  ASSERT_TRUE(agentMounts.count("/sys/fs/bpf"));
  EXPECT_EQ(agentMounts["/sys/fs/bpf"]["mountPropagation"].as<std::string>(""), "Bidirectional");
  EXPECT_EQ(volumes[agentMounts["/sys/fs/bpf"]["name"].as<std::string>()]["hostPath"]["path"].as<std::string>(""),
            "/sys/fs/bpf");
  ASSERT_TRUE(agentMounts.count("/sys/fs/cgroup"));
  EXPECT_EQ(volumes[agentMounts["/sys/fs/cgroup"]["name"].as<std::string>()]["hostPath"]["path"].as<std::string>(""),
            "/sys/fs/cgroup");

  // The CNI layout: install-cni's directories are the host's for this overlay.
  std::map<std::string, std::string> cniEnv;
  for (const auto& e : cni["env"]) cniEnv[e["name"].as<std::string>()] = e["value"].as<std::string>("");
  std::map<std::string, std::string> hostOfMount;
  for (const auto& m : cni["volumeMounts"])
    hostOfMount[m["mountPath"].as<std::string>()] =
        volumes[m["name"].as<std::string>()]["hostPath"]["path"].as<std::string>("");
  const Layout layout = expectedLayout(name);
  EXPECT_EQ(hostOfMount[cniEnv["CNI_BIN_DIR"]], layout.bin) << name;
  EXPECT_EQ(hostOfMount[cniEnv["CNI_NET_DIR"]], layout.net) << name;
  EXPECT_EQ(strings(cni["command"]).at(0), "/usr/local/bin/install-cni.sh");
  EXPECT_FALSE(cniEnv["WARREN_DAEMONSET"].empty()) << "install-cni cannot tell an uninstall from a restart";

  // The CA and the cluster state.
  if (istiod) {
    EXPECT_FALSE(argValue(tunnelArgs, "--xds-address").empty());
    EXPECT_FALSE(argValue(tunnelArgs, "--ca-address").empty());
    EXPECT_FALSE(argValue(tunnelArgs, "--cluster-id").empty());
    const std::string token = argValue(tunnelArgs, "--ca-token-file");
    const std::string root = argValue(tunnelArgs, "--ca-root-cert");
    EXPECT_EQ(argValue(tunnelArgs, "--xds-token-file"), token);
    EXPECT_EQ(argValue(tunnelArgs, "--xds-root-cert"), root);
    // The token file is a projected token of audience istio-ca, the root
    // certificate istiod's istio-ca-root-cert ConfigMap.
    bool tokenOk = false, rootOk = false;
    for (const auto& m : tunnel["volumeMounts"]) {
      const std::string path = m["mountPath"].as<std::string>();
      const YAML::Node v = volumes[m["name"].as<std::string>()];
      if (v["projected"])
        for (const auto& s : v["projected"]["sources"])
          if (s["serviceAccountToken"] && token == path + "/" + s["serviceAccountToken"]["path"].as<std::string>())
            tokenOk = s["serviceAccountToken"]["audience"].as<std::string>("") == "istio-ca";
      if (v["configMap"] && root.starts_with(path + "/"))
        rootOk = v["configMap"]["name"].as<std::string>("") == "istio-ca-root-cert";
    }
    EXPECT_TRUE(tokenOk) << "--ca-token-file is not a projected token with audience istio-ca";
    EXPECT_TRUE(rootOk) << "--ca-root-cert is not from the istio-ca-root-cert ConfigMap";
  } else {
    EXPECT_TRUE(argValue(tunnelArgs, "--xds-address").empty());
    const std::string caDir = argValue(tunnelArgs, "--ca-dir");
    bool secret = false;
    for (const auto& m : tunnel["volumeMounts"])
      if (m["mountPath"].as<std::string>() == caDir)
        secret = volumes[m["name"].as<std::string>()]["secret"]["secretName"].as<std::string>("") == "warren-cacerts";
    EXPECT_TRUE(secret) << "standalone: --ca-dir must be the warren-cacerts Secret (one CA for every node)";
  }

  // RBAC: the roles bound to the DaemonSet's one account (ClusterRoles, and
  // Roles in its namespace) grant every request the agent makes, and in
  // standalone mode every one the tunnel makes; and nothing else: the account
  // is shared by both binaries (base/rbac.yaml says why), so each right it holds
  // must be one some binary of this pod uses.
  auto permissions = source::kube::agentPermissions();
  if (!istiod) {
    // Standalone: the tunnel's cluster state is the API's.
    EXPECT_NE(std::find(tunnelArgs.begin(), tunnelArgs.end(), "--kube"), tunnelArgs.end()) << name;
    EXPECT_EQ(argValue(tunnelArgs, "--config-dir"), "") << name << ": --kube and --config-dir exclude each other";
    for (auto& p : source::kube::tunnelPermissions()) permissions.push_back(std::move(p));
  }
  expectBoundRolesGrantExactly(docs, pod["serviceAccountName"].as<std::string>(),
                               ds["metadata"]["namespace"].as<std::string>(), ds["metadata"]["name"].as<std::string>(),
                               permissions, name);
}

// daemonset/waypoint: a Deployment of warren-waypoint for its Gateway, with flags
// the binary accepts, probes on its ports, its certificate from istiod (a token of
// audience istio-ca, istiod's root), its state from the API, never captured (the
// gateway-name label), and a role bound to its own account that grants exactly
// what warren-waypoint --kube asks.
TEST(DeployManifests, TheWaypointRunsAsItsGatewaysIdentityWithExactlyTheRightsItUses) {
  const auto docs = render(kSourceDir + "/daemonset/waypoint");
  YAML::Node deploy, gateway;
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == "Deployment") deploy = d;
    if (d["kind"].as<std::string>() == "Gateway") gateway = d;
  }
  ASSERT_TRUE(deploy && gateway);
  EXPECT_EQ(gateway["spec"]["gatewayClassName"].as<std::string>(""), "istio-waypoint");
  const std::string ns = deploy["metadata"]["namespace"].as<std::string>();
  const std::string gatewayName = gateway["metadata"]["name"].as<std::string>();
  EXPECT_EQ(gateway["metadata"]["namespace"].as<std::string>(""), ns);
  const YAML::Node pod = deploy["spec"]["template"]["spec"];
  EXPECT_EQ(
      deploy["spec"]["template"]["metadata"]["labels"]["gateway.networking.k8s.io/gateway-name"].as<std::string>(""),
      gatewayName)
      << "without the gateway-name label the agent would capture the waypoint's own pods";
  ASSERT_EQ(pod["containers"].size(), 1u);
  const YAML::Node c = pod["containers"][0];
  EXPECT_EQ(strings(c["command"]), std::vector<std::string>{"/usr/local/bin/warren-waypoint"});
  const auto args = strings(c["args"]);
  const auto accepted = helpFlags("warren-waypoint");
  for (const auto& a : args) {
    if (!a.starts_with("--")) continue;
    EXPECT_TRUE(accepted.count(a.substr(0, a.find('=')))) << "warren-waypoint does not accept " << a;
  }
  EXPECT_EQ(argValue(args, "--gateway"), ns + "/" + gatewayName);
  const std::string account = pod["serviceAccountName"].as<std::string>();
  EXPECT_EQ(argValue(args, "--service-account"), account);
  EXPECT_NE(std::find(args.begin(), args.end(), "--kube"), args.end()) << "L7 policies come from the API";
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<int>(0), portOf(argValue(args, "--readiness-address"), 15021));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(""), "/healthz/ready");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<int>(0), portOf(argValue(args, "--metrics-address"), 15020));

  // The certificate from istiod: a projected token of audience istio-ca, istiod's root.
  std::map<std::string, YAML::Node> volumes;
  for (const auto& v : pod["volumes"]) volumes[v["name"].as<std::string>()] = YAML::Node(v);
  const std::string token = argValue(args, "--ca-token-file"), root = argValue(args, "--ca-root-cert");
  EXPECT_FALSE(argValue(args, "--ca-address").empty());
  bool tokenOk = false, rootOk = false;
  for (const auto& m : c["volumeMounts"]) {
    const std::string path = m["mountPath"].as<std::string>();
    ASSERT_TRUE(volumes.count(m["name"].as<std::string>())) << "mounts a missing volume " << m["name"];
    const YAML::Node v = volumes[m["name"].as<std::string>()];
    if (v["projected"])
      for (const auto& src : v["projected"]["sources"])
        if (src["serviceAccountToken"] && token == path + "/" + src["serviceAccountToken"]["path"].as<std::string>())
          tokenOk = src["serviceAccountToken"]["audience"].as<std::string>("") == "istio-ca";
    if (v["configMap"] && root.starts_with(path + "/"))
      rootOk = v["configMap"]["name"].as<std::string>("") == "istio-ca-root-cert";
  }
  EXPECT_TRUE(tokenOk) << "--ca-token-file is not a projected token with audience istio-ca";
  EXPECT_TRUE(rootOk) << "--ca-root-cert is not from the istio-ca-root-cert ConfigMap";

  expectBoundRolesGrantExactly(docs, account, ns, "", source::kube::waypointPermissions(), "daemonset/waypoint");
}

// daemonset/examples/large-nodes, the README's way to choose resources: on top of
// the standalone overlay it changes the containers' requests and limits, and
// nothing else (any other difference would be a change the user did not ask for).
TEST(DeployManifests, TheLargeNodesExampleChangesOnlyResources) {
  auto byKey = [](const std::vector<YAML::Node>& docs) {
    std::map<std::string, YAML::Node> out;
    for (const auto& d : docs)
      out.emplace(d["kind"].as<std::string>() + "/" + d["metadata"]["name"].as<std::string>(), YAML::Clone(d));
    return out;
  };
  auto example = byKey(render(kSourceDir + "/daemonset/examples/large-nodes"));
  auto base = byKey(render(kSourceDir + "/daemonset/overlays/standalone"));
  ASSERT_FALSE(base.empty());
  ASSERT_EQ(example.size(), base.size());

  const std::string ds = "DaemonSet/warren-node";
  ASSERT_TRUE(example.count(ds) && base.count(ds));
  const YAML::Node agent = container(example[ds], "agent"), tunnel = container(example[ds], "tunnel");
  EXPECT_EQ(tunnel["resources"]["limits"]["memory"].as<std::string>(""), "1Gi");
  EXPECT_EQ(tunnel["resources"]["requests"]["cpu"].as<std::string>(""), "500m");
  EXPECT_EQ(agent["resources"]["limits"]["memory"].as<std::string>(""), "256Mi");
  EXPECT_NE(YAML::Dump(container(base[ds], "tunnel")["resources"]), YAML::Dump(tunnel["resources"]));

  for (auto& [key, doc] : example) {
    ASSERT_TRUE(base.count(key)) << key << " is not in the standalone overlay";
    YAML::Node other = base[key];
    if (key == ds)  // the containers without their resources, in one order (a patch may reorder them)
      for (YAML::Node d : {doc, other}) {
        std::map<std::string, YAML::Node> byName;
        for (YAML::Node c : d["spec"]["template"]["spec"]["containers"]) {
          c.remove("resources");
          byName.emplace(c["name"].as<std::string>(), c);
        }
        YAML::Node sorted(YAML::NodeType::Sequence);
        for (const auto& [name, c] : byName) sorted.push_back(c);
        d["spec"]["template"]["spec"]["containers"] = sorted;
      }
    EXPECT_EQ(YAML::Dump(doc), YAML::Dump(other)) << key << " differs beyond resources";
  }
}

INSTANTIATE_TEST_SUITE_P(Overlays, OverlayTest, ::testing::ValuesIn(overlays()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

}  // namespace
}  // namespace warren
