#pragma once
// The tunnel's data path for captured connections (ztunnel's proxy/):
//  - outbound (outbound.cc): app -> tunnel -> HBONE to the destination pod's tunnel,
//    or plaintext passthrough when the destination is not in the mesh;
//  - inbound HBONE (inbound_hbone.cc): a peer tunnel's CONNECT on port 15008 ->
//    the app, after verifying the peer's identity and the request;
//  - inbound plaintext (inbound_plaintext.cc): a non-mesh client -> the app.
// Every new connection is admitted first: not while overloaded (overload.h), and
// within its listener's caps (io/connection_slots.h); else reset and counted.
// Each connection is logged once when it ends.

#include <atomic>
#include <chrono>
#include <map>

#include <nlohmann/json.hpp>

#include "audit/audit_writer.h"
#include "audit/policy_digests.h"
#include "authz/authorize.h"
#include "common/unique_fd.h"
#include "hbone/h2_connection.h"
#include "hbone/inbound_admission.h"
#include "hbone/inbound_limits.h"
#include "hbone/pool.h"
#include "identity/identity_manager.h"
#include "io/connection_slots.h"
#include "io/event_loop.h"
#include "state/cluster_state.h"
#include "telemetry/metrics.h"
#include "tls/tls_context.h"
#include "tunnel/bpf/capture_maps.h"
#include "tunnel/proxy/access_log.h"
#include "tunnel/proxy/audit_record.h"
#include "tunnel/proxy/decisions.h"
#include "tunnel/proxy/overload.h"
#include "tunnel/proxy/pod_context.h"

namespace warren::proxy {

inline constexpr size_t kDefaultPlaintextInboundPerPod = 1024;

struct ProxyOptions {
  uint32_t mark = 0;  // SO_MARK on upstream sockets, so capture skips them
  std::chrono::milliseconds connectTimeout{5000};
  hbone::H2Options h2;
  // Inbound HBONE connections (a pod's 15008), admitted on arrival before any TLS
  // work (hbone/inbound_limits.h). The total is resolved (main: --hbone-max-inbound
  // 0 = half the fd limit).
  io::SlotLimits hboneInbound{.total = 512, .perSource = hbone::kDefaultMaxInboundPerSource};
  // Plaintext captured connections, admitted on arrival (reset past a cap): inbound
  // (non-mesh clients) per destination pod and in all; outbound in all (each pod's
  // own count is capped in BPF, warren_pod_conns, --conns-per-pod). Each takes two
  // descriptors (client and upstream), so the totals keep descriptors for the rest.
  io::SlotLimits plaintextInbound{.total = 256, .perSource = kDefaultPlaintextInboundPerPod};
  io::SlotLimits outbound{.total = 256, .perSource = 0};
  // Past either watermark new connections (outbound, inbound plaintext and HBONE)
  // are reset on arrival (overload.h). The load is sampled at an arrival at most
  // this often (a /proc/self/fd read); 0: at every arrival.
  Watermarks overload;
  std::chrono::milliseconds overloadSampleEvery{100};
};

// What the proxy reads but does not own: the seam for fakes in tests.
struct ProxyInputs {
  identity::IdentityManager* identity = nullptr;
  const state::StateStore* state = nullptr;
  telemetry::TcpMetrics* metrics = nullptr;  // optional
  audit::AuditWriter* audit = nullptr;       // optional (--audit-dir): a record per connection
};

// Counts for tests and, later, metrics.
struct ProxyCounters {
  std::atomic<uint64_t> outboundOpened{0}, inboundOpened{0}, refused{0}, upstreamFailed{0}, closed{0};
  std::atomic<uint64_t> hboneOutbound{0}, passthrough{0}, hboneInbound{0}, hboneBadRequests{0};
  // Fail closed for lack of a valid certificate (none yet, or expired).
  std::atomic<uint64_t> identityRefusals{0};
  // Inbound connections refused by authorization, and live ones closed because a
  // policy change denies them now.
  std::atomic<uint64_t> policyDenied{0}, policyRevoked{0};
  // On each state change, live inbound connections judged again (something their
  // decision reads changed) and those left as they were (revalidation.h).
  std::atomic<uint64_t> revalidationsJudged{0}, revalidationsSkipped{0};
  // Inbound connections the app saw from the pod's own address instead of the
  // client's (no reply routing in the pod, or the transparent bind failed).
  std::atomic<uint64_t> originalSourceFallbacks{0};
  // Connects to an app abandoned because the client reset the stream (or its
  // connection closed) before the app answered: rapid reset at work, or impatience.
  std::atomic<uint64_t> appDialsCancelled{0};
  // Inbound HBONE connections reset on arrival: over the total cap, or over their
  // source's (ProxyOptions::hboneInbound).
  hbone::InboundRefusals hboneInboundRefused;
  // Plaintext connections reset on arrival: inbound over the total or the pod's cap,
  // outbound over the total (ProxyOptions::plaintextInbound, outbound).
  std::atomic<uint64_t> plaintextInboundOverTotal{0}, plaintextInboundOverPod{0}, outboundOverTotal{0};
  // New connections reset because the tunnel was overloaded, and whether it was at
  // the last sample (a gauge).
  std::atomic<uint64_t> overloadShed{0};
  std::atomic<bool> overloaded{false};
};

class Proxy {
 public:
  Proxy(io::EventLoop& loop, const tunnel::CaptureMaps* maps, ProxyInputs inputs, ProxyOptions options);
  ~Proxy();

  // All run on the loop thread, for a freshly accepted connection.
  void handleOutbound(const PodContextPtr& pod, UniqueFd client);
  void handleInbound(const PodContextPtr& pod, UniqueFd client);
  void handleHbone(const PodContextPtr& pod, UniqueFd client);

