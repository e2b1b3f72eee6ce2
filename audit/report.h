#pragma once
// `warrenctl audit report`'s aggregation, without I/O: audit files' lines (of any
// number of nodes) and how each file verified in, a Report out. Rendering is
// report_json.h and report_html.h. README "Audit evidence" says what each
// section means; this header says how the numbers are made.
//
// A connection between two captured pods is recorded twice: outbound by the
// source's tunnel and inbound by the destination's (which decided). It is
// counted once: an outbound HBONE record is paired with the inbound record of
// the same source IP, destination pod IP (`via`, else dst_addr) and identities
// whose interval lies within its own (a little clock skew allowed), and the pair
// counts as the inbound record. An outbound record with no partner (the
// destination's files were not given, or the connection failed before the
// destination heard it) counts by itself.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "audit/verify.h"

namespace warren::audit {

// Milliseconds since the Unix epoch, UTC.
using Millis = int64_t;

// "2026-12-06T21:44:21.123Z" / "2026-12-06T21:44:21Z" (what the tunnel writes,
// and what --since/--until take); nullopt for anything else.
std::optional<Millis> parseUtcTimestamp(std::string_view text);
std::string formatUtcTimestamp(Millis ms);

struct ReportOptions {
  std::optional<Millis> since, until;  // a record counts when its interval overlaps [since, until)
  std::string ns;                      // "" all; else its source or destination namespace must be ns
  size_t shareBuckets = 24;            // points of the mTLS share over time
};

// How one file verified, for the report's first table. Tampered files' records
// are not counted; unverifiable ones' are, and the table says so.
enum class FileVerdict { Verified, Lost, Unverifiable, Tampered };
std::string_view fileVerdictName(FileVerdict v);

struct FileStatus {
  std::string file, node;
  FileVerdict verdict = FileVerdict::Verified;
  uint64_t records = 0;               // connection records in the file
  bool counted = true;                // false: its records were left out (tampered)
  std::vector<std::string> findings;  // verify's findings for this file, "line N: ..."
};

// Every file's verdict from verify's findings: one finding against a file decides
// it (the worst wins); a finding against no file (no checkpoint verifies: the
// wrong key) makes every file of that verification unverifiable.
std::vector<FileStatus> fileStatuses(const std::vector<AuditFileText>& files, const Verification& v);

struct FlowKey {
  std::string source;       // "ns/workload", or the address when outside the mesh
  std::string destination;  // the service hostname when one was dialed, else "ns/workload", else the address
  std::string port;
  auto operator<=>(const FlowKey&) const = default;
};

struct Flow {
  FlowKey key;
  uint64_t connections = 0, mtls = 0, denied = 0;
};

// Connections of one flow that were not mutual TLS, with the record's reason.
struct PlaintextFlow {
  FlowKey key;
  std::string reason;
  uint64_t connections = 0;
  Millis first = 0, last = 0;
};

// A policy as it decided: one row per (policy, hash). A second hash for a name
// is a change of its source; first/last bound when each version decided.
struct PolicySeen {
  std::string policy, sha256;
  uint64_t decisions = 0, allowed = 0, denied = 0;
  Millis first = 0, last = 0;
};

struct SharePoint {
  Millis start = 0, end = 0;
  uint64_t connections = 0, mtls = 0;
};

// HTTP requests a waypoint decided (`request` records), by source workload,
// destination service and method. Each request is recorded once, by the
// waypoint that decided it; the connections that carried it are in `flows`.
struct RequestFlowKey {
  std::string source;       // "ns/workload", else the client's address
  std::string destination;  // the service's hostname, else "ns/workload", else the :authority
  std::string method;
  auto operator<=>(const RequestFlowKey&) const = default;
};

struct DecidingPolicy {
  std::string policy, sha256;
  auto operator<=>(const DecidingPolicy&) const = default;
};

struct RequestFlow {
  RequestFlowKey key;
  uint64_t requests = 0, denied = 0, mtls = 0;
  std::vector<DecidingPolicy> policies;  // every policy (and hash) that decided one of them, sorted
};

// One request as counted.
struct DecidedRequest {
  RequestFlowKey flow;
  std::string verdict;    // allow | deny | none (never judged)
  DecidingPolicy policy;  // empty when none decided
  bool mtls = false;
  Millis start = 0, end = 0;
};

// A workload certificate event (`cert` records, the tunnels' and waypoints'
// identity managers): issued, rotated, failed (with the CA's or the check's
// reason), or expired while pods held it (an expiry incident).
struct CertEventRow {
  std::string node, spiffeId, event, serial, issuer, notBefore, notAfter, previousSerial, reason;
  Millis time = 0;
};

// The coverage section, from the agents' `capture` records (warren-agent
// --audit-dir): which pods of this node's capturing namespaces were captured,
// when, and why not. Each record says how a pod stands from its time on; a
// pod's state holds until its next record (the capture stays in place while
// an agent is away), an agent's `started` record ends its node's intervals and
// the records that follow state them again (an interval the restart did not
// change goes on). A pod's state before its first record read is unknown.
struct CaptureRow {
  std::string node, event, ns, pod, uid, previous, reason, detail;
  Millis time = 0;
};

struct CoverageInterval {
  bool captured = false;
  std::string reason, detail;  // captured: "enrolled" and why; else why not
  Millis start = 0;
  std::optional<Millis> end;  // nullopt: so at the last record and on
};

// A pod of a capturing namespace that was uncaptured at some time in the window.
struct UncapturedPod {
  std::string node, ns, pod, uid;
  std::vector<CoverageInterval> intervals;  // the uncaptured ones, clipped to the window, oldest first
};

struct Coverage {
  bool recorded = false;                  // an agent's records were read (else the section says none was given)
  std::vector<std::string> nodes;         // the agents' nodes
  uint64_t podsSeen = 0;                  // pods in scope at some time in the window
  uint64_t alwaysCaptured = 0;            // of them, captured whenever in scope
  std::vector<UncapturedPod> uncaptured;  // by namespace, pod
};

// report_coverage.cc: a `capture` record as read (nullopt: without its time),
// and the section over every agent record read, whatever the window: a window
// that starts after a pod's last change still needs it.
std::optional<CaptureRow> captureRow(const nlohmann::json& record);
Coverage coverageOf(std::vector<CaptureRow> rows, const ReportOptions& options);

// A section the records read cannot evidence: stated, not left out.
struct NotRecorded {
  std::string section, status, why;
};

struct ControlMapping {
  std::string framework, control, topic;
  std::vector<std::string> sections;  // the report sections offered as evidence
  std::string evidence;
};

struct Report {
  std::optional<Millis> since, until;  // as asked
  std::string ns;
  Millis firstRecord = 0, lastRecord = 0;  // of the counted connections (0: none)
  std::vector<FileStatus> files;
  uint64_t records = 0;        // connection records read from counted files, in the window
  uint64_t pairedRecords = 0;  // outbound records counted as their inbound partner
  uint64_t connections = 0, mtls = 0, denied = 0;
  uint64_t excludedRecords = 0;  // in tampered files
  std::vector<Flow> flows;       // by connections, most first
  std::vector<PlaintextFlow> plaintext;
  std::vector<PolicySeen> policies;  // by policy, then first seen
  std::vector<SharePoint> share;
  uint64_t requests = 0, requestsDenied = 0;  // HTTP requests waypoints decided
  std::vector<RequestFlow> requestFlows;      // by requests, most first
  std::vector<CertEventRow> certificates;     // oldest first
  uint64_t certIssued = 0, certRotated = 0, certFailed = 0, certExpired = 0;
  Coverage coverage;
  std::vector<NotRecorded> notRecorded;
  std::vector<ControlMapping> controls;
};

// One node's files and how they verified (one verifyAuditFiles over them).
struct VerifiedFiles {
  std::vector<AuditFileText> files;
  Verification verification;
};

// One connection as counted: from its deciding record (inbound when paired),
// fields the record left empty filled from its partner.
struct Connection {
  FlowKey flow;
  std::string srcNamespace, srcWorkload, srcIdentity, dstNamespace, dstWorkload, dstService;
  std::string verdict;  // allow | deny | none (outbound, not refused)
  std::string policy, policySha256;
  std::string noMtlsReason;  // "" when mutual TLS
  bool mtls = false, paired = false;
  Millis start = 0, end = 0;
};

// The files' statuses and the connections of the counted files in the window
// and namespace, oldest first. `report` and `assert` both start here.
struct CountedConnections {
  std::vector<FileStatus> files;
  std::vector<Connection> connections;
  std::vector<DecidedRequest> requests;    // waypoints' request records in the window and namespace, oldest first
  std::vector<CertEventRow> certificates;  // cert records in the window (and of the namespace), oldest first
  std::vector<CaptureRow> captures;        // every agent capture record of the counted files, in file order
  uint64_t excludedRecords = 0;
};
CountedConnections countConnections(const std::vector<VerifiedFiles>& groups, const ReportOptions& options);

Report buildReport(const CountedConnections& counted, const ReportOptions& options);

// report_requests.cc: a `request` record as counted (nullopt: outside the window
// or namespace, or without its times), and the requests section.
std::optional<DecidedRequest> decidedRequest(const nlohmann::json& record, const ReportOptions& options);
std::vector<RequestFlow> requestFlows(const std::vector<DecidedRequest>& requests);
// report_certs.cc: a `cert` record of `node`'s file as counted (nullopt: outside
// the window, of another namespace, or without its time).
std::optional<CertEventRow> certEventRow(const nlohmann::json& record, const std::string& node,
                                         const ReportOptions& options);
Report buildReport(const std::vector<VerifiedFiles>& groups, const ReportOptions& options);

// The report's sections, by the names the JSON uses (the control mapping cites them).
inline constexpr std::string_view kSectionFiles = "files";
inline constexpr std::string_view kSectionFlows = "flows";
inline constexpr std::string_view kSectionPlaintext = "non_mtls_flows";
inline constexpr std::string_view kSectionPolicies = "policies";
inline constexpr std::string_view kSectionShare = "mtls_share";
inline constexpr std::string_view kSectionRequests = "requests";
inline constexpr std::string_view kSectionCertificates = "certificates";
inline constexpr std::string_view kSectionCoverage = "coverage";

// The sentence every rendering carries with the control mapping.
inline constexpr std::string_view kControlsDisclaimer =
    "The mapping names the controls each section can serve as evidence for when an assessor examines them; "
    "it is not a statement that any control is met.";

}  // namespace warren::audit
