#include "tools/bench/synthetic_cluster.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include "common/file_io.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"

namespace warren::bench {
namespace {

std::string ipv4(uint32_t hostOrder) {
  in_addr a{htonl(hostOrder)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string ipBytes(const std::string& ip) {
  unsigned char buf[4];
  inet_pton(AF_INET, ip.c_str(), buf);
  return std::string(reinterpret_cast<char*>(buf), 4);
}

std::string numbered(const char* prefix, int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%04d", prefix, i);
  return buf;
}

std::string principal(const std::string& ns, const std::string& sa) { return "cluster.local/ns/" + ns + "/sa/" + sa; }

std::string hostname(const std::string& ns, const std::string& app) { return app + "." + ns + ".svc.cluster.local"; }

std::string flowList(const std::vector<std::string>& items, bool quote) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + (quote ? "\"" + i + "\"" : i);
  return "[" + out + "]";
}

constexpr uint32_t kPodBase = (10u << 24) | (128u << 16);  // 10.128.0.0/9
constexpr uint32_t kVipBase = (10u << 24) | (96u << 16);   // 10.96.0.0/12
constexpr const char* kBlockedNamespace = "quarantine";
constexpr const char* kBlockedRange = "192.0.2.0";

}  // namespace

SyntheticCluster::SyntheticCluster(const ScaleSpec& spec) {
  std::mt19937 rng(17);
  const int nsCount = std::max(10, spec.workloads / 200);
  nodes_ = std::max(10, spec.workloads / 100);
  for (int i = 0; i < nsCount; ++i) namespaces_.push_back({numbered("team-", i), i % 10 != 9});
  const int services = std::max(1, spec.services);
  for (int j = 0; j < services; ++j)
    apps_.push_back({namespaces_[j % nsCount].name, numbered("svc-", j / nsCount), ipv4(kVipBase + 1 + j)});
  // Pods round-robin over the apps (a Deployment's replicas), nodes by hash.
  for (int i = 0; i < spec.workloads; ++i) {
    const App& a = apps_[i % services];
    Pod p;
    p.ns = a.ns;
    p.app = a.name;
    p.name = a.name + "-7d4b9c-" + std::to_string(i / services);
    p.uid = "Kubernetes//Pod/" + p.ns + "/" + p.name;
    p.node = numbered("node-", static_cast<int>(rng() % nodes_));
    p.ip = ipv4(kPodBase + 1 + i);
    pods_.push_back(std::move(p));
  }

  int left = spec.policies;
  if (left >= 2) {
    policies_.push_back({kRootNamespace, "deny-quarantine", PolicyShape::GlobalDenyNamespace, "", {kBlockedNamespace}});
    policies_.push_back({kRootNamespace, "deny-test-net", PolicyShape::GlobalDenyIpBlock, "", {}});
    left -= 2;
  }
  // Half of the rest namespace-wide (one per namespace at most), the others per app.
  const int nsPolicies = std::min(nsCount, left / 2);
  for (int i = 0; i < nsPolicies; ++i) {
    const std::string& ns = namespaces_[i].name;
    policies_.push_back({ns,
                         "allow-neighbours",
                         PolicyShape::NamespaceAllow,
                         "",
                         {ns, namespaces_[(i + 1) % nsCount].name, kRootNamespace}});
    --left;
  }
  for (int k = 0; k < left; ++k) {
    const App& a = apps_[(static_cast<size_t>(k) * 7) % apps_.size()];
    Policy p{a.ns,
             a.name + "-policy-" + std::to_string(k),
             k % 5 == 4 ? PolicyShape::AppDeny : PolicyShape::AppAllow,
             a.name,
             {}};
    if (p.shape == PolicyShape::AppAllow)
      for (int c = 0; c < 3; ++c) {
        const App& client = apps_[rng() % apps_.size()];
        p.peers.push_back(principal(client.ns, client.name));
      }
    selectorPoliciesByApp_[a.ns + "/" + a.name].push_back(xdsName(p));
    policies_.push_back(std::move(p));
  }
}

SyntheticCluster::Pod SyntheticCluster::extraPod() const {
  Pod p = pods_.front();
  p.name = p.app + "-7d4b9c-extra";
  p.uid = "Kubernetes//Pod/" + p.ns + "/" + p.name;
  p.ip = ipv4(kPodBase + 1 + static_cast<uint32_t>(pods_.size()));
  return p;
}

SyntheticCluster::Policy SyntheticCluster::changedPolicy() const {
  auto it = std::find_if(policies_.begin(), policies_.end(),
                         [](const Policy& p) { return p.shape == PolicyShape::AppAllow; });
  Policy p = it != policies_.end() ? *it : policies_.back();
  p.peers.push_back(principal(kRootNamespace, "changed"));
  return p;
}

bool SyntheticCluster::enabled(const std::string& ns) const {
  auto it = std::find_if(namespaces_.begin(), namespaces_.end(), [&](const Namespace& n) { return n.name == ns; });
  return it != namespaces_.end() && it->enabled;
}

std::vector<std::string> SyntheticCluster::policiesSelecting(const Pod& p) const {
  auto it = selectorPoliciesByApp_.find(p.ns + "/" + p.app);
  return it == selectorPoliciesByApp_.end() ? std::vector<std::string>{} : it->second;
}

// --- YAML ---

std::string SyntheticCluster::podYaml(const Pod& p) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + p.name + ", namespace: " + p.ns + ", uid: \"" + p.uid +
         "\", labels: {app: " + p.app + ", pod-template-hash: 7d4b9c}}\nspec: {serviceAccountName: " + p.app +
         ", nodeName: " + p.node +
         ", containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]}\nstatus: {phase: Running, podIP: " +
         p.ip + ", podIPs: [{ip: " + p.ip + "}]}\n---\n";
}

std::string SyntheticCluster::policyYaml(const Policy& p) {
  std::string spec;
  switch (p.shape) {
    case PolicyShape::GlobalDenyNamespace:
      spec = "{action: DENY, rules: [{from: [{source: {namespaces: " + flowList(p.peers, false) + "}}]}]}";
      break;
    case PolicyShape::GlobalDenyIpBlock:
      spec = std::string("{action: DENY, rules: [{from: [{source: {ipBlocks: [") + kBlockedRange + "/24]}}]}]}";
      break;
    case PolicyShape::NamespaceAllow:
      spec = "{action: ALLOW, rules: [{from: [{source: {namespaces: " + flowList(p.peers, false) + "}}]}]}";
      break;
    case PolicyShape::AppAllow:
      spec = "{selector: {matchLabels: {app: " + p.app +
             "}}, action: ALLOW, rules: [{from: [{source: {principals: " + flowList(p.peers, false) +
             "}}], to: [{operation: {ports: [\"8080\"]}}]}]}";
      break;
    case PolicyShape::AppDeny:
      spec = "{selector: {matchLabels: {app: " + p.app +
             "}}, action: DENY, rules: [{from: [{source: {notNamespaces: [" + p.ns +
             "]}}], to: [{operation: {ports: [\"9090\"]}}]}]}";
      break;
  }
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + p.name +
         ", namespace: " + p.ns + "}\nspec: " + spec + "\n---\n";
}

std::string SyntheticCluster::policyFile(const Policy& p) { return "policies-" + p.ns + ".yaml"; }

Status SyntheticCluster::writeYaml(const std::string& dir) const {
  std::map<std::string, std::string> files;
  for (const auto& ns : namespaces_)
    files[ns.name + ".yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns.name +
                               (ns.enabled ? ", labels: {warren.io/mode: enabled}" : "") + "}\n---\n";
  for (const auto& a : apps_)
    files[a.ns + ".yaml"] += "apiVersion: v1\nkind: Service\nmetadata: {name: " + a.name + ", namespace: " + a.ns +
                             "}\nspec: {clusterIP: " + a.vip + ", selector: {app: " + a.name +
                             "}, ports: [{name: http, port: 80, targetPort: http}]}\n---\n";
  for (const auto& p : pods_) files[p.ns + ".yaml"] += podYaml(p);
  for (const auto& p : policies_) files[policyFile(p)] += policyYaml(p);
  for (const auto& [name, text] : files)
    if (auto st = writeFileAtomic(dir + "/" + name, text, 0644); !st) return st;
  return okStatus();
}

// --- xDS ---

google::protobuf::Any SyntheticCluster::xdsAddress(const Pod& p) const {
  istio::workload::Address a;
  auto* w = a.mutable_workload();
  w->set_uid(p.uid);
  w->set_name(p.name);
  w->set_namespace_(p.ns);
  w->add_addresses(ipBytes(p.ip));
  w->set_service_account(p.app);
  w->set_node(p.node);
  w->set_tunnel_protocol(enabled(p.ns) ? istio::workload::HBONE : istio::workload::NONE);
  auto& ports = (*w->mutable_services())[p.ns + "/" + hostname(p.ns, p.app)];
  auto* port = ports.add_ports();
  port->set_service_port(kServicePort);
  port->set_target_port(kTargetPort);
  for (const auto& name : policiesSelecting(p)) w->add_authorization_policies(name);
  google::protobuf::Any any;
  any.PackFrom(a);
  return any;
}

std::map<std::string, google::protobuf::Any> SyntheticCluster::xdsAddresses() const {
  std::map<std::string, google::protobuf::Any> out;
  for (const auto& app : apps_) {
    istio::workload::Address a;
    auto* s = a.mutable_service();
    s->set_name(app.name);
    s->set_namespace_(app.ns);
    s->set_hostname(hostname(app.ns, app.name));
    s->add_addresses()->set_address(ipBytes(app.vip));
    auto* port = s->add_ports();
    port->set_service_port(kServicePort);
    port->set_target_port(kTargetPort);
    out[app.ns + "/" + s->hostname()].PackFrom(a);
  }
  for (const auto& p : pods_) out[p.uid] = xdsAddress(p);
  return out;
}

google::protobuf::Any SyntheticCluster::xdsAuthorization(const Policy& p) {
  namespace is = istio::security;
  is::Authorization a;
  a.set_name(p.name);
  a.set_namespace_(p.ns);
  auto* group = a.add_groups();
  auto* from = group->add_rules()->add_matches();
  switch (p.shape) {
    case PolicyShape::GlobalDenyNamespace:
      a.set_scope(is::GLOBAL);
      a.set_action(is::DENY);
      for (const auto& ns : p.peers) from->add_namespaces()->set_exact(ns);
      break;
    case PolicyShape::GlobalDenyIpBlock: {
      a.set_scope(is::GLOBAL);
      a.set_action(is::DENY);
      auto* block = from->add_source_ips();
      block->set_address(ipBytes(kBlockedRange));
      block->set_length(24);
      break;
    }
    case PolicyShape::NamespaceAllow:
      a.set_scope(is::NAMESPACE);
      a.set_action(is::ALLOW);
      for (const auto& ns : p.peers) from->add_namespaces()->set_exact(ns);
      break;
    case PolicyShape::AppAllow:
      a.set_scope(is::WORKLOAD_SELECTOR);
      a.set_action(is::ALLOW);
      for (const auto& pr : p.peers) from->add_principals()->set_exact("spiffe://" + pr);
      group->add_rules()->add_matches()->add_destination_ports(kTargetPort);
      break;
    case PolicyShape::AppDeny:
      a.set_scope(is::WORKLOAD_SELECTOR);
      a.set_action(is::DENY);
      from->add_not_namespaces()->set_exact(p.ns);
      group->add_rules()->add_matches()->add_destination_ports(kAdminPort);
      break;
  }
  google::protobuf::Any any;
  any.PackFrom(a);
  return any;
}

std::map<std::string, google::protobuf::Any> SyntheticCluster::xdsAuthorizations() const {
  std::map<std::string, google::protobuf::Any> out;
  for (const auto& p : policies_) out[xdsName(p)] = xdsAuthorization(p);
  return out;
}

}  // namespace warren::bench
