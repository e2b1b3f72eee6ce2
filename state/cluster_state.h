#pragma once
// The tunnel's picture of the cluster: workloads, services and policies. Both
// sources (the standalone YAML directory and an Istio-compatible control plane
// over xDS) convert at the edge into this one form; it is immutable once built
// and swapped whole on every change, so the data path reads it without locks held.

#include <functional>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "identity/identity.h"
#include "state/app_protocol.h"
#include "state/atom.h"
#include "state/cow_map.h"
#include "state/flat_map.h"
#include "state/l7_policy.h"
#include "state/policy_index.h"
#include "state/policy_types.h"
#include "state/request_authn.h"

namespace warren::state {

struct ServicePort {
  uint32_t servicePort = 0;
  uint32_t targetPort = 0;
  AppProtocol appProtocol = AppProtocol::Unknown;  // the service port's, on a Service
  bool operator==(const ServicePort&) const = default;
};

// The values many workloads share (namespace, service account, node, label keys,
// service keys, the reason and the waypoint) are atoms (state/atom.h), held once
// per process: at 100,000 workloads the tunnel holds a copy of each workload per
// snapshot source, and these were most of its bytes. Label values are not: some
// are unique per object and churn (a CronJob's Jobs carry `controller-uid` and
// `job-name`, a rollout a new `pod-template-hash`), and the atom table never
// frees, so interning them would grow the tunnel with every Job ever run.
using Labels = FlatMap<Atom, std::string>;

struct Workload {
  std::string uid, name;
  Atom ns, serviceAccount, node;
  Labels labels;
  std::vector<std::string> ips;
  // In the mesh: its node's tunnel captures it and serves HBONE on port 15008.
  bool captured = false;
  Atom captureReason;  // why captured or not, for logs and the CLI
  identity::SpiffeId identity;
  // Ready to serve: only ready workloads receive service traffic.
  bool ready = true;
  // Shares its node's network (Istio's NetworkMode HOST_NETWORK): its IPs are the
  // node's, so they reach it as a service endpoint but never identify it.
  bool hostNetwork = false;
  // Services this workload is an endpoint of, by Service::key(), with per-workload
  // target ports (Istio's Workload.services); empty list = the service's own.
  FlatMap<Atom, std::vector<ServicePort>> services;
  // Selector-scoped authorization policies that apply to it, by policy key
  // (Istio's Workload.authorization_policies). Global and namespace-scoped ones
  // are found by scope.
  std::vector<std::string> policies;
  MtlsPolicy mtls;
  // The waypoint (its Service::key()) that traffic addressed to this workload's own
  // IP must pass (Istio's Workload.waypoint); "" for none.
  Atom waypoint;
  bool operator==(const Workload&) const = default;
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
  //
  // Built from a previous state, the builder holds only the changes (adds and
  // removes) and finish() recomputes only what they touch: the IPs and VIPs they
  // claim or give up, and the objects that contend for those. The result, its
  // lookups and its problems are those a whole build of the same objects gives
  // (tests/unit/state/incremental_state_test.cc checks that after every step).
  class Builder {
   public:
    enum class Kind { Workload, Service, Policy, L7Policy, RequestAuthn };
    Builder() = default;
    explicit Builder(std::shared_ptr<const ClusterState> previous) : prev_(std::move(previous)) {}
    // Hinted at the end: a source adding in key order (a whole build) inserts in
    // constant time; any other order costs what an unhinted insert does.
    void add(Workload w) { workloads_.insert_or_assign(workloads_.end(), w.uid, std::move(w)); }
    void add(Service s) { services_.insert_or_assign(services_.end(), s.key(), std::move(s)); }
    void add(AuthorizationPolicy p) { policies_.insert_or_assign(policies_.end(), p.key(), std::move(p)); }
    void add(L7Policy p) { l7Policies_.insert_or_assign(l7Policies_.end(), p.key(), std::move(p)); }
    void add(RequestAuthn r) { requestAuthns_.insert_or_assign(requestAuthns_.end(), r.key(), std::move(r)); }
    // Drops the object of that kind and key (uid for a workload, key() otherwise),
    // whether it is in the previous state or was added to this builder.
    void remove(Kind kind, const std::string& key);
    // Problems are collected, not fatal: the state keeps what is consistent. With
    // a previous state, *problems gets every problem of the new state, not only
    // the changed objects'.
    std::shared_ptr<const ClusterState> finish(std::vector<Error>* problems = nullptr);

