#include "audit/audit_flags.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "audit/signing_key.h"

namespace warren::audit {

namespace {
enum : int {
  kAuditDir = 1000,
  kAuditKey,
  kAuditNode,
  kAuditMaxBytes,
  kAuditMaxAge,
  kAuditCheckpointRecords,
  kAuditCheckpointMs,
};
}  // namespace

std::vector<option> withAuditOptions(std::vector<option> own) {
  if (!own.empty() && own.back().name == nullptr) own.pop_back();  // an end from another table of flags
  for (const option& o : {option{"audit-dir", required_argument, nullptr, kAuditDir},
                          option{"audit-key", required_argument, nullptr, kAuditKey},
                          option{"audit-node", required_argument, nullptr, kAuditNode},
                          option{"audit-max-bytes", required_argument, nullptr, kAuditMaxBytes},
                          option{"audit-max-age", required_argument, nullptr, kAuditMaxAge},
                          option{"audit-checkpoint-records", required_argument, nullptr, kAuditCheckpointRecords},
                          option{"audit-checkpoint-interval-ms", required_argument, nullptr, kAuditCheckpointMs},
                          option{nullptr, 0, nullptr, 0}})
    own.push_back(o);
  return own;
}

FlagOutcome parseAuditFlag(int c, const char* value, AuditFlags& flags, std::string_view program) {
  switch (c) {
    case kAuditDir: flags.writer.dir = value; return FlagOutcome::kTaken;
    case kAuditKey: flags.keyFile = value; return FlagOutcome::kTaken;
    case kAuditNode: flags.writer.node = value; return FlagOutcome::kTaken;
    case kAuditMaxBytes:
    case kAuditMaxAge:
    case kAuditCheckpointRecords:
    case kAuditCheckpointMs: break;
    default: return FlagOutcome::kNotOurs;
  }
  // A whole positive number ("10x", "" and 0 are errors, not 10 and 0).
  const auto parsed = wholeNumberAtLeast(value, 1);
  if (!parsed) {
    std::fprintf(stderr, "%.*s: '%s' is not a number of at least 1\n", static_cast<int>(program.size()), program.data(),
                 value);
    return FlagOutcome::kBadValue;
  }
  const long long n = *parsed;
  if (c == kAuditMaxBytes)
    flags.writer.maxBytes = static_cast<uint64_t>(n);
  else if (c == kAuditMaxAge)
    flags.writer.maxAge = std::chrono::seconds(n);
  else if (c == kAuditCheckpointRecords)
    flags.writer.checkpointRecords = static_cast<uint64_t>(n);
  else
    flags.writer.checkpointInterval = std::chrono::milliseconds(n);
  return FlagOutcome::kTaken;
}

void printAuditUsage(FILE* out, std::string_view what, std::string_view nodeDefault) {
  std::fprintf(out,
               "  --audit-dir DIR         write the audit log here: a hash-chained record per %.*s,\n"
               "                          files closed by signed checkpoints (default: off)\n"
               "  --audit-key PEM         EC P-256 private key that signs the checkpoints (needed with\n"
               "                          --audit-dir); its public half is written to DIR/audit-pub.pem\n"
               "  --audit-node NAME       node name in the files (default %.*s)\n"
               "  --audit-max-bytes N     start a new file past N bytes (default 67108864)\n"
               "  --audit-max-age SECONDS start a new file when the current one is this old (default 3600)\n"
               "  --audit-checkpoint-records N  a signed checkpoint every N records (default 1000)...\n"
               "  --audit-checkpoint-interval-ms MS  ...or MS after the first unsigned one (default 5000)\n",
               static_cast<int>(what.size()), what.data(), static_cast<int>(nodeDefault.size()), nodeDefault.data());
}

bool auditFlagsComplete(const AuditFlags& flags, std::string_view program) {
  if (flags.writer.dir.empty() || !flags.keyFile.empty()) return true;
  std::fprintf(stderr, "%.*s: --audit-dir needs --audit-key (an EC P-256 private key, PEM)\n",
               static_cast<int>(program.size()), program.data());
  return false;
}

std::string defaultAuditNode() {
  const char* env = std::getenv("NODE_NAME");
  if (env && *env) return env;
  char host[256] = {};
  return ::gethostname(host, sizeof(host) - 1) == 0 ? host : "node";
}

Result<std::unique_ptr<AuditWriter>> startAuditWriter(AuditFlags& flags) {
  if (flags.writer.dir.empty()) return std::unique_ptr<AuditWriter>();
  auto key = loadSigningKey(flags.keyFile);
  if (!key) return key.error();
  if (flags.writer.node.empty()) flags.writer.node = defaultAuditNode();
  auto writer = AuditWriter::start(flags.writer, std::move(*key));
  if (!writer) return writer.error();
  spdlog::info("audit log: {} (node {}), checkpoints signed with {}", (*writer)->currentFile(), flags.writer.node,
               flags.keyFile);
  return writer;
}

Status registerAuditMetrics(telemetry::TcpMetrics& metrics, const AuditCounters& counters, std::string_view prefix) {
  struct Def {
    const char* suffix;
    const char* help;
    const std::atomic<uint64_t>* value;
  };
  const Def defs[] = {
      {"_audit_records_total", "Records written to the audit log.", &counters.records},
      {"_audit_dropped_total",
       "Audit records not written (a write error or a full queue); each run of them is a gap record.",
       &counters.dropped},
      {"_audit_write_errors_total", "Failed writes to the audit log (ENOSPC, EIO, ...).", &counters.writeErrors},
  };
  for (const auto& d : defs) {
    const auto* v = d.value;
    if (auto st =
            metrics.addCounter(std::string(prefix) + d.suffix, d.help, [v] { return static_cast<double>(v->load()); });
        !st)
      return st;
  }
  return okStatus();
}

}  // namespace warren::audit
