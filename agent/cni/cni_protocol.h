#pragma once
// How warren-cni tells the node agent about a pod: one request and one reply per
// unix-socket connection, each a 4-byte big-endian length then JSON.

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/bound_path.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::cni {

inline constexpr size_t kMaxFrameBytes = 64 * 1024;

struct CniPodRequest {
  std::string command;  // "ADD" | "DEL" | "CHECK"
  std::string containerId, netns, ifName, podName, podNamespace, podUid;
  std::vector<std::string> ips;  // without prefix length
};

struct CniPodReply {
  bool ok = false;
  std::string error;
};

std::string encodeRequest(const CniPodRequest& r);
Result<CniPodRequest> decodeRequest(const std::string& json);
std::string encodeReply(const CniPodReply& r);
Result<CniPodReply> decodeReply(const std::string& json);

// Framing over a blocking socket (with SO_RCVTIMEO/SO_SNDTIMEO set by the caller).
Status writeFrame(int fd, const std::string& payload);
Result<std::string> readFrame(int fd);

Result<CniPodReply> sendCniRequest(const std::string& socketPath, const CniPodRequest& req,
                                   std::chrono::milliseconds timeout);

// The agent's end. Each connection is served on its own short-lived thread: the
// handler may wait seconds for the tunnel, and a silent client must not hold up
// the others.
class CniServer {
 public:
  using Handler = std::function<Status(const CniPodRequest&)>;
  static Result<std::unique_ptr<CniServer>> start(const std::string& socketPath, Handler handler);
  ~CniServer();

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  CniServer(std::string path, UniqueFd listener, UniqueFd wake, Handler handler);
  void run();
  void serve(int fd);
  void reapFinished();

  std::string path_;
  BoundPath bound_;  // path_ as bound: removed at exit only while still ours
  UniqueFd listener_, wake_;
  Handler handler_;
  std::list<Worker> workers_;  // accept thread only
  std::thread thread_;
};

}  // namespace warren::cni
