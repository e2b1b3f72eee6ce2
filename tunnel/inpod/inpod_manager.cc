#include "tunnel/inpod/inpod_manager.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <future>

#include <spdlog/spdlog.h>

#include "common/ip_literal.h"
#include "common/netns.h"
#include "io/accept.h"
#include "io/tcp.h"
#include "tunnel/inpod/reply_routing.h"
#include "tunnel/inpod/sysctl.h"
#include "warren_abi.h"

namespace warren::inpod {

namespace {

sockaddr_storage anyAddress(int family, uint16_t port) { return toSockaddr(IpLiteral{family, {}}, port); }

bool isIpv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

}  // namespace

InpodManager::~InpodManager() {
  std::map<std::string, Workload> all;
  {
    std::lock_guard lock(mu_);
    all.swap(workloads_);
  }
  for (auto& [uid, w] : all) retire(std::move(w));
}

void InpodManager::onLoop(std::function<void()> fn) {
  if (loop_.inLoopThread()) return fn();
  std::promise<void> done;
  auto fut = done.get_future();
  loop_.post([&] {
    fn();
    done.set_value();
  });
  fut.wait();
}

Status InpodManager::ensureMaps() {
  if (maps_) return okStatus();
  auto maps = tunnel::CaptureMaps::open(options_.pinRoot);
  if (!maps) return maps.error();
  maps_ = std::make_unique<tunnel::CaptureMaps>(std::move(*maps));
  onLoop([&] { proxy_.setMaps(maps_.get()); });
  return okStatus();
}

Result<InpodManager::Workload> InpodManager::openListeners(const WorkloadInfo& info, UniqueFd netns, uint64_t cookie) {
  bool v4 = false, v6 = false, replyRouting = false;
  for (const auto& ip : info.ips) (isIpv6(ip) ? v6 : v4) = true;
  if (!v4 && !v6) v4 = true;  // still capture outbound via 127.0.0.1

  // Per family: outbound, inbound, HBONE. SO_REUSEPORT lets a new tunnel bind next
  // to an old one during an upgrade; the mark keeps capture off the tunnel's sockets.
  UniqueFd out4, in4, hbone4, out6, in6, hbone6;
  {
    auto in = ScopedNetns::enter(netns.get());
    if (!in) return in.error();
    auto open = [&](int family, uint16_t port, UniqueFd& dst) -> Status {
      auto fd = io::listenTcp(anyAddress(family, port), options_.mark, true, 1024);
      if (!fd) return withContext(fd.error(), "listen on port " + std::to_string(port) + " in the pod");
      dst = std::move(*fd);
      return okStatus();
    };
    if (v4) {
      if (auto st = open(AF_INET, WARREN_OUTBOUND_PORT, out4); !st) return st.error();
      if (auto st = open(AF_INET, WARREN_INBOUND_PORT, in4); !st) return st.error();
      if (auto st = open(AF_INET, WARREN_HBONE_PORT, hbone4); !st) return st.error();
    }
    if (v6) {
      if (auto st = open(AF_INET6, WARREN_OUTBOUND_PORT, out6); !st) return st.error();
      if (auto st = open(AF_INET6, WARREN_INBOUND_PORT, in6); !st) return st.error();
      if (auto st = open(AF_INET6, WARREN_HBONE_PORT, hbone6); !st) return st.error();
    }
    // Upgrades: when the old tunnel closes a listener, the connections in its
    // queue move to the new tunnel's socket in the same SO_REUSEPORT group rather
    // than being reset. Per netns, so set in the pod. It changes nothing else for
    // the pod: only a listener closing inside a reuseport group is concerned (an
    // app's own group then hands its queue on too, instead of resetting it).
    // Not fatal: without it, a connection queued at that instant is reset.
    if (auto st = setSysctl("/proc/sys/net/ipv4/tcp_migrate_req", "1"); !st)
      spdlog::warn("pod {}/{}: {}; an upgrade may reset connections queued at its listeners", info.ns, info.name,
                   st.error().message);
    // Not fatal: without it the pod is served, its apps just see the pod's own
    // address as the source of inbound connections (counted per connection).
    if (auto st = installReplyRouting(v4, v6); st)
      replyRouting = true;
    else
      spdlog::warn("pod {}/{}: no reply routing, apps will not see client addresses: {}", info.ns, info.name,
                   st.error().message);
  }
  auto ctx = std::make_shared<proxy::PodContext>();
  ctx->uid = info.uid;
  ctx->name = info.name;
  ctx->ns = info.ns;
  ctx->serviceAccount = info.serviceAccount;
  ctx->ips = info.ips;
  ctx->netnsCookie = cookie;
  ctx->netns = std::move(netns);
  ctx->replyRouting = replyRouting;

  Workload w;
  w.pod = ctx;
  w.inbound4 = in4.get();
  w.inbound6 = in6.get();
  w.hbone4 = hbone4.get();
  w.hbone6 = hbone6.get();
  if (auto st = registerInMaps(info.ips, w); !st) return st.error();
  auto add = [&](UniqueFd& fd, ListenerKind kind) {
    if (!fd) return;
    watchListener(fd.get(), ctx, kind);
    w.listeners.push_back(std::move(fd));
  };
  add(out4, ListenerKind::Outbound);
  add(out6, ListenerKind::Outbound);
  add(in4, ListenerKind::Inbound);
  add(in6, ListenerKind::Inbound);
  add(hbone4, ListenerKind::Hbone);
  add(hbone6, ListenerKind::Hbone);
  return w;
}

Status InpodManager::registerInMaps(const std::vector<std::string>& ips, const Workload& w) {
  for (const auto& ip : ips) {
    const bool six = isIpv6(ip);
    if (auto st = maps_->registerListeners(ip, six ? w.inbound6 : w.inbound4, six ? w.hbone6 : w.hbone4); !st)
      return st;
  }
  return okStatus();
}

void InpodManager::watchListener(int listener, const proxy::PodContextPtr& ctx, ListenerKind kind) {
  loop_.post([this, listener, ctx, kind] {
    (void)loop_.watch(listener, EPOLLIN, [this, listener, ctx, kind](uint32_t) {
      // A bounded batch per wake-up, so one busy pod cannot starve the others.
      // Out of descriptors, a queued connection is shed (reset) rather than left
      // to make the listener spin the loop (io/accept.h).
      for (int i = 0; i < 64; ++i) {
        io::Accepted a = io::acceptOrShed(listener);
        if (a.outcome == io::AcceptOutcome::Shed) continue;
        if (a.outcome != io::AcceptOutcome::Accepted) break;
        switch (kind) {
          case ListenerKind::Outbound: proxy_.handleOutbound(ctx, std::move(a.fd)); break;
          case ListenerKind::Inbound: proxy_.handleInbound(ctx, std::move(a.fd)); break;
          case ListenerKind::Hbone: proxy_.handleHbone(ctx, std::move(a.fd)); break;
        }
      }
    });
  });
}

Status InpodManager::addWorkload(const WorkloadInfo& info, UniqueFd netns) {
  auto cookie = netnsCookie(netns.get());
  if (!cookie) return withContext(cookie.error(), "workload " + info.uid);
  {
    std::lock_guard lock(mu_);
    if (stopped_) return makeError("draining: this tunnel takes no new workload");
    auto it = workloads_.find(info.uid);
    // The agent replays every pod after a reconnect: same netns, same listeners;
    // only the maps are pointed at them again (registerInMaps says why).
    if (it != workloads_.end() && it->second.pod->netnsCookie == *cookie) return registerInMaps(info.ips, it->second);
  }
  if (auto st = ensureMaps(); !st) return st;
  std::optional<identity::SpiffeId> id;
  if (identity_) {
    id = identity::workloadIdentity(identity_->trustDomain(), info.ns, info.serviceAccount);
    // Nack (and so fail the pod's CNI ADD) rather than run a pod that cannot prove
    // who it is: its HBONE traffic would fail closed anyway.
    if (auto cert = identity_->ensure(*id); !cert)
      return withContext(cert.error(), "workload " + info.ns + "/" + info.name + ": certificate");
  }
  auto w = openListeners(info, std::move(netns), *cookie);
  if (!w) {
    if (id) identity_->release(*id);
    return withContext(w.error(), "workload " + info.ns + "/" + info.name);
  }
  w->identity = id;

  std::optional<Workload> replaced;
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(info.uid);
    if (it != workloads_.end()) replaced = std::move(it->second);
    workloads_[info.uid] = std::move(*w);
  }
  if (replaced) retire(std::move(*replaced));
  spdlog::info("workload {}/{} (uid {}, netns cookie {}) enrolled: listening on {}, {} and {} as {}", info.ns,
               info.name, info.uid, *cookie, WARREN_OUTBOUND_PORT, WARREN_INBOUND_PORT, WARREN_HBONE_PORT,
               id ? id->uri() : std::string("(no identity)"));
  return okStatus();
}

