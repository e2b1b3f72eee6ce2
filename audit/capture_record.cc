#include "audit/capture_record.h"

#include "audit/chain.h"
#include "common/json_line.h"

namespace warren::audit {

std::string captureAuditFields(const agent::CaptureEvent& e, const std::string& node,
                               std::chrono::system_clock::time_point at) {
  JsonLine j;
  j.field("event", agent::captureEventName(e.kind))
      .field("node", node)
      .field("namespace", e.ns)
      .field("pod", e.name)
      .field("uid", e.uid)
      .field("previous", e.previous)
      .field("reason", e.reason)
      .field("detail", e.detail)
      .field("time", utcTimestamp(at));
  std::string line = j.finish();
  return line.substr(1, line.size() - 2);
}

}  // namespace warren::audit
