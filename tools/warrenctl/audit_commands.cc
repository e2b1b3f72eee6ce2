#include "tools/warrenctl/audit_commands.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "audit/report.h"
#include "audit/report_html.h"
#include "audit/report_json.h"
#include "audit/segmentation.h"
#include "audit/signing_key.h"
#include "audit/verify.h"
#include "common/file_io.h"
#include "tools/warrenctl/admin_client.h"

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
  out.json =
      Json{{"verdict", verdict},           {"exit_code", code}, {"files", v.files},         {"records", v.records},
           {"checkpoints", v.checkpoints}, {"lost", v.lost},    {"findings", Json::array()}};
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

// What `report` and `assert` take: the window, the files, --key, and report's
// --html or assert's --live.
struct ReportArgs {
  audit::ReportOptions options;
  std::string keyPath, htmlPath;
  bool live = false;
  std::vector<std::string> paths;
};

Result<ReportArgs> parseReportArgs(const std::vector<std::string>& args, bool html, bool live = false) {
  ReportArgs r;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 == args.size()) return makeError(a + " needs a value");
      return args[++i];
    };
    if (a == "--since" || a == "--until") {
      auto v = value();
      if (!v) return v.error();
      auto t = audit::parseUtcTimestamp(*v);
      if (!t) return makeError(a + " " + *v + ": not a UTC time like 2026-12-06T21:44:21Z");
      (a == "--since" ? r.options.since : r.options.until) = *t;
    } else if (live && a == "--live") {
      r.live = true;
    } else if (a == "--namespace" || (html && a == "--html") || a == "--key") {
      auto v = value();
      if (!v) return v.error();
      (a == "--namespace" ? r.options.ns : a == "--html" ? r.htmlPath : r.keyPath) = *v;
    } else {
      r.paths.push_back(a);
    }
  }
  return r;
}

// Each file verified with --key, else with the audit-pub.pem beside it (each
// node's tunnel writes its own), the files of one key together so that one
// node's files chain. An unreadable file or key makes files unverifiable, not
// the command fail: the report says so.
std::vector<audit::VerifiedFiles> readVerified(const std::vector<std::string>& paths, const std::string& keyPath) {
  std::map<std::string, std::vector<std::string>> byKey;
  for (const auto& p : paths)
    byKey[keyPath.empty() ? (std::filesystem::path(p).parent_path() / "audit-pub.pem").string() : keyPath].push_back(p);
  std::vector<audit::VerifiedFiles> groups;
  for (const auto& [k, files] : byKey) {
    audit::VerifiedFiles g;
    std::vector<audit::AuditFileText> unreadable;
    std::vector<audit::Finding> problems;
    for (const auto& p : files) {
      auto content = readFile(p);
      if (!content) {
        unreadable.push_back({p, {}, true});
        problems.push_back({audit::Severity::Unverifiable, p, 0, content.error().message});
        continue;
      }
      g.files.push_back(audit::splitAuditFile(p, *content));
    }
    auto key = audit::loadVerifyingKey(k);
    if (key)
      g.verification = audit::verifyAuditFiles(
          g.files, [kp = key->get()](std::string_view m, std::string_view sig) { return audit::verify(kp, m, sig); });
    else
      problems.push_back({audit::Severity::Unverifiable, "", 0, "verifying key " + k + ": " + key.error().message});
    g.verification.findings.insert(g.verification.findings.end(), problems.begin(), problems.end());
    g.files.insert(g.files.end(), unreadable.begin(), unreadable.end());
    groups.push_back(std::move(g));
  }
  return groups;
}

// As verify's: 3 a file tampered, 2 one unverifiable, 4 records lost, else 0.
int filesExitCode(const std::vector<audit::FileStatus>& files) {
  auto has = [&](audit::FileVerdict v) {
    return std::any_of(files.begin(), files.end(), [v](const auto& f) { return f.verdict == v; });
  };
  return has(audit::FileVerdict::Tampered)       ? 3
         : has(audit::FileVerdict::Unverifiable) ? 2
         : has(audit::FileVerdict::Lost)         ? 4
                                                 : 0;
}

