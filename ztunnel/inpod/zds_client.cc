#include "ztunnel/inpod/zds_client.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/zds/seqpacket.h"
#include "zds.pb.h"

namespace warren::inpod {

namespace pb = warren::zds::v1;

std::unique_ptr<ZdsClient> ZdsClient::start(const std::string& socketPath, WorkloadHandler& handler) {
  return std::unique_ptr<ZdsClient>(
      new ZdsClient(socketPath, handler, UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))));
}

ZdsClient::ZdsClient(std::string path, WorkloadHandler& handler, UniqueFd stop)
    : path_(std::move(path)), handler_(handler), stop_(std::move(stop)) {
  thread_ = std::thread([this] { run(); });
}

ZdsClient::~ZdsClient() {
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  thread_.join();
}

bool ZdsClient::waitStop(int timeoutMs) {
  pollfd p{stop_.get(), POLLIN, 0};
  return ::poll(&p, 1, timeoutMs) > 0;
}

Result<UniqueFd> ZdsClient::connectOnce() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return errnoError("connect to warren-agent at " + path_);
  return fd;
}

void ZdsClient::run() {
  int backoffMs = 50;
  for (;;) {
    auto sock = connectOnce();
    if (!sock) {
      spdlog::debug("zds: {}; retrying in {} ms", sock.error().message, backoffMs);
      if (waitStop(backoffMs)) return;
      backoffMs = std::min(backoffMs * 2, 1000);
      continue;
    }
    backoffMs = 50;
    pb::TunnelMessage hello;
    hello.mutable_hello()->set_version(pb::V1);
    if (auto st = zds::sendProto(sock->get(), hello); !st) {
      spdlog::warn("zds: hello failed: {}", st.error().message);
      continue;
    }
    connected_ = true;
    spdlog::info("zds: connected to warren-agent at {}", path_);
    bool keepGoing = serve(sock->get());
    connected_ = false;
    if (!keepGoing) return;
    spdlog::warn("zds: lost warren-agent; keeping every workload and reconnecting");
  }
}

namespace {

Status ack(int sock, const std::string& error) {
  pb::TunnelMessage m;
  m.mutable_response()->mutable_ack()->set_error(error);
  return zds::sendProto(sock, m);
}

}  // namespace

bool ZdsClient::serve(int sock) {
  std::set<std::string> seen;  // uids added or kept since hello
  for (;;) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return false;
    auto msg = zds::receiveMessage(sock);
    if (!msg) {
      spdlog::warn("zds: {}", msg.error().message);
      return true;
    }
    if (msg->eof) return true;

    pb::WorkloadRequest req;
    Status result;
    if (!req.ParseFromString(msg->bytes)) {
      result = makeError("cannot parse the request");
    } else if (req.has_add()) {
      if (msg->fds.size() != 1) {
        result = makeError("add of " + req.add().uid() + " must carry exactly one netns fd, got " +
                           std::to_string(msg->fds.size()));
      } else {
        const auto& wi = req.add().workload_info();
        WorkloadInfo info{req.add().uid(), wi.name(), wi.namespace_(), wi.service_account(),
                          {wi.ips().begin(), wi.ips().end()}};
        result = handler_.addWorkload(info, std::move(msg->fds[0]));
        if (result) seen.insert(info.uid);
      }
    } else if (!msg->fds.empty()) {
      result = makeError("only add carries a file descriptor");
    } else if (req.has_keep()) {
      result = handler_.keepWorkload(req.keep().uid());
      if (result) seen.insert(req.keep().uid());
    } else if (req.has_del()) {
      result = handler_.removeWorkload(req.del().uid());
      seen.erase(req.del().uid());
    } else if (req.has_snapshot_sent()) {
      handler_.snapshotComplete(seen);
    } else {
      result = makeError("unknown request");
    }
    // Fds we did not hand to the handler close here with msg.
    if (!result) spdlog::warn("zds: refusing request: {}", result.error().message);
    if (auto st = ack(sock, result ? "" : result.error().message); !st) return true;
  }
}

}  // namespace warren::inpod
