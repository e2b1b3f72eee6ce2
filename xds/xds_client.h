#pragma once
// The tunnel's state from an Istio-compatible control plane: delta ADS
// (/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources)
// over one gRPC stream, subscribed by wildcard to istio.workload.Address and
// istio.security.Authorization, as Istio's ztunnel does.
//
// Each response is validated whole: ACKed and handed on as a new state, or
// NACKed with the previous state left untouched. The stream runs on its own
// thread and is re-opened with jittered exponential backoff; while it is down
// the last state keeps being served (a control-plane outage must not empty the
// mesh), and a new stream tells the server what is held (initial_resource_versions).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/repeat_filter.h"
#include "common/result.h"
#include "state/cluster_state.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace warren::xds {

class ResourceCache;

// ztunnel's node metadata, from the downward-API environment it reads:
// NAME (POD_NAME), NAMESPACE (POD_NAMESPACE), INSTANCE_IPS (INSTANCE_IP),
// NODE_NAME; istiod reads the node's name to place the proxy, and the others as
// for any proxy. Unset variables are sent empty, as ztunnel does.
std::map<std::string, std::string> defaultNodeMetadata();

struct XdsOptions {
  std::string address;  // host:port, e.g. istiod.istio-system.svc:15012
  // PEM roots for TLS to the control plane. Empty means plaintext (logged as a
  // warning): tests and a local development control plane only.
  std::string rootCertFile;
  std::string tlsServerName;  // when the server's certificate names another host
  // Sent as "authorization: Bearer <token>", re-read for every stream since
  // kubelet rotates projected tokens in place. Empty: no token.
  std::string tokenFile;
  // istiod derives the proxy's type from the id: "ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local".
  std::string nodeId;
  // Node metadata CLUSTER_ID and, as ztunnel's auth source sends it beside the
  // token, the stream's "clusterid" header (empty: neither).
  std::string clusterId;
  // Node metadata, as strings: what ztunnel sends (defaultNodeMetadata()) unless
  // a caller says otherwise.
  std::map<std::string, std::string> nodeMetadata = defaultNodeMetadata();
  std::string trustDomain = "cluster.local";  // for workloads that elide theirs
  std::chrono::milliseconds initialBackoff{500};
  std::chrono::milliseconds maxBackoff{30000};
  // How long one connection attempt (TCP, TLS, HTTP/2 SETTINGS) may take before
  // gRPC abandons it: gRPC's own default, as Istio's proxies use. Not the backoff:
  // an istiod slow to handshake (a rollout of many nodes at once) must be waited
  // for, not abandoned and retried.
  std::chrono::milliseconds connectTimeout{20000};
};

// A snapshot of the client's health, for tests and the admin config dump.
struct XdsStatus {
  // Both types subscribed (addresses and authorizations) have had a response
  // ACKed: the state is whole. A first response NACKed, even in part, is not.
  bool everyTypeAcked() const;

  bool connected = false;   // a response has arrived on the current stream
  uint64_t streams = 0;     // streams opened
  uint64_t reconnects = 0;  // streams opened after the first
  uint64_t acks = 0, nacks = 0;
  std::map<std::string, std::string> lastAckedNonce;  // by type URL
  std::string lastNackMessage;
  std::string lastStreamError;         // how the last stream ended
  size_t addresses = 0, policies = 0;  // resources held
};

// For the admin config dump: stable field names.
nlohmann::json statusJson(const XdsStatus& s);

class XdsClient {
 public:
  // Runs on the client's thread with every accepted state.
  using StateCallback = std::function<void(state::ClusterStatePtr)>;

  // Starts the stream thread; fails only on bad options (an unreadable root file).
  static Result<std::unique_ptr<XdsClient>> start(XdsOptions options, StateCallback onState);
  // Cancels the stream and joins the thread; no callback runs after it returns.
  ~XdsClient();

  XdsStatus status() const;
  // Waits until `pred` holds for the status (checked on every change); false on
  // timeout. For tests and for a caller that wants the first state before serving.
  bool waitStatus(const std::function<bool(const XdsStatus&)>& pred, std::chrono::milliseconds timeout) const;

 private:
  struct Stub;
  XdsClient(XdsOptions options, std::shared_ptr<grpc::Channel> channel, StateCallback onState);

  void run();
  // One stream from open to end; true if the server answered at least once.
  bool runStream();
  void updateStatus(const std::function<void(XdsStatus&)>& change);

  const XdsOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  StateCallback onState_;
  std::unique_ptr<ResourceCache> cache_;  // the client thread's only
  RepeatFilter repeats_;                  // the client thread's only: warnings said once while they stand

  mutable std::mutex mu_;
  std::condition_variable wake_;  // ends a backoff wait on stop
  mutable std::condition_variable statusChanged_;
  bool stopping_ = false;                      // guarded by mu_
  grpc::ClientContext* activeCall_ = nullptr;  // guarded by mu_; cancelled on stop
  XdsStatus status_;                           // guarded by mu_
  std::thread thread_;
};

// The wait before re-opening the stream after `attempt` failed ones in a row:
// initial * 2^attempt capped at max, scaled by `unit` (in [0, 1)) into the upper
// half of that, so the tunnels of a cluster do not all come back at one instant.
std::chrono::milliseconds jitteredBackoff(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                          double unit);

// "ztunnel~<INSTANCE_IP>~<POD_NAME>.<POD_NAMESPACE>~<POD_NAMESPACE>.svc.cluster.local"
// from the pod's downward-API environment, with placeholders for what is unset.
std::string defaultNodeId();

}  // namespace warren::xds
