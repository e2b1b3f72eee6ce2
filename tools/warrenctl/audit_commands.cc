#include "tools/warrenctl/audit_commands.h"

#include <filesystem>

#include "audit/signing_key.h"
#include "audit/verify.h"
#include "common/file_io.h"

namespace warren::ctl {
namespace {

// `audit verify [--key PUB.pem] FILE...`: the key defaults to audit-pub.pem
// beside the first file, where the tunnel writes it.
Result<Output> auditVerify(const Context& ctx) {
  std::string keyPath;
  std::vector<std::string> paths;
  for (size_t i = 0; i < ctx.args.size(); ++i) {
    if (ctx.args[i] == "--key") {
      if (i + 1 == ctx.args.size()) return makeError("--key needs a file (the public key or certificate, PEM)");
      keyPath = ctx.args[++i];
    } else {
      paths.push_back(ctx.args[i]);
    }
  }
  if (paths.empty()) return makeError("audit verify needs the audit files (DIR/<node>-*.audit.jsonl)");
  if (keyPath.empty()) keyPath = (std::filesystem::path(paths.front()).parent_path() / "audit-pub.pem").string();
  auto key = audit::loadVerifyingKey(keyPath);
  if (!key) return makeError("verifying key: " + key.error().message + " (give one with --key)");

  std::vector<audit::AuditFileText> files;
  std::vector<audit::Finding> unreadable;
  for (const auto& p : paths) {
    auto content = readFile(p);
    if (!content) {
      unreadable.push_back({audit::Severity::Unverifiable, p, 0, content.error().message});
      continue;
    }
    files.push_back(audit::splitAuditFile(p, *content));
  }
  audit::Verification v = audit::verifyAuditFiles(
      files, [k = key->get()](std::string_view m, std::string_view sig) { return audit::verify(k, m, sig); });
  v.findings.insert(v.findings.begin(), unreadable.begin(), unreadable.end());

  const int code = v.exitCode();
  const char* verdict = code == 0 ? "verified" : code == 2 ? "unverifiable" : code == 3 ? "tampered" : "records lost";
  Output out;
  out.exitCode = code;
  out.json = Json{{"verdict", verdict},
                  {"exit_code", code},
                  {"files", v.files},
                  {"records", v.records},
                  {"checkpoints", v.checkpoints},
                  {"lost", v.lost},
                  {"findings", Json::array()}};
  out.table = Table{{"VERDICT", "FILES", "RECORDS", "CHECKPOINTS", "LOST"},
                    {{verdict, std::to_string(v.files), std::to_string(v.records), std::to_string(v.checkpoints),
                      std::to_string(v.lost)}}};
  Table findings{{"SEVERITY", "FILE", "LINE", "FINDING"}, {}};
  for (const auto& f : v.findings) {
    out.json["findings"].push_back(Json{{"severity", std::string(audit::severityName(f.severity))},
                                        {"file", f.file},
                                        {"line", f.line},
                                        {"what", f.what}});
    findings.rows.push_back({std::string(audit::severityName(f.severity)), printable(f.file),
                             f.line ? std::to_string(f.line) : "-", printable(f.what)});
  }
  if (!findings.rows.empty()) out.extra.push_back(std::move(findings));
  return out;
}

}  // namespace

Object auditObject() {
  Verb verify{
      "verify",
      "[--key PUB.pem] FILE...",
      "Check audit files' hash chains and checkpoint signatures.",
      "Checks the audit files warren-tunnel wrote (--audit-dir): in each file every record's seq and the hash of "
      "the record before it, every checkpoint's ECDSA P-256 signature, and across one node's files that none is "
      "missing and each starts from the last checkpoint of the one before. A record removed, reordered, inserted "
      "or edited is reported with its file and line. Records after a file's last checkpoint (the tunnel stopped "
      "without closing it) are reported as an unsigned tail, and records the tunnel could not write (a full "
      "disk) as a gap. The key is the public key or certificate (PEM) that matches --audit-key; by default "
      "audit-pub.pem beside the first file. Exit status: 0 verified; 2 unverifiable (an unsigned tail, a key "
      "that signed none of the checkpoints, an unreadable file); 3 tampered; 4 verified, but records were lost "
      "(gaps); 1 warrenctl's own errors.",
      {{"verdict", "verified | unverifiable | tampered | records lost"},
       {"exit_code", "the process's exit status"},
       {"files", "files read"},
       {"records", "connection records"},
       {"checkpoints", "checkpoint records"},
       {"lost", "records the tunnel recorded as lost in gap records"},
       {"findings", "what is wrong or worth knowing, in file order"},
       {"findings[].severity", "TAMPERED, UNVERIFIED, LOST or note"},
       {"findings[].file", "the file"},
       {"findings[].line", "1-based line (0: the file as a whole)"},
       {"findings[].what", "what is wrong, with the record's seq"}},
      auditVerify};
  return {"audit", "The tunnel's tamper-evident audit files (--audit-dir).", {verify}};
}

}  // namespace warren::ctl