   private:
    std::shared_ptr<const ClusterState> finishWhole();
    std::shared_ptr<const ClusterState> finishFrom(const ClusterState& prev);

    std::shared_ptr<const ClusterState> prev_;
    // The maps' nodes live in a pool freed whole with the builder: a whole build
    // makes one per object, and freed one by one among the objects' strings
    // (which move on into the state) they stayed resident as holes.
    std::pmr::monotonic_buffer_resource pool_;
    template <typename T>
    using Changes = std::pmr::map<std::string, std::optional<T>>;
    // nullopt: removed (only with a previous state).
    Changes<Workload> workloads_{&pool_};
    Changes<Service> services_{&pool_};
    Changes<AuthorizationPolicy> policies_{&pool_};
    Changes<L7Policy> l7Policies_{&pool_};
    Changes<RequestAuthn> requestAuthns_{&pool_};
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

  // Ordered by key, as std::map; copies share their contents (state/cow_map.h).
  using Workloads = CowMap<std::string, Workload>;
  using Services = CowMap<std::string, Service>;
  using Policies = CowMap<std::string, AuthorizationPolicy>;
  using L7Policies = CowMap<std::string, L7Policy>;
  using RequestAuthns = CowMap<std::string, RequestAuthn>;
  const Workloads& workloads() const { return workloads_; }
  const Services& services() const { return services_; }
  const Policies& policies() const { return policies_; }
  const L7Policies& l7Policies() const { return l7Policies_; }
  const RequestAuthns& requestAuthns() const { return requestAuthns_; }
  // Every service that lists `vip` among its VIPs (before the cross-check), in
  // key order: the first owns it. For a source resolving addresses incrementally.
  std::vector<std::string> vipClaimants(const std::string& vip) const;
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
  using Keys = std::vector<std::string>;
  std::vector<std::string> ipClaimants(const std::string& ip) const;
  void setIpClaimants(const std::string& ip, Keys claimants);
  void setVipClaimants(const std::string& vip, Keys claimants);

  Workloads workloads_;  // their IPs as the cross-check left them
  Services services_;    // their VIPs as the cross-check left them
  Policies policies_;
  L7Policies l7Policies_;
  RequestAuthns requestAuthns_;
  CowMap<std::string, std::string> uidByIp_;
  CowMap<std::string, std::string> serviceByVip_;
  // Service key -> uids (sorted) of the workloads that name it, whether or not
  // the service exists yet: a service added later finds its endpoints here.
  CowMap<std::string, Keys> endpointsByService_;
  std::shared_ptr<const PolicyIndex> policyIndex_;  // over policies_; shared while they do not change

  // What an incremental build needs to recompute a cross-check, kept small: only
  // the contended addresses and the objects the check changed.
  // IP -> every workload claiming it (sorted uids, a uid twice if it lists the IP
  // twice), for an IP claimed more than once or that is a service VIP; any other
  // claimed IP's one claimant is uidByIp_'s.
  CowMap<std::string, Keys> ipClaims_;
  CowMap<std::string, Keys> vipClaims_;         // VIP -> service keys, for a VIP claimed more than once
  CowMap<std::string, Keys> rawIps_;            // uid -> its IPs as given, where the check dropped some
  CowMap<std::string, Keys> rawVips_;           // service key -> its VIPs as given, likewise
  CowMap<std::string, Keys> serviceProblems_;   // key -> problems, in the whole build's words and order
  CowMap<std::string, Keys> workloadProblems_;  // uid -> problems
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