Table filesTable(const std::vector<audit::FileStatus>& files) {
  Table t{{"FILE", "NODE", "VERDICT", "RECORDS", "COUNTED"}, {}};
  for (const auto& f : files)
    t.rows.push_back({printable(f.file), printable(f.node), std::string(audit::fileVerdictName(f.verdict)),
                      std::to_string(f.records), f.counted ? "yes" : "no"});
  return t;
}

// `audit report [--since T] [--until T] [--namespace NS] [--html FILE] [--key PUB.pem] FILE...`.
Result<Output> auditReport(const Context& ctx) {
  auto args = parseReportArgs(ctx.args, true);
  if (!args) return args.error();
  if (args->paths.empty())
    return makeError("audit report needs the audit files (DIR/<node>-*.audit.jsonl, of any nodes)");
  const auto& options = args->options;
  const std::string& htmlPath = args->htmlPath;
  auto groups = readVerified(args->paths, args->keyPath);
  audit::Report report = audit::buildReport(groups, options);

  Output out;
  out.json = audit::reportJson(report);
  if (!htmlPath.empty()) {
    auto written = writeFileAtomic(htmlPath, audit::reportHtml(report), 0644);
    if (!written) return makeError("--html " + htmlPath + ": " + written.error().message);
    out.json["html"] = htmlPath;
  }
  auto pct = [](uint64_t part, uint64_t whole) {
    return whole ? std::to_string(part * 1000 / whole / 10) + "." + std::to_string(part * 1000 / whole % 10) + "%"
                 : std::string("-");
  };
  out.exitCode = filesExitCode(report.files);
  out.table = Table{
      {"CONNECTIONS", "MTLS", "SHARE", "DENIED", "FILES", "EXCLUDED"},
      {{std::to_string(report.connections), std::to_string(report.mtls), pct(report.mtls, report.connections),
        std::to_string(report.denied), std::to_string(report.files.size()), std::to_string(report.excludedRecords)}}};
  Table files = filesTable(report.files);
  Table flows{{"SOURCE", "DESTINATION", "PORT", "CONNECTIONS", "MTLS", "DENIED"}, {}};
  for (const auto& f : report.flows)
    flows.rows.push_back({printable(f.key.source), printable(f.key.destination), printable(f.key.port),
                          std::to_string(f.connections), pct(f.mtls, f.connections), std::to_string(f.denied)});
  Table plain{{"SOURCE", "DESTINATION", "PORT", "CONNECTIONS", "WHY NOT MTLS"}, {}};
  for (const auto& p : report.plaintext)
    plain.rows.push_back({printable(p.key.source), printable(p.key.destination), printable(p.key.port),
                          std::to_string(p.connections), printable(p.reason)});
  Table policies{{"POLICY", "SHA256", "DECISIONS", "FIRST", "LAST"}, {}};
  for (const auto& p : report.policies)
    policies.rows.push_back({printable(p.policy), p.sha256.empty() ? "-" : p.sha256.substr(0, 16),
                             std::to_string(p.decisions), audit::formatUtcTimestamp(p.first),
                             audit::formatUtcTimestamp(p.last)});
  Table requests{{"SOURCE", "DESTINATION", "METHOD", "REQUESTS", "DENIED", "POLICIES"}, {}};
  for (const auto& f : report.requestFlows) {
    std::string deciding;
    for (const auto& p : f.policies)
      deciding += (deciding.empty() ? "" : " ") + printable(p.policy) + "@" +
                  (p.sha256.empty() ? std::string("-") : p.sha256.substr(0, 8));
    requests.rows.push_back({printable(f.key.source), printable(f.key.destination), printable(f.key.method),
                             std::to_string(f.requests), std::to_string(f.denied), deciding.empty() ? "-" : deciding});
  }
  Table certs{{"TIME", "NODE", "SPIFFE ID", "EVENT", "SERIAL", "NOT AFTER", "REASON"}, {}};
  for (const auto& c : report.certificates)
    certs.rows.push_back({audit::formatUtcTimestamp(c.time), printable(c.node), printable(c.spiffeId), c.event,
                          printable(c.serial.empty() ? "-" : c.serial),
                          printable(c.notAfter.empty() ? "-" : c.notAfter),
                          printable(c.reason.empty() ? "-" : c.reason)});
  // Coverage: the counts, then each uncaptured interval ("-": still so at the last record).
  Table coverage{{"AGENT NODES", "PODS SEEN", "ALWAYS CAPTURED", "UNCAPTURED"}, {}};
  Table uncaptured{{"POD", "NODE", "UNCAPTURED FROM", "TO", "REASON", "DETAIL"}, {}};
  if (report.coverage.recorded) {
    const auto& c = report.coverage;
    std::string nodes;
    for (const auto& n : c.nodes) nodes += (nodes.empty() ? "" : ",") + printable(n);
    coverage.rows.push_back(
        {nodes, std::to_string(c.podsSeen), std::to_string(c.alwaysCaptured), std::to_string(c.uncaptured.size())});
    for (const auto& u : c.uncaptured)
      for (const auto& iv : u.intervals)
        uncaptured.rows.push_back(
            {printable(u.ns + "/" + u.pod), printable(u.node), audit::formatUtcTimestamp(iv.start),
             iv.end ? audit::formatUtcTimestamp(*iv.end) : "-", printable(iv.reason), printable(iv.detail)});
  }
  Table missing{{"SECTION", "STATUS"}, {}};
  for (const auto& n : report.notRecorded) missing.rows.push_back({n.section, "not recorded: " + n.status});
  for (auto* t : {&files, &flows, &plain, &policies, &requests, &certs, &coverage, &uncaptured, &missing})
    if (!t->rows.empty()) out.extra.push_back(std::move(*t));
  return out;
}

