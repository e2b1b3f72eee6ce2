#include "agent/cni/cni_protocol.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace warren::cni {

using nlohmann::json;

namespace {

Result<json> parseObject(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return makeError("not a JSON object");
  return j;
}

// Reads an optional string field; a present field of another type is an error.
bool stringField(const json& j, const char* key, std::string& out, std::string& err) {
  auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_string()) {
    err = std::string("field '") + key + "' must be a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool ioAll(int fd, char* buf, size_t n, bool write) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = write ? ::send(fd, buf + off, n - off, MSG_NOSIGNAL) : ::recv(fd, buf + off, n - off, 0);
    if (r <= 0) return false;
    off += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

std::string encodeRequest(const CniPodRequest& r) {
  return json{{"command", r.command}, {"containerId", r.containerId},   {"netns", r.netns},   {"ifName", r.ifName},
              {"podName", r.podName}, {"podNamespace", r.podNamespace}, {"podUid", r.podUid}, {"ips", r.ips}}
      .dump();
}

Result<CniPodRequest> decodeRequest(const std::string& text) {
  auto j = parseObject(text);
  if (!j) return withContext(j.error(), "CNI request");
  CniPodRequest r;
  std::string err;
  for (auto [key, dst] : {std::pair{"command", &r.command},
                          {"containerId", &r.containerId},
                          {"netns", &r.netns},
                          {"ifName", &r.ifName},
                          {"podName", &r.podName},
                          {"podNamespace", &r.podNamespace},
                          {"podUid", &r.podUid}})
    if (!stringField(*j, key, *dst, err)) return makeError("CNI request: " + err);
  if (r.command != "ADD" && r.command != "DEL" && r.command != "CHECK")
    return makeError("CNI request: command must be ADD, DEL or CHECK, not '" + r.command + "'");
  if (r.containerId.empty()) return makeError("CNI request: containerId is required");
  if (auto it = j->find("ips"); it != j->end()) {
    if (!it->is_array()) return makeError("CNI request: ips must be an array");
    for (const auto& ip : *it) {
      if (!ip.is_string()) return makeError("CNI request: ips must be strings");
      r.ips.push_back(ip.get<std::string>());
    }
  }
  return r;
}

std::string encodeReply(const CniPodReply& r) { return json{{"ok", r.ok}, {"error", r.error}}.dump(); }

Result<CniPodReply> decodeReply(const std::string& text) {
  auto j = parseObject(text);
  if (!j) return withContext(j.error(), "agent reply");
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean()) return makeError("agent reply: 'ok' must be a boolean");
  CniPodReply r;
  r.ok = ok->get<bool>();
  std::string err;
  if (!stringField(*j, "error", r.error, err)) return makeError("agent reply: " + err);
  return r;
}

Status writeFrame(int fd, const std::string& payload) {
  if (payload.size() > kMaxFrameBytes) return makeError("frame too large");
  uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
  std::string buf(reinterpret_cast<char*>(&len), 4);
  buf += payload;
  if (!ioAll(fd, buf.data(), buf.size(), true)) return errnoError("write");
  return okStatus();
}

Result<std::string> readFrame(int fd) {
  uint32_t len = 0;
  if (!ioAll(fd, reinterpret_cast<char*>(&len), 4, false)) return errnoError("read frame length");
  len = ntohl(len);
  if (len > kMaxFrameBytes) return makeError("frame of " + std::to_string(len) + " bytes exceeds the 64 KiB limit");
  std::string payload(len, '\0');
  if (!ioAll(fd, payload.data(), len, false)) return errnoError("read frame");
  return payload;
}

Result<CniPodReply> sendCniRequest(const std::string& socketPath, const CniPodRequest& req,
                                   std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket");
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return errnoError("connect to warren-agent at " + socketPath);
  if (auto st = writeFrame(fd.get(), encodeRequest(req)); !st) return withContext(st.error(), "send to warren-agent");
  auto frame = readFrame(fd.get());
  if (!frame) return withContext(frame.error(), "no answer from warren-agent at " + socketPath);
  return decodeReply(*frame);
}

// ---- server ----------------------------------------------------------------------------

Result<std::unique_ptr<CniServer>> CniServer::start(const std::string& socketPath, Handler handler) {
  sockaddr_un addr{};
  if (socketPath.size() >= sizeof(addr.sun_path)) return makeError("socket path too long: " + socketPath);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errnoError("socket");
  ::unlink(socketPath.c_str());
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return errnoError("bind " + socketPath);
  ::chmod(socketPath.c_str(), 0600);
  if (::listen(fd.get(), 64) != 0) return errnoError("listen " + socketPath);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errnoError("eventfd");
  auto server =
      std::unique_ptr<CniServer>(new CniServer(socketPath, std::move(fd), std::move(wake), std::move(handler)));
  server->bound_ = boundPath(socketPath);
  return server;
}

CniServer::CniServer(std::string path, UniqueFd listener, UniqueFd wake, Handler handler)
    : path_(std::move(path)), listener_(std::move(listener)), wake_(std::move(wake)), handler_(std::move(handler)) {
  thread_ = std::thread([this] { run(); });
}

CniServer::~CniServer() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  thread_.join();
  for (auto& w : workers_) w.thread.join();  // each ends within its read timeout
  unlinkIfStillOurs(bound_);                 // a successor agent's socket stays
}

void CniServer::reapFinished() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void CniServer::run() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    reapFinished();
    auto& w = workers_.emplace_back();
    w.thread = std::thread([this, c, &w] {
      serve(c);
      w.done = true;
    });
  }
}

void CniServer::serve(int raw) {
  UniqueFd fd(raw);
  timeval tv{5, 0};  // a client that says nothing is dropped, not waited on forever
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  auto frame = readFrame(fd.get());
  CniPodReply reply;
  if (!frame) {
    spdlog::warn("cni: bad request on {}: {}", path_, frame.error().message);
    reply.error = frame.error().message;
  } else if (auto req = decodeRequest(*frame); !req) {
    spdlog::warn("cni: bad request on {}: {}", path_, req.error().message);
    reply.error = req.error().message;
  } else {
    spdlog::info("cni: {} {}/{} container {} netns {}", req->command, req->podNamespace, req->podName, req->containerId,
                 req->netns);
    Status st = handler_(*req);
    reply.ok = st.ok();
    if (!st) {
      reply.error = st.error().message;
      spdlog::warn("cni: {} {}/{} refused: {}", req->command, req->podNamespace, req->podName, reply.error);
    }
  }
  (void)writeFrame(fd.get(), encodeReply(reply));
}

}  // namespace warren::cni