Status InpodManager::keepWorkload(const std::string& uid) {
  std::lock_guard lock(mu_);
  if (!workloads_.count(uid)) return makeError("keep for unknown workload " + uid);
  return okStatus();
}

Status InpodManager::removeWorkload(const std::string& uid) {
  std::optional<Workload> w;
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(uid);
    if (it == workloads_.end()) return okStatus();  // already gone: delete is idempotent
    w = std::move(it->second);
    workloads_.erase(it);
  }
  spdlog::info("workload {} removed", w->pod->displayName());
  retire(std::move(*w));
  return okStatus();
}

void InpodManager::snapshotComplete(const std::set<std::string>& uidsInSnapshot) {
  std::vector<std::string> stale;
  {
    std::lock_guard lock(mu_);
    for (const auto& [uid, w] : workloads_)
      if (!uidsInSnapshot.count(uid)) stale.push_back(uid);
  }
  for (const auto& uid : stale) {
    spdlog::info("workload {} was not in the agent's snapshot; removing", uid);
    (void)removeWorkload(uid);
  }
}

void InpodManager::retire(Workload w) {
  if (w.identity && identity_) identity_->release(*w.identity);
  // Closing the listeners removes them from warren_inbound (the kernel unhashes
  // closed sockets); connections already relayed carry on to their end.
  auto listeners = std::make_shared<std::vector<UniqueFd>>(std::move(w.listeners));
  onLoop([this, listeners] {
    for (auto& fd : *listeners) loop_.unwatch(fd.get());
    listeners->clear();
  });
}

void InpodManager::stopAccepting() {
  std::vector<UniqueFd> listeners;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [uid, w] : workloads_)
      for (auto& fd : w.listeners) listeners.push_back(std::move(fd));
  }
  spdlog::info("draining: closing {} listener(s) of {} workload(s)", listeners.size(), workloadCount());
  onLoop([this, &listeners] {
    for (auto& fd : listeners) loop_.unwatch(fd.get());
    listeners.clear();
  });
}

size_t InpodManager::workloadCount() const {
  std::lock_guard lock(mu_);
  return workloads_.size();
}

}  // namespace warren::inpod
