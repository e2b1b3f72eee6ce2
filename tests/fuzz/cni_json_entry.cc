// What reaches warren-cni and the agent's CNI socket as text: the runtime's
// network configuration on stdin, the request/reply frames, and the capture-scope
// file. Input: the text, given to every parser. Invariants: nothing throws (a
// wrong JSON type is a CNI error, not an abort); a timeout is never zero; what
// decodes encodes to what decodes the same.
#include <string>

#include "agent/cni/capture_scope.h"
#include "agent/cni/cni_protocol.h"
#include "agent/cni/net_conf.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {

int cniJsonEntry(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  if (auto conf = cni::parseNetConf(text); conf) {
    FUZZ_CHECK(conf->timeout.count() > 0);  // timeoutMs: 0 must not turn every timeout off
    (void)cni::decideWithoutAgent("default", std::nullopt, conf->alwaysPass);
  } else {
    const int code = conf.error().code;
    FUZZ_CHECK(code == cni::kDecodeFailure || code == cni::kIncompatibleVersion || code == cni::kInvalidConfig);
  }

  if (auto req = cni::decodeRequest(text); req) {
    auto again = cni::decodeRequest(cni::encodeRequest(*req));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->command == req->command && again->containerId == req->containerId && again->netns == req->netns &&
               again->ifName == req->ifName && again->podName == req->podName &&
               again->podNamespace == req->podNamespace && again->podUid == req->podUid && again->ips == req->ips);
  }
  if (auto reply = cni::decodeReply(text); reply) {
    auto again = cni::decodeReply(cni::encodeReply(*reply));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->ok == reply->ok && again->error == reply->error);
  }
  if (auto scope = cni::parseCaptureScope(text); scope) {
    auto again = cni::parseCaptureScope(cni::formatCaptureScope(*scope));
    FUZZ_CHECK(again && *again == *scope);
  }
  return 0;
}

}  // namespace warren::fuzz
