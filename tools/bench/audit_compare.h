#pragma once
// What the audit log costs the new-connection path (README "Audit evidence"),
// measured in one run: rounds of the same new-connection and connection-rate
// runs with both tunnels restarted without and with --audit-dir, alternating,
// so the machine's drift over the run falls on both alike. The summary is pure.

#include <string>
#include <vector>

namespace warren::bench {

// One configuration's runs in one round.
struct AuditRound {
  double connP50 = 0, connP99 = 0;  // new connection + 64-byte echo, microseconds
  double ratePerSecond = 0;         // connection rate, all clients
  double cpuPerConnUs = 0;          // both tunnels' CPU per connection of the rate phase, microseconds
};

struct AuditCost {
  AuditRound off, on;      // medians over the rounds
  double p50Percent = 0;   // (on - off) / off, in percent: what audit adds (negative: nothing measurable)
  double ratePercent = 0;  // (off - on) / off: the rate lost
  double cpuPercent = 0;   // (on - off) / off: CPU per connection added
};

// Medians of each figure over the rounds, and the differences.
AuditCost auditCost(const std::vector<AuditRound>& off, const std::vector<AuditRound>& on);

// The printed table: every round, the medians and the differences.
std::string auditCostTable(const std::vector<AuditRound>& off, const std::vector<AuditRound>& on, const AuditCost& c);

}  // namespace warren::bench