// The spec checked against the audit window: contradictions, the files' exit
// status, and what the JSON and tables say about them.
struct WindowCheck {
  std::vector<audit::Contradiction> found;
  int filesCode = 0;
};

WindowCheck assertWindow(const audit::SegmentationSpec& spec, const ReportArgs& args,
                         const std::vector<std::string>& files, Output& out) {
  audit::CountedConnections counted = audit::countConnections(readVerified(files, args.keyPath), args.options);
  WindowCheck w{audit::checkSegmentation(spec, counted.connections), filesExitCode(counted.files)};
  out.json["connections"] = counted.connections.size();
  out.json["excluded_records"] = counted.excludedRecords;
  out.json["files"] = Json::array();
  out.json["contradictions"] = Json::array();
  for (const auto& f : counted.files)
    out.json["files"].push_back(
        Json{{"file", f.file}, {"verdict", std::string(audit::fileVerdictName(f.verdict))}, {"counted", f.counted}});
  Table t{{"RULE", "SOURCE", "DESTINATION", "PORT", "CONNECTIONS", "WHY"}, {}};
  for (const auto& x : w.found) {
    out.json["contradictions"].push_back(Json{{"rule", x.rule},
                                              {"source", x.flow.source},
                                              {"destination", x.flow.destination},
                                              {"port", x.flow.port},
                                              {"why", x.why},
                                              {"connections", x.connections},
                                              {"first", audit::formatUtcTimestamp(x.first)},
                                              {"last", audit::formatUtcTimestamp(x.last)}});
    t.rows.push_back({printable(x.rule), printable(x.flow.source), printable(x.flow.destination),
                      printable(x.flow.port), std::to_string(x.connections), printable(x.why)});
  }
  if (!t.rows.empty()) out.extra.push_back(std::move(t));
  if (w.filesCode != 0) out.extra.push_back(filesTable(counted.files));
  return w;
}

// The spec checked against the tunnel's live state (GET /assert, which walks the
// data path's own decisions, as explain does): the tunnel's answer under "live".
Result<size_t> assertLive(const Context& ctx, const std::string& specText, Output& out) {
  auto answer = adminJson(ctx.adminAddress, "GET", "/assert", "", specText);
  if (!answer) return answer.error();
  Json& live = out.json["live"] = std::move(*answer);
  live["tunnel"] = ctx.adminAddress;
  Table t{{"RULE", "SOURCE", "DESTINATION", "PORT", "DIALED", "DECIDED BY", "WHY"}, {}};
  for (const auto& x : live["contradictions"])
    t.rows.push_back(
        {printable(x.value("rule", "")), printable(x.value("source", "")), printable(x.value("destination", "")),
         x.value("port", "") + (x.value("any_other_port", false) ? " (any other)" : ""),
         printable(x.value("dialed", "")), printable(x.value("decided_by", "")), printable(x.value("why", ""))});
  Table probed{{"LIVE DESTINATION", "PORTS PROBED"}, {}};
  for (const auto& d : live["destinations"]) {
    std::string ports;
    for (const auto& p : d["ports"]) {
      const std::string port = p.get<std::string>();
      ports += (ports.empty() ? "" : ",") + port + (port == d.value("any_other_port", "") ? " (any other)" : "");
    }
    probed.rows.push_back({printable(d.value("workload", "")), ports});
  }
  for (const auto& r : live["rules_without_destination"])
    probed.rows.push_back({"(none: rule " + printable(r.get<std::string>()) + " selects no live workload)", "-"});
  const size_t n = t.rows.size();
  if (!t.rows.empty()) out.extra.push_back(std::move(t));
  out.extra.push_back(std::move(probed));
  return n;
}

