#include "tunnel/inpod/zds_client.h"

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
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) {
    // Without it the destructor could not interrupt the thread; no client at all
    // is the honest answer (callers treat nullptr as "no hand-offs").
    spdlog::critical("zds: eventfd: {}", std::strerror(errno));
    return nullptr;
  }
  return std::unique_ptr<ZdsClient>(new ZdsClient(socketPath, handler, std::move(stop)));
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
  sockaddr_un addr{};
  if (path_.size() >= sizeof(addr.sun_path)) return makeError("socket path too long: " + path_);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
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
    pb::TunnelMessage hello;
    hello.mutable_hello()->set_version(pb::V1);
    if (auto st = zds::sendProto(sock->get(), hello); !st) {
      // The agent is going away as we arrive: back off as if it were absent.
      spdlog::warn("zds: hello failed: {}", st.error().message);
      if (waitStop(backoffMs)) return;
      backoffMs = std::min(backoffMs * 2, 1000);
      continue;
    }
    backoffMs = 50;
    connected_ = true;
    spdlog::info("zds: connected to warren-agent at {}", path_);
    bool keepGoing = serve(sock->get());
    connected_ = false;
    synced_ = false;
    if (!keepGoing) return;
    spdlog::warn("zds: lost warren-agent; keeping every workload and reconnecting");
    // A short pause even after a good session: an agent that accepts and drops us
    // at once must not turn this into a busy loop.
    if (waitStop(backoffMs)) return;
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
  ZdsRequests requests(handler_);  // this connection's
  for (;;) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return false;
    auto msg = zds::receiveMessage(sock);
    Status result;
    if (!msg) {
      // An oversized message or one with too many fds was consumed whole (its fds
      // closed): refuse just that one; anything else means the connection is gone.
      if (!zds::isMessageError(msg.error())) {
        spdlog::warn("zds: {}", msg.error().message);
        return true;
      }
      result = msg.error();
    } else if (msg->eof) {
      return true;
    } else {
      result = requests.apply(*msg);
      synced_ = requests.synced();
    }
    // Fds not handed to the handler close here with msg.
    if (!result) spdlog::warn("zds: refusing request: {}", result.error().message);
    if (auto st = ack(sock, result ? "" : result.error().message); !st) {
      spdlog::warn("zds: ack failed: {}", st.error().message);
      return true;
    }
  }
}

}  // namespace warren::inpod
