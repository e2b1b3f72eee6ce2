#pragma once
// The audit log's command-line flags and start-up, shared by warren-tunnel,
// warren-waypoint and warren-agent so all write the same files from the same options (README
// "Audit evidence"): --audit-dir, --audit-key, --audit-node, --audit-max-bytes,
// --audit-max-age, --audit-checkpoint-records, --audit-checkpoint-interval-ms.
// Each binary keeps its own getopt loop and hands the audit options here.

#include <getopt.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_writer.h"
#include "common/flag_outcome.h"
#include "common/result.h"
#include "telemetry/metrics.h"

namespace warren::audit {

struct AuditFlags {
  AuditWriterOptions writer;  // writer.dir "": the audit log is off
  std::string keyFile;        // --audit-key
};

// getopt_long's table: `own` (the binary's options; an all-zero end in it is
// moved, so tables of flags nest) followed by the audit options and the end.
// The audit options' values are 1000 and up, clear of any short option letter.
std::vector<option> withAuditOptions(std::vector<option> own);

// Takes option `c` when it is one of the audit options: kTaken, or kBadValue
// (printed to stderr, naming `program`); kNotOurs for any other option.
using FlagOutcome = ::warren::FlagOutcome;
FlagOutcome parseAuditFlag(int c, const char* value, AuditFlags& flags, std::string_view program);

// The usage lines of the audit options; `what` says what one record is for
// ("connection", "HTTP request"), `nodeDefault` what --audit-node defaults to.
void printAuditUsage(FILE* out, std::string_view what, std::string_view nodeDefault = "$NODE_NAME, else the hostname");

// After parsing: --audit-dir without --audit-key is an error (printed).
bool auditFlagsComplete(const AuditFlags& flags, std::string_view program);

// The node name of the files when --audit-node is not given: $NODE_NAME, else
// the hostname.
std::string defaultAuditNode();

// The writer (null without --audit-dir): loads the key, names the node, starts
// it and says where it writes. Call before the first record can be made.
Result<std::unique_ptr<AuditWriter>> startAuditWriter(AuditFlags& flags);

// The writer's counters as `<prefix>_audit_records_total`, `_dropped_total` and
// `_write_errors_total` ("warren_tunnel", "warren_waypoint").
Status registerAuditMetrics(telemetry::TcpMetrics& metrics, const AuditCounters& counters, std::string_view prefix);

}  // namespace warren::audit