// `audit assert [--live] [--since T] [--until T] [--namespace NS] [--key PUB.pem] SPEC.yaml [FILE...]`.
Result<Output> auditAssert(const Context& ctx) {
  auto args = parseReportArgs(ctx.args, false, true);
  if (!args) return args.error();
  if (args->paths.empty() || (args->paths.size() < 2 && !args->live))
    return makeError("audit assert needs a spec (SPEC.yaml) and the audit files, --live, or both");
  const std::string specPath = args->paths.front();
  auto text = readFile(specPath);
  if (!text) return makeError("spec: " + text.error().message);
  auto spec = audit::parseSegmentationSpec(*text);
  if (!spec) return makeError(specPath + ": " + spec.error().message);
  const std::vector<std::string> files(args->paths.begin() + 1, args->paths.end());

  Output out;
  out.json = Json{{"rules", spec->rules.size()}};
  WindowCheck window;
  if (!files.empty()) window = assertWindow(*spec, *args, files, out);
  size_t live = 0;
  if (args->live) {
    auto n = assertLive(ctx, *text, out);
    if (!n) return n.error();
    live = *n;
  }

  // A contradiction stands whatever else is wrong; without one, the spec holds
  // only as far as the files verified.
  const bool contradicted = !window.found.empty() || live > 0;
  out.exitCode = contradicted ? 5 : window.filesCode;
  const std::string verdict = contradicted            ? "contradicted"
                              : window.filesCode == 0 ? "holds"
                                                      : "holds over the counted files (not all verified)";
  out.json["verdict"] = verdict;
  out.json["exit_code"] = out.exitCode;
  // "-": the check was not asked for.
  auto orDash = [](bool asked, const Json& v) { return asked ? v.dump() : std::string("-"); };
  const Json& liveJson = out.json.contains("live") ? out.json["live"] : Json::object();
  out.table = Table{
      {"VERDICT", "RULES", "CONNECTIONS", "CONTRADICTIONS", "EXCLUDED", "LIVE PROBES", "LIVE CONTRADICTIONS"},
      {{verdict, std::to_string(spec->rules.size()), orDash(!files.empty(), out.json.value("connections", Json(0))),
        orDash(!files.empty(), Json(window.found.size())),
        orDash(!files.empty(), out.json.value("excluded_records", Json(0))),
        orDash(args->live, liveJson.value("probes", Json(0))), orDash(args->live, Json(live))}}};
  return out;
}

}  // namespace

