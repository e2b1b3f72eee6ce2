#include "agent/zds/zds_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "agent/zds/tunnel_message.h"
#include "common/bound_path.h"
#include "common/zds/seqpacket.h"
#include "io/accept.h"
#include "zds.pb.h"

namespace warren::zds {

namespace pb = warren::zds::v1;

Result<std::unique_ptr<ZdsServer>> ZdsServer::start(const std::string& socketPath, Start mode) {
  sockaddr_un addr{};
  if (socketPath.size() >= sizeof(addr.sun_path)) return makeError("socket path too long: " + socketPath);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errnoError("socket(AF_UNIX, SOCK_SEQPACKET)");
  // A socket left by a previous agent blocks bind; anything else at that path is
  // not ours to delete.
  struct stat st {};
  if (::lstat(socketPath.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return makeError(socketPath + " exists and is not a socket; refusing to replace it");
    if (::unlink(socketPath.c_str()) != 0) return errnoError("remove stale socket " + socketPath);
  }
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return errnoError("bind " + socketPath);
  // Whoever connects receives every pod's netns: root only. Set before listen, so
  // no connection is accepted under the umask's mode.
  if (::chmod(socketPath.c_str(), 0600) != 0) {
    auto err = errnoError("chmod 0600 " + socketPath);
    ::unlink(socketPath.c_str());
    return err;
  }
  if (::listen(fd.get(), 16) != 0) return errnoError("listen " + socketPath);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errnoError("eventfd");
  spdlog::info("zds: serving tunnels on {}", socketPath);
  auto server =
      std::unique_ptr<ZdsServer>(new ZdsServer(socketPath, std::move(fd), std::move(wake), mode == Start::Open));
  server->bound_ = boundPath(socketPath);
  return server;
}

void ZdsServer::openToTunnels() {
  {
    std::lock_guard lock(mu_);
    if (!open_) spdlog::info("zds: answering tunnels now, with {} pod(s)", pods_.size());
    open_ = true;
  }
  wake();
}

ZdsServer::ZdsServer(std::string path, UniqueFd listener, UniqueFd wake, bool open)
    : path_(std::move(path)), listener_(std::move(listener)), wake_(std::move(wake)), open_(open) {
  thread_ = std::thread([this] { run(); });
}

ZdsServer::~ZdsServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  unlinkIfStillOurs(bound_);  // a successor agent's socket stays
}

void ZdsServer::wake() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void ZdsServer::upsertPod(PodHandoff pod) {
  {
    std::lock_guard lock(mu_);
    uint64_t generation = nextGeneration_++;
    // A new hand-off must be confirmed anew: the previous ack was for other listeners.
    status_[pod.uid] = PodAckStatus{};
    if (Tunnel* t = newest()) t->queue.push_back({Outgoing::Kind::Add, pod, generation});
    std::string uid = pod.uid;
    pods_[uid] = Pod{std::move(pod), generation};
  }
  wake();
}

void ZdsServer::removePod(const std::string& uid) {
  {
    std::lock_guard lock(mu_);
    pods_.erase(uid);
    status_.erase(uid);
    PodHandoff gone;
    gone.uid = uid;
    for (auto& t : tunnels_)
      if (t->helloed) t->queue.push_back({Outgoing::Kind::Del, gone, 0});
  }
  wake();
}

std::optional<ZdsServer::PodAckStatus> ZdsServer::podStatus(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = status_.find(uid);
  if (it == status_.end()) return std::nullopt;
  return it->second;
}

size_t ZdsServer::connectedTunnels() const {
  std::lock_guard lock(mu_);
  return connectedTunnelsLocked();
}

size_t ZdsServer::connectedTunnelsLocked() const {
  return static_cast<size_t>(
      std::count_if(tunnels_.begin(), tunnels_.end(), [](const auto& t) { return t->helloed && t->fd; }));
}

bool ZdsServer::waitForAck(const std::string& uid, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return acked_.wait_for(lock, timeout, [&] {
    auto it = status_.find(uid);
    return it != status_.end() && it->second.state != AckState::Pending;
  });
}

ZdsServer::Tunnel* ZdsServer::newest() {
  Tunnel* best = nullptr;
  for (auto& t : tunnels_)
    if (t->helloed && t->fd && (!best || t->helloSeq > best->helloSeq)) best = t.get();
  return best;
}

void ZdsServer::queueReplay(Tunnel& t) {
  for (const auto& [uid, pod] : pods_) t.queue.push_back({Outgoing::Kind::Add, pod.handoff, pod.generation});
  t.queue.push_back({Outgoing::Kind::Snapshot, {}, 0});
}

// Returns false when the connection must be closed.
bool ZdsServer::onReadable(Tunnel& t) {
  auto msg = receiveMessage(t.fd.get());
  if (!msg) {
    if (msg.error().code == EAGAIN || msg.error().code == EWOULDBLOCK) return true;  // spurious wake-up
    spdlog::warn("zds: tunnel #{} (pid {}): {}; dropping the connection", t.id, t.pid, msg.error().message);
    return false;
  }
  if (msg->eof) {
    spdlog::info("zds: tunnel #{} (pid {}) disconnected", t.id, t.pid);
    return false;
  }
  // msg closes any fds it brought when it goes.
  const TunnelMessage verdict = judgeTunnelMessage(msg->bytes, msg->fds.size(), t.helloed, t.inFlight.has_value());
  if (verdict.kind == TunnelMessage::Kind::Drop) {
    spdlog::warn("zds: tunnel #{} (pid {}) {}; dropping the connection", t.id, t.pid, verdict.detail);
    return false;
  }
  if (verdict.kind == TunnelMessage::Kind::Hello) {
    t.helloed = true;
    t.helloSeq = nextHelloSeq_++;
    spdlog::info("zds: tunnel #{} (pid {}) connected; replaying {} pod(s){}", t.id, t.pid, pods_.size(),
                 connectedTunnelsLocked() > 1 ? "; it takes new pods from now on (an upgrade)" : "");
    queueReplay(t);
    return true;
  }
  const std::string& error = verdict.detail;
  Outgoing done = std::move(*t.inFlight);
  t.inFlight.reset();
  if (done.kind == Outgoing::Kind::Add) {
    auto it = status_.find(done.pod.uid);
    auto pod = pods_.find(done.pod.uid);
    // Only the latest hand-off of a live pod decides its status.
    if (it != status_.end() && pod != pods_.end() && pod->second.generation == done.generation) {
      it->second = error.empty() ? PodAckStatus{AckState::Acked, ""} : PodAckStatus{AckState::Nacked, error};
      acked_.notify_all();
    }
  }
  if (!error.empty()) {
    const char* what = done.kind == Outgoing::Kind::Add   ? "add"
                       : done.kind == Outgoing::Kind::Del ? "delete"
                                                          : "snapshot";
    spdlog::error("zds: tunnel #{} (pid {}) refused {} of pod {}: {}", t.id, t.pid, what,
                  done.pod.uid.empty() ? "-" : done.pod.uid, error);
  }
  return true;
}

void ZdsServer::sendNext(Tunnel& t) {
  if (t.inFlight || t.queue.empty() || !t.fd) return;
  Outgoing next = std::move(t.queue.front());
  t.queue.pop_front();
  pb::WorkloadRequest req;
  int fd = -1;
  switch (next.kind) {
    case Outgoing::Kind::Add: {
      auto* add = req.mutable_add();
      add->set_uid(next.pod.uid);
      auto* info = add->mutable_workload_info();
      info->set_name(next.pod.name);
      info->set_namespace_(next.pod.ns);
      info->set_service_account(next.pod.serviceAccount);
      for (const auto& ip : next.pod.ips) info->add_ips(ip);
      fd = next.pod.netns ? next.pod.netns->get() : -1;
      if (fd < 0) {
        // An add without its netns would be refused anyway; never send one.
        spdlog::error("zds: pod {} has no netns fd; not sending it to tunnel #{}", next.pod.uid, t.id);
        return;
      }
      break;
    }
    case Outgoing::Kind::Del: req.mutable_del()->set_uid(next.pod.uid); break;
    case Outgoing::Kind::Snapshot: req.mutable_snapshot_sent(); break;
  }
  if (auto st = sendProto(t.fd.get(), req, fd); !st) {
    spdlog::warn("zds: send to tunnel #{} (pid {}) failed: {}; dropping the connection", t.id, t.pid,
                 st.error().message);
    t.fd.reset();
    return;
  }
  t.inFlight = std::move(next);
}

void ZdsServer::run() {
  for (;;) {
    std::vector<pollfd> fds;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      // The newest tunnel gone while an older one stays (an upgrade's new tunnel
      // that failed): the older one gets every pod again, those added since too.
      uint64_t newestSeq = 0;
      bool newestGone = false;
      for (auto& t : tunnels_)
        if (t->helloed && t->helloSeq > newestSeq) {
          newestSeq = t->helloSeq;
          newestGone = !t->fd;
        }
      tunnels_.erase(std::remove_if(tunnels_.begin(), tunnels_.end(), [](const auto& t) { return !t->fd; }),
                     tunnels_.end());
      if (Tunnel* t = newestGone ? newest() : nullptr) {
        spdlog::info("zds: the newest tunnel left; replaying {} pod(s) to tunnel #{} (pid {})", pods_.size(), t->id,
                     t->pid);
        queueReplay(*t);
      }
      for (auto& t : tunnels_) {
        // sendNext returns early with nothing in flight when it skipped an
        // unsendable add; keep going until one is in flight or the queue is empty.
        while (t->fd && !t->inFlight && !t->queue.empty()) sendNext(*t);
      }
      // A failed send dropped its tunnel: come round again at once, to remove it
      // (and replay to an older one if it was the newest).
      if (std::any_of(tunnels_.begin(), tunnels_.end(), [](const auto& t) { return !t->fd; })) wake();
      fds.push_back({listener_.get(), POLLIN, 0});
      fds.push_back({wake_.get(), POLLIN, 0});
      // Held: a tunnel's hello stays unread in its socket (a hang-up still shows).
      for (auto& t : tunnels_) fds.push_back({t->fd.get(), static_cast<short>(open_ ? POLLIN : 0), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno != EINTR) spdlog::error("zds: poll: {}", std::strerror(errno));
      continue;
    }
    std::lock_guard lock(mu_);
    if (fds[1].revents) {
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof(n));
    }
    // Tunnels are only added below and only removed at the top of the loop, so
    // tunnels_[i - 2] is the tunnel fds[i] was built from.
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Tunnel& t = *tunnels_[i - 2];
      if (t.fd && !onReadable(t)) t.fd.reset();
    }
    if (fds[0].revents) {
      // Non-blocking: sends are one request per ack, so a full buffer means a
      // broken peer; it must never stall the thread that holds mu_.
      // Out of descriptors, the waiting client is shed rather than left queued
      // (which would make poll() return at once, for ever: a spin).
      io::Accepted a = io::acceptOrShed(listener_.get());
      if (a.outcome == io::AcceptOutcome::Accepted) {
        const int c = a.fd.get();
        auto t = std::make_unique<Tunnel>();
        t->id = nextTunnelId_++;
        t->fd = std::move(a.fd);
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (::getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) t->pid = cred.pid;
        spdlog::debug("zds: client #{} (pid {}) connected; waiting for its hello", t->id, t->pid);
        tunnels_.push_back(std::move(t));
      } else if (a.outcome == io::AcceptOutcome::Shed) {
        spdlog::warn("zds: out of file descriptors: a tunnel's connection was refused");
      } else if (a.outcome == io::AcceptOutcome::Failed) {
        spdlog::warn("zds: accept: {}", std::strerror(errno));
      }
    }
  }
}

}  // namespace warren::zds
