#include "tunnel/inpod/zds_requests.h"

#include "common/zds/seqpacket.h"
#include "zds.pb.h"

namespace warren::inpod {

namespace pb = warren::zds::v1;

Status ZdsRequests::apply(zds::Received& msg) {
  pb::WorkloadRequest req;
  if (!zds::parseProto(msg.bytes, req)) return makeError("cannot parse the request");
  if (req.payload_case() != pb::WorkloadRequest::kAdd && !msg.fds.empty())
    return makeError("only add carries a file descriptor, got " + std::to_string(msg.fds.size()));
  switch (req.payload_case()) {
    case pb::WorkloadRequest::kAdd: {
      const auto& add = req.add();
      if (msg.fds.size() != 1)
        return makeError("add of " + add.uid() + " must carry exactly one netns fd, got " +
                         std::to_string(msg.fds.size()));
      if (add.uid().empty()) return makeError("add without a uid");
      const auto& wi = add.workload_info();
      WorkloadInfo info{
          add.uid(), wi.name(), wi.namespace_(), wi.service_account(), {wi.ips().begin(), wi.ips().end()}};
      // The handler owns the netns from here, whatever it answers.
      UniqueFd netns = std::move(msg.fds[0]);
      auto st = handler_.addWorkload(info, std::move(netns));
      if (st) seen_.insert(info.uid);
      return st;
    }
    case pb::WorkloadRequest::kKeep: {
      const std::string& uid = req.keep().uid();
      if (uid.empty()) return makeError("keep without a uid");
      auto st = handler_.keepWorkload(uid);
      if (st) seen_.insert(uid);
      return st;
    }
    case pb::WorkloadRequest::kDel: {
      const std::string& uid = req.del().uid();
      if (uid.empty()) return makeError("delete without a uid");
      seen_.erase(uid);
      return handler_.removeWorkload(uid);
    }
    case pb::WorkloadRequest::kSnapshotSent:
      handler_.snapshotComplete(seen_);
      synced_ = true;
      return okStatus();
    case pb::WorkloadRequest::PAYLOAD_NOT_SET: break;
  }
  return makeError("unknown request");
}

}  // namespace warren::inpod
