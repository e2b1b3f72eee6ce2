#pragma once
// The agent's requests on one ZDS connection, as the tunnel applies them: each
// received message (bytes and the fds that came with it) is decoded, checked and
// handed to a WorkloadHandler; the error returned is the nack. No socket here:
// ZdsClient (zds_client.h) receives and acks, the zds_request fuzz target feeds
// messages from memory.

#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace warren::zds {
struct Received;
}

namespace warren::inpod {

struct WorkloadInfo {
  std::string uid, name, ns, serviceAccount;
  std::vector<std::string> ips;
};

class WorkloadHandler {
 public:
  virtual ~WorkloadHandler() = default;
  virtual Status addWorkload(const WorkloadInfo& info, UniqueFd netns) = 0;
  virtual Status keepWorkload(const std::string& uid) = 0;
  virtual Status removeWorkload(const std::string& uid) = 0;
  // After a (re)connect: every workload not named since hello is stale.
  virtual void snapshotComplete(const std::set<std::string>& uidsInSnapshot) = 0;
};

// One connection's worth (from hello on).
class ZdsRequests {
 public:
  explicit ZdsRequests(WorkloadHandler& handler) : handler_(handler) {}
  // Validates one request and hands it to the handler. An add's netns fd goes to
  // the handler whatever it answers; any other fd stays in msg (closed with it).
  Status apply(zds::Received& msg);
  // The agent's SnapshotSent has been applied on this connection.
  bool synced() const { return synced_; }

 private:
  WorkloadHandler& handler_;
  std::set<std::string> seen_;  // uids added or kept since hello, and not deleted
  bool synced_ = false;
};

}  // namespace warren::inpod