  void setMaps(const tunnel::CaptureMaps* maps) { maps_ = maps; }
  const ProxyCounters& counters() const { return counters_; }
  size_t activeConnections() const { return active_.load(); }
  // Loop thread only.
  const hbone::Pool& pool() const { return pool_; }
  size_t inboundHboneConnections() const { return inbound_.size(); }
  size_t plaintextInboundConnections() const { return plaintextSlots_->open(); }
  size_t outboundConnections() const { return outboundSlots_->open(); }
  // Closes every HBONE connection (shutdown; loop thread).
  void closeAll();
  // One round of a drain (tunnel/drain/drain.h; loop thread): inbound HBONE
  // connections not told yet get a shutdown notice (their peers open new streams
  // at the successor, and a stream already sent is still served), pooled outbound
  // ones GOAWAY. Called again as connections finish their handshake. How many
  // were told this round.
  size_t drainHbone();
  // The trust bundle is now `generation` (SIGHUP): every HBONE connection, pooled
  // outbound or inbound, whose peer was verified against an older bundle is sent
  // GOAWAY. Its running streams finish; new ones handshake under the new roots, so
  // a root taken out of the bundle stops admitting its peers (loop thread).
  void trustBundleChanged(uint64_t generation);
  // The state changed: live inbound connections the new policies deny are reset
  // (loop thread). New connections always see the newest state.
  void revalidate(const state::ClusterStatePtr& next);
  size_t revocableConnections() const { return revocable_.size(); }
  // The HBONE connections (pooled outbound, inbound) with their streams, and the
  // authorized inbound connections, for the admin endpoint (loop thread;
  // introspection.cc).
  nlohmann::json connectionsJson() const;

 private:
  // Plain TCP from inside the pod's netns to target, then a Relay; rec says which
  // direction and protocol it logs as.
  // An allowed inbound connection, and the state it was judged against.
  struct Authorized {
    authz::ConnectionFacts facts;
    state::ClusterStatePtr decidedWith;
  };
  void connectAndRelay(const PodContextPtr& pod, UniqueFd client, const sockaddr_storage& peer,
                       const sockaddr_storage& target, ConnectionRecord rec,
                       std::optional<Authorized> revocable = std::nullopt);
  void sendHbone(const PodContextPtr& pod, UniqueFd client, const sockaddr_storage& peer, const OutboundRoute& route,
                 io::SlotLease slot);
  void onHboneRequest(const PodContextPtr& pod, hbone::H2Connection& conn, int32_t streamId,
                      const hbone::Headers& request, const std::string& peerIp);
  // False (counted, logged) while overloaded: the new connection is to be reset.
  bool admitUnderLoad(const char* what, const PodContext& pod);
  // A socket in the pod's netns to target. With clientIp (inbound), it carries the
  // client's address where it can; where it cannot, that is counted and logged.
  Result<UniqueFd> appSocket(const PodContext& pod, const sockaddr_storage& target, const std::string& clientIp);
  // The pod's certificate, or an error after counting a fail-closed refusal.
  Result<identity::WorkloadCertPtr> podCertificate(const PodContext& pod);
  identity::SpiffeId podIdentity(const PodContext& pod) const;
  // Every connection that gets a record passes through opened() once (when it is
  // accepted for relaying, or at once when refused) and finished() once.
  void opened(const ConnectionRecord& rec);
  void finished(ConnectionRecord& rec);
  state::ClusterStatePtr currentState() const;
  // Inbound authorization of a connection to `pod`; fills rec's verdict fields.
  authz::Decision authorizeInbound(const state::ClusterState& st, const PodContext& pod,
                                   const authz::ConnectionFacts& facts, ConnectionRecord& rec);
  // An allowed inbound connection stays revocable until it ends: `abort` closes it.
  uint64_t track(const PodContextPtr& pod, Authorized authorized, std::function<void(const std::string&)> abort);
  void untrack(uint64_t id) { revocable_.erase(id); }

  struct Revocable {
    PodContextPtr pod;
    authz::ConnectionFacts facts;
    std::function<void(const std::string&)> abort;
    state::ClusterStatePtr judgedWith;  // the state its standing decision was made with
  };

  io::EventLoop& loop_;
  const tunnel::CaptureMaps* maps_;
  ProxyInputs inputs_;
  ProxyOptions options_;
  ProxyCounters counters_;
  audit::PolicyDigests policyDigests_;  // the deciding policy's hash, for the audit log
  std::atomic<size_t> active_{0};
  tls::TlsContextCache tlsCache_;
  hbone::Pool pool_;
  std::map<uint64_t, std::shared_ptr<hbone::H2Connection>> inbound_;  // by connection id
  std::shared_ptr<io::ConnectionSlots> hboneSlots_;  // inbound_ connections, by source, held by their leases
  // Plaintext connections by pod uid, held by leases in their records.
  std::shared_ptr<io::ConnectionSlots> plaintextSlots_, outboundSlots_;
  std::chrono::steady_clock::time_point lastLoadSample_{};
  std::map<uint64_t, Revocable> revocable_;
  uint64_t nextRevocableId_ = 1;
  std::map<std::string, uint64_t> serviceRoundRobin_;  // by VIP
  UniqueFd homeNetns_;                                 // the loop thread's own netns, opened on first use (appSocket)
};

// Shared by the proxy's files.
std::optional<sockaddr_storage> socketAddress(int fd, bool peer);
// Refusing a captured connection is a reset, like ztunnel: the app sees the
// connection fail rather than a clean close that looks like an empty response.
void resetAndClose(UniqueFd fd);

}  // namespace warren::proxy
