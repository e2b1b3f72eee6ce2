#include "ztunnel/inpod/inpod_manager.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <future>

#include <spdlog/spdlog.h>

#include "common/netns.h"
#include "warren_abi.h"

namespace warren::inpod {

namespace {

// A listener inside the current netns. SO_REUSEPORT lets a new tunnel bind next
// to an old one during an upgrade; the mark keeps capture off the tunnel's sockets.
Result<UniqueFd> listenInPod(int family, uint16_t port, uint32_t mark) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (mark && ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
    return errnoError("setsockopt(SO_MARK)");
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    len = sizeof(*in);
  } else {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof(*in6);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return errnoError("bind port " + std::to_string(port) + " in pod");
  if (::listen(fd.get(), 1024) != 0) return errnoError("listen");
  return fd;
}

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

Result<InpodManager::Workload> InpodManager::openListeners(const WorkloadInfo& info, UniqueFd netns,
                                                           uint64_t cookie) {
  bool v4 = false, v6 = false;
  for (const auto& ip : info.ips) (isIpv6(ip) ? v6 : v4) = true;
  if (!v4 && !v6) v4 = true;  // still capture outbound via 127.0.0.1

  UniqueFd out4, in4, out6, in6;
  {
    auto in = ScopedNetns::enter(netns.get());
    if (!in) return in.error();
    auto open = [&](int family, uint16_t port, UniqueFd& dst) -> Status {
      auto fd = listenInPod(family, port, options_.mark);
      if (!fd) return fd.error();
      dst = std::move(*fd);
      return okStatus();
    };
    if (v4) {
      if (auto st = open(AF_INET, WARREN_OUTBOUND_PORT, out4); !st) return st.error();
      if (auto st = open(AF_INET, WARREN_INBOUND_PORT, in4); !st) return st.error();
    }
    if (v6) {
      if (auto st = open(AF_INET6, WARREN_OUTBOUND_PORT, out6); !st) return st.error();
      if (auto st = open(AF_INET6, WARREN_INBOUND_PORT, in6); !st) return st.error();
    }
  }
  for (const auto& ip : info.ips) {
    int fd = isIpv6(ip) ? in6.get() : in4.get();
    if (auto st = maps_->registerInboundListener(ip, fd); !st) return st.error();
  }

  auto ctx = std::make_shared<proxy::PodContext>();
  ctx->uid = info.uid;
  ctx->name = info.name;
  ctx->ns = info.ns;
  ctx->serviceAccount = info.serviceAccount;
  ctx->ips = info.ips;
  ctx->netnsCookie = cookie;
  ctx->netns = std::move(netns);

  Workload w;
  w.pod = ctx;
  for (UniqueFd* fd : {&out4, &out6, &in4, &in6}) {
    if (!*fd) continue;
    watchListener(fd->get(), ctx, fd == &out4 || fd == &out6);
    w.listeners.push_back(std::move(*fd));
  }
  return w;
}

void InpodManager::watchListener(int listener, const proxy::PodContextPtr& ctx, bool outbound) {
  loop_.post([this, listener, ctx, outbound] {
    (void)loop_.watch(listener, EPOLLIN, [this, listener, ctx, outbound](uint32_t) {
      for (;;) {
        int c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) break;
        if (outbound) proxy_.handleOutbound(ctx, UniqueFd(c));
        else proxy_.handleInbound(ctx, UniqueFd(c));
      }
    });
  });
}

Status InpodManager::addWorkload(const WorkloadInfo& info, UniqueFd netns) {
  auto cookie = netnsCookie(netns.get());
  if (!cookie) return withContext(cookie.error(), "workload " + info.uid);
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(info.uid);
    // The agent replays every pod after a reconnect: same netns, nothing to do.
    if (it != workloads_.end() && it->second.pod->netnsCookie == *cookie) return okStatus();
  }
  if (auto st = ensureMaps(); !st) return st;
  auto w = openListeners(info, std::move(netns), *cookie);
  if (!w) return withContext(w.error(), "workload " + info.ns + "/" + info.name);

  std::optional<Workload> replaced;
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(info.uid);
    if (it != workloads_.end()) replaced = std::move(it->second);
    workloads_[info.uid] = std::move(*w);
  }
  if (replaced) retire(std::move(*replaced));
  spdlog::info("workload {}/{} (uid {}, netns cookie {}) enrolled: listening on {} and {}", info.ns, info.name,
               info.uid, *cookie, WARREN_OUTBOUND_PORT, WARREN_INBOUND_PORT);
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
  // Closing the listeners removes them from warren_inbound (the kernel unhashes
  // closed sockets); connections already relayed carry on to their end.
  auto listeners = std::make_shared<std::vector<UniqueFd>>(std::move(w.listeners));
  onLoop([this, listeners] {
    for (auto& fd : *listeners) loop_.unwatch(fd.get());
    listeners->clear();
  });
}

size_t InpodManager::workloadCount() const {
  std::lock_guard lock(mu_);
  return workloads_.size();
}

}  // namespace warren::inpod
