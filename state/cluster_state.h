#pragma once
// The tunnel's picture of the cluster: workloads, services and policies. Both
// sources (the standalone YAML directory and an Istio-compatible control plane
// over xDS) convert at the edge into this one form; it is immutable once built
// and swapped whole on every change, so the data path reads it without locks held.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "identity/identity.h"
#include "state/app_protocol.h"
#include "state/l7_policy.h"
#include "state/policy_index.h"
#include "state/request_authn.h"
#include "state/policy_types.h"

namespace warren::state {

struct ServicePort {
  uint32_t servicePort = 0;
  uint32_t targetPort = 0;
  AppProtocol appProtocol = AppProtocol::Unknown;  // the service port's, on a Service
};

struct Workload {
  std::string uid, name, ns, serviceAccount, node;
  std::map<std::string, std::string> labels;
  std::vector<std::string> ips;
  // In the mesh: its node's tunnel captures it and serves HBONE on port 15008.
  bool captured = false;
  std::string captureReason;  // why captured or not, for logs and the CLI
  identity::SpiffeId identity;
  // Ready to serve: only ready workloads receive service traffic.
  bool ready = true;
  // Shares its node's network (Istio's NetworkMode HOST_NETWORK): its IPs are the
  // node's, so they reach it as a service endpoint but never identify it.
  bool hostNetwork = false;
  // Services this workload is an endpoint of, by Service::key(), with per-workload
  // target ports (Istio's Workload.services); empty list = the service's own.
  std::map<std::string, std::vector<ServicePort>> services;
  // Selector-scoped authorization policies that apply to it, by policy key
  // (Istio's Workload.authorization_policies). Global and namespace-scoped ones
  // are found by scope.
  std::vector<std::string> policies;
  MtlsPolicy mtls;
  // The waypoint (its Service::key()) that traffic addressed to this workload's own
  // IP must pass (Istio's Workload.waypoint); "" for none.
  std::string waypoint;
};

struct Service {
  std::string name, ns, hostname;
  std::vector<std::string> vips;  // ClusterIPs, as IP literals
  std::vector<ServicePort> ports;
  // The waypoint (a Service::key()) that traffic to this service's VIPs must pass
  // (Istio's Service.waypoint); "" for none.
  std::string waypoint;
  // Set when this service IS a waypoint: which traffic it takes ("service",
  // "workload", "all"), from its Gateway's istio.io/waypoint-for.
  std::string waypointFor;
  std::string key() const { return ns + "/" + hostname; }
};

class ClusterState {
 public:
  ClusterState() = default;
  // The policy index points into this object's own maps: never copied.
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // The one way to build a state, whatever the source. Later adds of the same key
  // replace earlier ones. finish() indexes and cross-checks; its errors name the
  // offending objects (an IP claimed twice, a VIP shared by two services).
  class Builder {
   public:
    void add(Workload w) { workloads_[w.uid] = std::move(w); }
    void add(Service s) { services_[s.key()] = std::move(s); }
    void add(AuthorizationPolicy p) { policies_[p.key()] = std::move(p); }
    void add(L7Policy p) { l7Policies_[p.key()] = std::move(p); }
    void add(RequestAuthn r) { requestAuthns_[r.key()] = std::move(r); }
    // Problems are collected, not fatal: the state keeps what is consistent.
    std::shared_ptr<const ClusterState> finish(std::vector<Error>* problems = nullptr);

   private:
    std::map<std::string, Workload> workloads_;
    std::map<std::string, Service> services_;
    std::map<std::string, AuthorizationPolicy> policies_;
    std::map<std::string, L7Policy> l7Policies_;
    std::map<std::string, RequestAuthn> requestAuthns_;
  };

  // By IP literal as the kernel reports it ("10.244.1.5", "fd00::5").
  const Workload* findByIp(const std::string& ip) const;
  const Service* findServiceByVip(const std::string& ip) const;
  const Workload* findWorkload(const std::string& uid) const;
  // Ready endpoints of a service, in uid order (stable, so a round-robin counter
  // spreads evenly).
  std::vector<const Workload*> readyEndpoints(const Service& s) const;
  // Every policy that applies to `w`: global, its namespace's, and the
  // selector-scoped ones it lists, in key order. From the index: the other
  // policies of the mesh are not looked at.
  std::vector<const AuthorizationPolicy*> policiesFor(const Workload& w) const;

  const std::map<std::string, Workload>& workloads() const { return workloads_; }
  const std::map<std::string, Service>& services() const { return services_; }
  const std::map<std::string, AuthorizationPolicy>& policies() const { return policies_; }
  const std::map<std::string, L7Policy>& l7Policies() const { return l7Policies_; }
  const std::map<std::string, RequestAuthn>& requestAuthns() const { return requestAuthns_; }
  const Service* findService(const std::string& key) const;

  // Waypoints. The waypoint that traffic from `source` (nullptr: unknown) to the
  // workload or service must pass, or nullptr: none, or `source` is an endpoint of
  // that waypoint (its own traffic is never sent back to it). *missing is set
  // when a waypoint is named but unknown: the traffic must fail, not bypass it.
  const Service* waypointFor(const Service& dst, const Workload* source, std::string* missing) const;
  const Service* waypointFor(const Workload& dst, const Workload* source, std::string* missing) const;
  bool isEndpointOf(const Workload& w, const Service& s) const { return w.services.count(s.key()) != 0; }
  // The L7 policies a waypoint enforces for a request to `dstService` (nullptr: a
  // workload addressed by IP): those targeting the waypoint's Gateway, and those
  // targeting the destination Service, in key order.
  std::vector<const L7Policy*> l7PoliciesFor(const Service& waypoint, const Service* dstService) const;
  // The RequestAuthentications a waypoint applies to a request to `dstService`,
  // bound exactly as l7PoliciesFor binds AuthorizationPolicies.
  std::vector<const RequestAuthn*> requestAuthnsFor(const Service& waypoint, const Service* dstService) const;

 private:
  std::map<std::string, Workload> workloads_;
  std::map<std::string, Service> services_;
  std::map<std::string, AuthorizationPolicy> policies_;
  std::map<std::string, L7Policy> l7Policies_;
  std::map<std::string, RequestAuthn> requestAuthns_;
  std::map<std::string, std::string> uidByIp_;
  std::map<std::string, std::string> serviceByVip_;
  std::map<std::string, std::vector<std::string>> endpointsByService_;  // service key -> uids
  PolicyIndex policyIndex_;  // over policies_
};
using ClusterStatePtr = std::shared_ptr<const ClusterState>;

// The single writer (the active source) stores; readers take a snapshot pointer.
// Subscribers run on the writer's thread after every set().
class StateStore {
 public:
  StateStore() : current_(ClusterState::Builder().finish()) {}
  ClusterStatePtr get() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  void set(const ClusterStatePtr& next);
  void subscribe(std::function<void(const ClusterStatePtr&)> fn);

 private:
  mutable std::mutex mu_;
  ClusterStatePtr current_;
  std::vector<std::function<void(const ClusterStatePtr&)>> subscribers_;
};

}  // namespace warren::state
