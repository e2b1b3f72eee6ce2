#pragma once
// `warrenctl audit verify`'s judgement, without I/O: audit files' lines in,
// findings out. Checks, per node, each file's chain (seq and prev of every line),
// every checkpoint's signature, and the chaining between consecutive files
// (file_seq, and each header's anchor = the previous file's last checkpoint).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::audit {

// One file as read: its name (for the report) and its lines. A last line
// without a newline (a write cut short by a crash) is kept, flagged.
struct AuditFileText {
  std::string name;
  std::vector<std::string> lines;
  bool lastLineComplete = true;
};
AuditFileText splitAuditFile(std::string name, std::string_view content);

enum class Severity {
  Tampered,      // the chain or a signature is broken: a record removed, reordered, inserted or edited
  Unverifiable,  // nothing contradicts the records, but some are not covered by a signature
  Lost,          // the tunnel recorded records it could not write (a gap record)
  Note,          // for the reader; does not change the verdict
};

struct Finding {
  Severity severity;
  std::string file;
  size_t line = 0;  // 1-based; 0: the file as a whole
  std::string what;
};

struct Verification {
  std::vector<Finding> findings;
  uint64_t files = 0, records = 0, checkpoints = 0, lost = 0;
  // 0 all verified; 2 unverifiable (unsigned records, wrong key, unreadable);
  // 3 tampering; 4 verified, but the tunnel recorded lost records (gaps). 1 is
  // left to warrenctl's own errors (a bad argument).
  int exitCode() const;
};

// True when `der` is a valid signature of `message` under the verifying key.
using VerifySignature = std::function<bool(std::string_view message, std::string_view der)>;

Verification verifyAuditFiles(const std::vector<AuditFileText>& files, const VerifySignature& verifySignature);

std::string_view severityName(Severity s);

}  // namespace warren::audit