Object auditObject() {
  Verb verify{
      "verify",
      "[--key PUB.pem] FILE...",
      "Check audit files' hash chains and checkpoint signatures.",
      "Checks the audit files warren-tunnel, warren-waypoint and warren-agent wrote (--audit-dir): in each file every "
      "record's seq and the hash of "
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
       {"records", "records (connections, requests, certificate and capture events)"},
       {"checkpoints", "checkpoint records"},
       {"lost", "records the tunnel recorded as lost in gap records"},
       {"findings", "what is wrong or worth knowing, in file order"},
       {"findings[].severity", "TAMPERED, UNVERIFIED, LOST or note"},
       {"findings[].file", "the file"},
       {"findings[].line", "1-based line (0: the file as a whole)"},
       {"findings[].what", "what is wrong, with the record's seq"}},
      auditVerify};
  Verb report{
      "report",
      "[OPTIONS] FILE...",
      "Evidence from audit files of any nodes: flows, mutual TLS, denials, policies, coverage.",
      "Options: --since T, --until T, --namespace NS, --html FILE, --key PUB.pem. "
      "Reads the audit files of any number of nodes, verifies each first (with --key, else the audit-pub.pem "
      "beside it) and leaves out the records of a tampered file, then reports: the flow matrix (source workload "
      "to destination service or workload and port, with connections, the share over mutual TLS and denials); "
      "every flow that was not mutual TLS with the tunnel's reason; the policies that decided, one row per source "
      "hash, with when each hash first and last decided (a new hash is a change); the mutual TLS share over time; "
      "the HTTP requests waypoints decided (source workload to destination service, method: requests, denials and "
      "the deciding policies); "
      "the workload certificates issued, rotated, refused or expired while in use; "
      "coverage, from the agents' files (warren-agent --audit-dir): every pod of an enabled namespace that was "
      "uncaptured at some time in the window, with the intervals and the agent's reason (opted out, enrollment "
      "failed, ...), and how many pods were seen and always captured (without an agent's file, the section says "
      "so); and the "
      "controls (PCI DSS 4.0, SOC 2, DORA) each section can be offered as evidence for. A connection recorded by "
      "both of its tunnels counts once. --since and --until (UTC, 2026-12-06T21:44:21Z) keep connections that "
      "overlap the window; --namespace keeps those whose source or destination is in it. --html FILE also writes "
      "one self-contained HTML file (tables and an inline SVG chart; no script, no external resource). Exit "
      "status as verify's: 0 every file verified, 2 one unverifiable, 3 one tampered, 4 records lost.",
      {{"window", "what was asked and what the counted records span"},
       {"window.since", "--since, or null"},
       {"window.until", "--until, or null"},
       {"window.namespace", "--namespace, or null"},
       {"window.first_record", "the earliest counted connection's start (null: none)"},
       {"window.last_record", "the latest counted connection's end (null: none)"},
       {"summary", "totals over the counted connections"},
       {"summary.connections", "connections (one recorded at both ends counts once)"},
       {"summary.mtls", "of them over mutual TLS"},
       {"summary.mtls_share", "mtls / connections (4 decimals; null with none)"},
       {"summary.not_mtls", "connections not over mutual TLS"},
       {"summary.denied", "connections refused by policy"},
       {"summary.records", "connection records behind them"},
       {"summary.paired_records", "outbound records counted as their destination's inbound record"},
       {"summary.excluded_records", "records left out: in tampered files"},
       {"summary.requests", "HTTP requests waypoints decided (request records)"},
       {"summary.requests_denied", "of them denied (authentication or policy)"},
       {"summary.certificates_issued", "workload certificates issued (cert records)"},
       {"summary.certificates_rotated", "renewed"},
       {"summary.certificate_failures", "issues or renewals that failed"},
       {"summary.certificates_expired_in_use", "expired while pods held them (expiry incidents)"},
       {"files", "every file read, with its verification"},
       {"files[].file", "the file"},
       {"files[].node", "the node its header names"},
       {"files[].verdict", "verified | verified, records lost | unverifiable | tampered"},
       {"files[].records", "records in the file (connections, requests, certificate and capture events)"},
       {"files[].counted", "false: its records were left out (tampered)"},
       {"files[].findings", "verify's findings for the file"},
       {"flows", "the flow matrix, most connections first"},
       {"flows[].source", "ns/workload, or the address outside the mesh"},
       {"flows[].destination", "the service dialed, else ns/workload, else the address"},
       {"flows[].port", "the destination port"},
       {"flows[].connections", "connections"},
       {"flows[].mtls", "of them over mutual TLS"},
       {"flows[].mtls_share", "mtls / connections"},
       {"flows[].denied", "of them refused by policy"},
       {"non_mtls_flows", "connections that were not mutual TLS, by flow and reason"},
       {"non_mtls_flows[].source", "as flows[]"},
       {"non_mtls_flows[].destination", "as flows[]"},
       {"non_mtls_flows[].port", "as flows[]"},
       {"non_mtls_flows[].reason", "the tunnel's reason (destination outside the mesh, a plaintext client, ...)"},
       {"non_mtls_flows[].connections", "connections"},
       {"non_mtls_flows[].first", "the first one's start"},
       {"non_mtls_flows[].last", "the last one's end"},
       {"policies", "the policies that decided, one row per source hash"},
       {"policies[].policy", "ns/name"},
       {"policies[].sha256", "SHA-256 of its source as enforced"},
       {"policies[].decisions", "connections it decided"},
       {"policies[].allowed", "of them allowed"},
       {"policies[].denied", "of them denied"},
       {"policies[].first", "when this hash first decided"},
       {"policies[].last", "when it last decided"},
       {"mtls_share", "the share over time, in equal buckets"},
       {"mtls_share[].start", "the bucket's start"},
       {"mtls_share[].end", "its end"},
       {"mtls_share[].connections", "connections that started in it"},
       {"mtls_share[].mtls", "of them over mutual TLS"},
       {"mtls_share[].mtls_share", "mtls / connections (null with none)"},
       {"requests", "HTTP requests waypoints decided, by source, destination and method, most first"},
       {"requests[].source", "ns/workload, or the client's address"},
       {"requests[].destination", "the service's hostname, else ns/workload, else the :authority"},
       {"requests[].method", "the HTTP method"},
       {"requests[].requests", "requests"},
       {"requests[].denied", "of them denied (401, 403, or 400 for a path that cannot be normalised)"},
       {"requests[].mtls", "of them over mutual TLS to the waypoint"},
       {"requests[].policies", "the policies that decided them"},
       {"requests[].policies[].policy", "ns/name"},
       {"requests[].policies[].sha256", "SHA-256 of its source as enforced"},
       {"certificates", "workload certificate events of the tunnels and waypoints, oldest first"},
       {"certificates[].time", "when"},
       {"certificates[].node", "the node (or waypoint) whose file recorded it"},
       {"certificates[].spiffe_id", "the identity"},
       {"certificates[].event", "issued | rotated | failed | expired (while in use)"},
       {"certificates[].serial", "the certificate's serial (hex; \"\" for a first issue that failed)"},
       {"certificates[].issuer", "its issuer (RFC 2253)"},
       {"certificates[].not_before", "its validity"},
       {"certificates[].not_after", "its validity"},
       {"certificates[].previous_serial", "rotated: the certificate it replaced"},
       {"certificates[].reason", "failed, expired: why"},
       {"coverage", "pods of enabled namespaces, from the agents' capture records (null: no agent file given)"},
       {"coverage.nodes", "the nodes whose agents' records were read"},
       {"coverage.pods_seen", "pods in an enabled namespace at some time in the window"},
       {"coverage.pods_always_captured", "of them, captured whenever they were"},
       {"coverage.pods_uncaptured", "of them, uncaptured at some time in the window"},
       {"coverage.uncaptured", "those pods, by namespace and name"},
       {"coverage.uncaptured[].namespace", "the pod's namespace"},
       {"coverage.uncaptured[].pod", "its name"},
       {"coverage.uncaptured[].uid", "its uid (a pod made again under its name is another pod)"},
       {"coverage.uncaptured[].node", "its node"},
       {"coverage.uncaptured[].intervals", "when it was uncaptured, clipped to the window, oldest first"},
       {"coverage.uncaptured[].intervals[].start", "from"},
       {"coverage.uncaptured[].intervals[].end", "to (null: still so at the last record)"},
       {"coverage.uncaptured[].intervals[].reason",
        "opted_out | gateway | host_network | blocked | enrollment_failed | no_netns"},
       {"coverage.uncaptured[].intervals[].detail", "the agent's words (the label, the enrollment error)"},
       {"not_recorded", "sections the files read cannot evidence"},
       {"not_recorded[].section", "coverage"},
       {"not_recorded[].status", "no agent audit file given"},
       {"not_recorded[].why", "what is and is not recorded"},
       {"controls", "which sections can evidence which controls"},
       {"controls.note", "the mapping is evidence, not a compliance claim"},
       {"controls.mapping", "one entry per control"},
       {"controls.mapping[].framework", "PCI DSS 4.0 | SOC 2 | DORA"},
       {"controls.mapping[].control", "the control's number"},
       {"controls.mapping[].topic", "what the control is about"},
       {"controls.mapping[].sections", "the report sections offered"},
       {"controls.mapping[].evidence", "what they show"},
       {"html", "the HTML file written (with --html)"}},
      auditReport};
  Verb assertVerb{
      "assert",
      "[OPTIONS] SPEC.yaml [FILE...]",
      "Check a segmentation spec against audit files' flows and/or the live policies; exit status for CI.",
      "Options: --live; --since T, --until T, --namespace NS, --key PUB.pem, as report's. "
      "SPEC.yaml is a list of rules, each a destination (to: namespace, workload, service, ports) with only_from "
      "(the sources that may reach it: namespace, workload, principal, ports), never_from (sources that must not) "
      "and require_mtls. With FILEs, it reads and verifies the audit files as report does, then checks every "
      "connection in the window that reached its destination (a connection the tunnel refused is segmentation "
      "working): every flow that contradicts a rule is listed with the rule, why and how many connections. "
      "With --live, it also sends the spec to warren-tunnel's admin endpoint (--admin, default 127.0.0.1:15000; "
      "GET /assert), which checks it against its current state with the data path's own decisions, as explain "
      "does, without any traffic: for every live workload a rule's `to` selects, every other workload (waypoints "
      "and host-network pods aside) and one client outside the mesh (192.0.2.1) dial it, at its pod IP and at the "
      "VIPs of its services, on the ports the spec names, its service target ports, the ports its policies and "
      "PeerAuthentication name, and one port none of them names (standing for every other port: the decisions "
      "cannot differ between those); each connection the policies would allow is judged as the window check "
      "judges a recorded one (a path through a waypoint with L7 policies counts as allowed). Every connection the "
      "policies allow and the spec forbids is listed with the rule, source, destination, port, the address dialed "
      "and the deciding policy (or no policy: default allow). Exit status: 0 the spec holds (and every file "
      "verified); 5 a flow or a live connection contradicts it; else as verify's (2 a file unverifiable, 3 one "
      "tampered and left out, 4 records lost), since the spec then holds only over what could be counted; 1 a bad "
      "spec or argument, or the tunnel not reachable with --live.",
      {{"verdict", "holds | contradicted | holds over the counted files (not all verified)"},
       {"exit_code", "the process's exit status"},
       {"rules", "rules in the spec"},
       {"connections", "with FILEs: connections checked (in the window and namespace)"},
       {"excluded_records", "with FILEs: records left out: in tampered files"},
       {"files", "with FILEs: every file read"},
       {"files[].file", "the file"},
       {"files[].verdict", "as report's"},
       {"files[].counted", "false: its records were left out (tampered)"},
       {"contradictions", "with FILEs: flows that contradict a rule"},
       {"contradictions[].rule", "the rule's name (rules[i] without one)"},
       {"contradictions[].source", "as report's flows[]"},
       {"contradictions[].destination", "as report's flows[]"},
       {"contradictions[].port", "the destination port"},
       {"contradictions[].why", "which part of the rule"},
       {"contradictions[].connections", "connections"},
       {"contradictions[].first", "the first one's start"},
       {"contradictions[].last", "the last one's end"},
       {"live", "with --live: the tunnel's answer"},
       {"live.tunnel", "the admin endpoint asked"},
       {"live.sources", "sources that dialed each destination (the outside client included)"},
       {"live.probes", "connections walked through the data path's decisions"},
       {"live.destinations", "the live workloads some rule selects"},
       {"live.destinations[].workload", "ns/name"},
       {"live.destinations[].ports", "its ports probed"},
       {"live.destinations[].any_other_port", "the one among them that stands for every port nothing names"},
       {"live.rules_without_destination", "rules whose `to` selects no live workload (they hold vacuously)"},
       {"live.contradictions", "connections the live policies allow and a rule forbids"},
       {"live.contradictions[].rule", "the rule's name"},
       {"live.contradictions[].source", "ns/name, or outside the mesh (ADDRESS)"},
       {"live.contradictions[].destination", "ns/name of the workload reached"},
       {"live.contradictions[].port", "its port there"},
       {"live.contradictions[].any_other_port", "true: the port stands for every port nothing names"},
       {"live.contradictions[].dialed", "the address dialed: the pod's or a service VIP, with its port"},
       {"live.contradictions[].why", "which part of the rule, as the window check says it"},
       {"live.contradictions[].decided_by",
        "the deciding policy and rule, or no policy: default allow, or no "
        "policy: no Warren tunnel judges it"},
       {"live.contradictions[].reason", "the data path's reason, as explain gives it"}},
      auditAssert};
  return {"audit", "The tamper-evident audit files (--audit-dir).", {verify, report, assertVerb}};
}

}  // namespace warren::ctl
