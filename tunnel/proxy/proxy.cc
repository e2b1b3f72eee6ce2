#include "tunnel/proxy/proxy.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "common/netns.h"
#include "hbone/receive_budget.h"
#include "io/accept.h"
#include "io/tcp.h"
#include "tunnel/proxy/app_socket.h"
#include "tunnel/proxy/connection_metrics.h"
#include "tunnel/proxy/inbound_record.h"
#include "tunnel/proxy/relay.h"
#include "tunnel/proxy/revalidation.h"

namespace warren::proxy {

std::optional<sockaddr_storage> socketAddress(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::nullopt;
  return ss;
}

void resetAndClose(UniqueFd fd) { io::resetOnClose(fd.get()); }

Proxy::Proxy(io::EventLoop& loop, const tunnel::CaptureMaps* maps, ProxyInputs inputs, ProxyOptions options)
    : loop_(loop),
      maps_(maps),
      inputs_(inputs),
      options_(options),
      pool_(loop, options.h2),
      hboneSlots_(std::make_shared<io::ConnectionSlots>(options.hboneInbound)),
      plaintextSlots_(std::make_shared<io::ConnectionSlots>(options.plaintextInbound)),
      outboundSlots_(std::make_shared<io::ConnectionSlots>(options.outbound)) {
  // The loop thread's netns, held for appSocket: the thread building the proxy and
  // the loop's thread are in the same one (a thread starts in its creator's netns,
  // and the tunnel moves none for good). Opened now so that it is not counted as
  // a connection's descriptor; without it each entry opens its own.
  if (auto home = homeNetns())
    homeNetns_ = std::move(*home);
  else
    spdlog::warn("{}; a pod's netns is entered the slow way", home.error().message);
}

Proxy::~Proxy() = default;

void Proxy::closeAll() {
  pool_.closeAll();
  auto conns = inbound_;
  for (auto& [id, c] : conns) c->shutdown();
}

size_t Proxy::drainHbone() {
  size_t told = pool_.goAwayAll();
  auto conns = inbound_;  // a copy: a connection that closes leaves inbound_
  for (auto& [id, c] : conns) told += c->shutdownNotice();
  return told;
}

void Proxy::trustBundleChanged(uint64_t generation) { hbone::goAwayOnOlderTrustBundle(pool_, inbound_, generation); }

identity::SpiffeId Proxy::podIdentity(const PodContext& pod) const {
  return identity::workloadIdentity(inputs_.identity ? inputs_.identity->trustDomain() : "cluster.local", pod.ns,
                                    pod.serviceAccount);
}

Result<identity::WorkloadCertPtr> Proxy::podCertificate(const PodContext& pod) {
  if (!inputs_.identity) return makeError("BUG: no identity manager");
  auto cert = inputs_.identity->current(podIdentity(pod));
  if (!cert) counters_.identityRefusals++;
  return cert;
}

bool Proxy::admitUnderLoad(const char* what, const PodContext& pod) {
  const auto now = std::chrono::steady_clock::now();
  if (lastLoadSample_ == std::chrono::steady_clock::time_point{} ||
      now - lastLoadSample_ >= options_.overloadSampleEvery) {
    lastLoadSample_ = now;
    const Watermarks& w = options_.overload;
    LoadSample sample{.heldBytes = hbone::ReceiveBudget::process().held()};
    if (w.fdPercent) {
      sample.openFds = io::openFileCount();
      sample.fdLimit = io::fileLimit();
    }
    const bool over = judgeLoad(sample, w) == LoadState::Overloaded;
    if (over != counters_.overloaded.load())
      spdlog::warn("{} overload: {} descriptors open of {}, {} bytes held for slow readers",
                   over ? "entering" : "leaving", sample.openFds, sample.fdLimit, sample.heldBytes);
    counters_.overloaded = over;
  }
  if (!counters_.overloaded.load()) return true;
  counters_.overloadShed++;
  spdlog::debug("{} {}: overloaded; reset", what, pod.displayName());
  return false;
}

state::ClusterStatePtr Proxy::currentState() const {
  return inputs_.state ? inputs_.state->get() : state::ClusterState::Builder().finish();
}

authz::Decision Proxy::authorizeInbound(const state::ClusterState& st, const PodContext& pod,
                                        const authz::ConnectionFacts& facts, ConnectionRecord& rec) {
  // A pod the state does not list yet (the agent enrolled it before the tunnel's
  // source caught up) still gets its namespace's and the mesh's policies.
  state::Workload storage;
  const state::Workload& dst = destinationOf(st, pod, facts.dstIp, &storage);
  authz::Decision d = authz::authorize(st, dst, facts);
  recordAuthorization(rec, st, dst, pod.displayName(), facts, d);
  if (inputs_.audit) rec.policySha256 = policyDigests_.digest(currentState(), st, d.policy);
  if (!d.allowed) {
    counters_.policyDenied++;
    spdlog::warn("inbound to {} from {} ({}): {}", pod.displayName(), facts.srcIp,
                 facts.srcIdentity ? facts.srcIdentity->uri() : "no identity", d.reason);
  }
  for (const auto& line : d.dryRun)
    spdlog::info("inbound to {} from {}: dry-run: {}", pod.displayName(), facts.srcIp, line);
  return d;
}

uint64_t Proxy::track(const PodContextPtr& pod, Authorized authorized, std::function<void(const std::string&)> abort) {
  uint64_t id = nextRevocableId_++;
  auto& facts = authorized.facts;
  // A state change may have landed between the decision and now (while the app
  // connect was in flight): then judge once more against the newest state, on the
  // loop's next turn so the caller finishes setting up first. Usually nothing
  // changed and the first decision stands.
  auto st = currentState();
  state::Workload storage;
  const bool stillAllowed = st == authorized.decidedWith ||
                            authz::authorize(*st, destinationOf(*st, *pod, facts.dstIp, &storage), facts).allowed;
  // Not allowed by the newest state: the revalidation posted below judges it
  // again, from the state its decision was made with.
  revocable_[id] = Revocable{pod, std::move(facts), std::move(abort), stillAllowed ? st : authorized.decidedWith};
  if (!stillAllowed) loop_.post([this, st] { revalidate(st); });
  return id;
}

void Proxy::revalidate(const state::ClusterStatePtr& next) {
  std::vector<LiveInbound> live;
  live.reserve(revocable_.size());
  for (const auto& [id, r] : revocable_) live.push_back({id, r.pod.get(), &r.facts, r.judgedWith.get()});
  Revalidation result = proxy::revalidate(*next, live);
  counters_.revalidationsJudged += result.judged;
  counters_.revalidationsSkipped += result.skipped;
  // Those that stay were judged with, or are unchanged by, `next`: it is their
  // state from now on (and the older states are let go).
  for (auto& [id, r] : revocable_) r.judgedWith = next;
  std::vector<std::pair<uint64_t, std::string>> revoke;
  for (auto& r : result.revoked) revoke.emplace_back(r.id, std::move(r.reason));
  // Aborting runs the connection's onDone, which untracks it: collect first.
  for (const auto& [id, reason] : revoke) {
    auto it = revocable_.find(id);
    if (it == revocable_.end()) continue;
    auto abort = it->second.abort;
    spdlog::warn("inbound to {} from {}: closed by a policy change: {}", it->second.pod->displayName(),
                 it->second.facts.srcIp, reason);
    counters_.policyRevoked++;
    revocable_.erase(it);
    abort("closed by a policy change: " + reason);
  }
}

void Proxy::opened(const ConnectionRecord& rec) {
  active_++;
  if (inputs_.metrics) inputs_.metrics->connectionOpened(tcpLabels(rec));
}

void Proxy::finished(ConnectionRecord& rec) {
  logConnection(rec);
  if (inputs_.audit) inputs_.audit->submit(auditFields(rec, std::chrono::system_clock::now()));
  // Istio's sent bytes are the response's (destination -> client).
  if (inputs_.metrics) inputs_.metrics->connectionClosed(tcpLabels(rec), rec.bytesReceived, rec.bytesSent);
  counters_.closed++;
  active_--;
}

Result<UniqueFd> Proxy::appSocket(const PodContext& pod, const sockaddr_storage& target, const std::string& clientIp) {
  auto s = openAppSocket(pod, target, options_.mark, clientIp, homeNetns_.get());  // -1 if it could not be opened
  if (!s) return s.error();
  if (!clientIp.empty() && !s->originalSource) {
    counters_.originalSourceFallbacks++;
    // A pod without reply routing was warned about once, at enrollment; the
    // counter tells how often it matters. Anything else is news each time.
    spdlog::log(pod.replyRouting ? spdlog::level::warn : spdlog::level::debug,
                "inbound to {} from {}: the app sees the pod's own address: {}", pod.displayName(), clientIp,
                s->fallbackReason);
  }
  return std::move(s->fd);
}

void Proxy::connectAndRelay(const PodContextPtr& pod, UniqueFd client, const sockaddr_storage& peer,
                            const sockaddr_storage& target, ConnectionRecord rec, std::optional<Authorized> revocable) {
  // The upstream socket lives in the pod's netns: outbound leaves with the pod's
  // own IP, inbound reaches the app over the pod's loopback path.
  // Inbound (the only kind that is revocable), the app sees the client's address.
  Result<UniqueFd> upstream = appSocket(*pod, target, revocable ? revocable->facts.srcIp : std::string());
  rec.pod = pod->displayName();
  rec.src = io::formatSockaddr(peer);
  rec.dst = io::formatSockaddr(target);
  if (!upstream) {
    spdlog::error("{} {} -> {}: cannot open upstream socket: {}", rec.direction, rec.pod, rec.dst,
                  upstream.error().message);
    counters_.upstreamFailed++;
    return resetAndClose(std::move(client));
  }
  spdlog::debug("{} {} {} -> {}: connecting", rec.direction, rec.pod, rec.src, rec.dst);
  opened(rec);
  auto sharedClient = std::make_shared<UniqueFd>(std::move(client));
  io::asyncConnect(loop_, std::move(*upstream), target, options_.connectTimeout,
                   [this, rec, sharedClient, pod, revocable](Result<UniqueFd> connected) mutable {
                     if (!connected) {
                       rec.endReason = "upstream connect failed: " + connected.error().message;
                       rec.responseFlags = "CONNECT";
                       counters_.upstreamFailed++;
                       finished(rec);
                       return resetAndClose(std::move(*sharedClient));
                     }
                     auto trackId = std::make_shared<uint64_t>(0);
                     auto relay = Relay::start(loop_, std::move(*sharedClient), std::move(*connected),
                                               [this, rec, trackId](const RelayStats& stats) mutable {
                                                 if (*trackId) untrack(*trackId);
                                                 rec.bytesSent = stats.bytesAtoB;
                                                 rec.bytesReceived = stats.bytesBtoA;
                                                 rec.duration = stats.duration;
                                                 rec.endReason = stats.endReason;
                                                 finished(rec);
                                               });
                     // onDone never runs inside start(), so the relay is live here.
                     if (revocable && !relay->done()) {
                       std::weak_ptr<Relay> weak = relay;
                       *trackId = track(pod, std::move(*revocable), [weak](const std::string& why) {
                         if (auto r = weak.lock()) r->abort(why);
                       });
                     }
                   });
}

}  // namespace warren::proxy
