#pragma once
// A synthetic cluster for the state-scale benchmark, shaped like a real one:
// namespaces (most of them enabled) holding Deployments (one app = one Service,
// one service account, ~10 pods) spread over nodes, and AuthorizationPolicies
// as operators write them (a couple mesh-wide DENYs in the root namespace, one
// namespace-wide ALLOW per namespace, the rest per app). The same cluster is
// written as the YAML directory the standalone source reads and as the
// istio.workload / istio.security resources istiod would send, so both sources
// are measured on one picture. Deterministic: the same spec gives the same cluster.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>

#include "common/result.h"

namespace warren::bench {

struct ScaleSpec {
  int workloads = 10000;
  int services = 1000;
  int policies = 100;
};

class SyntheticCluster {
 public:
  struct Namespace {
    std::string name;
    bool enabled = true;
  };
  struct App {  // a Deployment with its Service and service account, all named `name`
    std::string ns, name, vip;
  };
  struct Pod {
    std::string ns, name, uid, app, node, ip;
  };
  enum class PolicyShape { GlobalDenyNamespace, GlobalDenyIpBlock, NamespaceAllow, AppAllow, AppDeny };
  struct Policy {
    std::string ns, name;
    PolicyShape shape;
    std::string app;                 // the selected app (App*)
    std::vector<std::string> peers;  // namespaces (NamespaceAllow) or principals (AppAllow)
  };

  static constexpr const char* kRootNamespace = "istio-system";
  static constexpr uint32_t kServicePort = 80, kTargetPort = 8080, kAdminPort = 9090;

  explicit SyntheticCluster(const ScaleSpec& spec);

  const std::vector<Namespace>& namespaces() const { return namespaces_; }
  const std::vector<App>& apps() const { return apps_; }
  const std::vector<Pod>& pods() const { return pods_; }
  const std::vector<Policy>& policies() const { return policies_; }

  // One more pod of the first app (the one-object change), and a new version of
  // the first per-app policy (another principal allowed).
  Pod extraPod() const;
  Policy changedPolicy() const;
  bool enabled(const std::string& ns) const;

  // The YAML directory: one file per namespace (its Namespace, Services, Pods and
  // policies), the root namespace's policies in their own file.
  Status writeYaml(const std::string& dir) const;
  static std::string podYaml(const Pod& p);
  static std::string policyYaml(const Policy& p);
  // The file policyYaml(p) is in, so a change can rewrite just that file.
  static std::string policyFile(const Policy& p);

  // istiod's resources: Address by resource name (workloads and services), and
  // Authorization by name.
  std::map<std::string, google::protobuf::Any> xdsAddresses() const;
  std::map<std::string, google::protobuf::Any> xdsAuthorizations() const;
  google::protobuf::Any xdsAddress(const Pod& p) const;
  static google::protobuf::Any xdsAuthorization(const Policy& p);
  static std::string xdsName(const Policy& p) { return p.ns + "/" + p.name; }

 private:
  // The selector policies that select pods of `app` (the workload lists them, as istiod does).
  std::vector<std::string> policiesSelecting(const Pod& p) const;

  std::vector<Namespace> namespaces_;
  std::vector<App> apps_;
  std::vector<Pod> pods_;
  std::vector<Policy> policies_;
  std::map<std::string, std::vector<std::string>> selectorPoliciesByApp_;  // "ns/app" -> "ns/name"
  int nodes_ = 1;
};

}  // namespace warren::bench
