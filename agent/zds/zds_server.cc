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

#include "common/zds/seqpacket.h"
#include "zds.pb.h"

namespace warren::zds {

Result<std::unique_ptr<ZdsServer>> ZdsServer::start(const std::string& socketPath) {
  sockaddr_un addr{};
  if (socketPath.size() >= sizeof(addr.sun_path)) return makeError("socket path too long: " + socketPath);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errnoError("socket(AF_UNIX, SOCK_SEQPACKET)");
  ::unlink(socketPath.c_str());  // a stale socket from a previous agent
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return errnoError("bind " + socketPath);
  ::chmod(socketPath.c_str(), 0600);
  if (::listen(fd.get(), 16) != 0) return errnoError("listen " + socketPath);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errnoError("eventfd");
  return std::unique_ptr<ZdsServer>(new ZdsServer(socketPath, std::move(fd), std::move(wake)));
}

ZdsServer::ZdsServer(std::string path, UniqueFd listener, UniqueFd wake)
    : path_(std::move(path)), listener_(std::move(listener)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { run(); });
}

ZdsServer::~ZdsServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  ::unlink(path_.c_str());
}

void ZdsServer::wake() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void ZdsServer::upsertPod(PodHandoff pod) {
  {
    std::lock_guard lock(mu_);
    status_[pod.uid] = PodAckStatus{};
    for (auto& t : tunnels_)
      if (t->helloed) t->queue.push_back({Outgoing::Kind::Add, pod});
    pods_[pod.uid] = std::move(pod);
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
      if (t->helloed) t->queue.push_back({Outgoing::Kind::Del, gone});
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
  return static_cast<size_t>(
      std::count_if(tunnels_.begin(), tunnels_.end(), [](const auto& t) { return t->helloed; }));
}

bool ZdsServer::waitForAck(const std::string& uid, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return acked_.wait_for(lock, timeout, [&] {
    auto it = status_.find(uid);
    return it != status_.end() && it->second.state != AckState::Pending;
  });
}

void ZdsServer::queueReplay(Tunnel& t) {
  for (const auto& [uid, pod] : pods_) t.queue.push_back({Outgoing::Kind::Add, pod});
  t.queue.push_back({Outgoing::Kind::Snapshot, {}});
}

// Returns false when the connection must be closed.
bool ZdsServer::onReadable(Tunnel& t) {
  auto msg = receiveMessage(t.fd.get());
  if (!msg) {
    spdlog::warn("zds: dropping tunnel connection: {}", msg.error().message);
    return false;
  }
  if (msg->eof) {
    spdlog::info("zds: tunnel disconnected");
    return false;
  }
  if (!msg->fds.empty()) {
    spdlog::warn("zds: tunnel sent file descriptors, which it never should; dropping the connection");
    return false;
  }
  warren::zds::v1::TunnelMessage tm;
  if (!tm.ParseFromString(msg->bytes)) {
    spdlog::warn("zds: unparsable message from a tunnel ({} bytes); dropping the connection", msg->bytes.size());
    return false;
  }
  if (!t.helloed) {
    if (!tm.has_hello() || tm.hello().version() != warren::zds::v1::V1) {
      spdlog::warn("zds: a client spoke before saying hello (or with an unknown version); dropping it");
      return false;
    }
    t.helloed = true;
    spdlog::info("zds: tunnel connected; replaying {} pod(s)", pods_.size());
    queueReplay(t);
    return true;
  }
  if (!tm.has_response() || !tm.response().has_ack() || !t.inFlight) {
    spdlog::warn("zds: unexpected message from the tunnel; dropping the connection");
    return false;
  }
  const std::string& error = tm.response().ack().error();
  Outgoing done = std::move(*t.inFlight);
  t.inFlight.reset();
  if (done.kind == Outgoing::Kind::Add) {
    auto it = status_.find(done.pod.uid);
    if (it != status_.end()) {
      it->second = error.empty() ? PodAckStatus{AckState::Acked, ""} : PodAckStatus{AckState::Nacked, error};
      acked_.notify_all();
    }
  }
  if (!error.empty())
    spdlog::error("zds: the tunnel refused {} of pod {}: {}", done.kind == Outgoing::Kind::Add ? "add" : "update",
                  done.pod.uid, error);
  return true;
}

void ZdsServer::sendNext(Tunnel& t) {
  if (t.inFlight || t.queue.empty() || !t.fd) return;
  Outgoing next = std::move(t.queue.front());
  t.queue.pop_front();
  warren::zds::v1::WorkloadRequest req;
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
      break;
    }
    case Outgoing::Kind::Del:
      req.mutable_del()->set_uid(next.pod.uid);
      break;
    case Outgoing::Kind::Snapshot:
      req.mutable_snapshot_sent();
      break;
  }
  if (auto st = sendProto(t.fd.get(), req, fd); !st) {
    spdlog::warn("zds: send to tunnel failed: {}; dropping the connection", st.error().message);
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
      for (auto& t : tunnels_) sendNext(*t);
      tunnels_.erase(std::remove_if(tunnels_.begin(), tunnels_.end(), [](const auto& t) { return !t->fd; }),
                     tunnels_.end());
      fds.push_back({listener_.get(), POLLIN, 0});
      fds.push_back({wake_.get(), POLLIN, 0});
      for (auto& t : tunnels_) fds.push_back({t->fd.get(), POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    std::lock_guard lock(mu_);
    if (fds[1].revents) {
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof(n));
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      for (auto& t : tunnels_)
        if (t->fd && t->fd.get() == fds[i].fd && !onReadable(*t)) t->fd.reset();
    }
    if (fds[0].revents) {
      int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        auto t = std::make_unique<Tunnel>();
        t->fd = UniqueFd(c);
        tunnels_.push_back(std::move(t));
      }
    }
  }
}

}  // namespace warren::zds
