#pragma once
// What happened to a workload certificate the identity manager holds, for the
// audit log (README "Audit evidence", `cert` records): issued for a new
// identity, rotated (renewed), failed (an issue or a renewal the CA refused or
// that could not be made), or expired while pods still held it (every renewal
// failed until notAfter: their connections are refused from then on).

#include <chrono>
#include <string>
#include <string_view>

#include "identity/identity.h"

namespace warren::identity {

struct CertEvent {
  enum class Kind { Issued, Rotated, Failed, Expired } kind = Kind::Issued;
  SpiffeId id;
  // The new certificate (issued, rotated), the one still held (a failed renewal,
  // expired), or null (a first issue that failed).
  WorkloadCertPtr cert;
  std::string previousSerial;  // rotated: the certificate it replaced
  std::string reason;          // failed, expired
  std::chrono::system_clock::time_point at;
};

std::string_view certEventName(CertEvent::Kind k);  // issued | rotated | failed | expired

}  // namespace warren::identity
