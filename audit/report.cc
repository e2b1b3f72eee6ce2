#include "audit/report.h"

#include <algorithm>
#include <ctime>
#include <map>

#include <nlohmann/json.hpp>

#include "audit/chain.h"

namespace warren::audit {

std::optional<Millis> parseUtcTimestamp(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  auto digits = [&](size_t at, size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int ms = 0;
  if (t.size() < 20 || !digits(0, 4, tm.tm_year) || t[4] != '-' || !digits(5, 2, tm.tm_mon) || t[7] != '-' ||
      !digits(8, 2, tm.tm_mday) || t[10] != 'T' || !digits(11, 2, tm.tm_hour) || t[13] != ':' ||
      !digits(14, 2, tm.tm_min) || t[16] != ':' || !digits(17, 2, tm.tm_sec))
    return std::nullopt;
  if (t.size() == 24 && t[19] == '.' && digits(20, 3, ms) && t[23] == 'Z') {
  } else if (!(t.size() == 20 && t[19] == 'Z')) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<Millis>(timegm(&tm)) * 1000 + ms;
}

// The form the tunnel writes its records' times in (audit/chain.h).
std::string formatUtcTimestamp(Millis ms) {
  return utcTimestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

std::string_view fileVerdictName(FileVerdict v) {
  switch (v) {
    case FileVerdict::Verified: return "verified";
    case FileVerdict::Lost: return "verified, records lost";
    case FileVerdict::Unverifiable: return "unverifiable";
    case FileVerdict::Tampered: return "tampered";
  }
  return "?";
}

std::vector<FileStatus> fileStatuses(const std::vector<AuditFileText>& files, const Verification& v) {
  auto rank = [](Severity s) {
    switch (s) {
      case Severity::Tampered: return FileVerdict::Tampered;
      case Severity::Unverifiable: return FileVerdict::Unverifiable;
      case Severity::Lost: return FileVerdict::Lost;
      case Severity::Note: return FileVerdict::Verified;
    }
    return FileVerdict::Verified;
  };
  std::vector<FileStatus> out;
  for (const auto& f : files) {
    FileStatus s{f.name, "", FileVerdict::Verified, 0, true, {}};
    for (const auto& line : f.lines) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.value("type", "") == "header" && s.node.empty()) s.node = j.value("node", "");
      const std::string type = j.value("type", "");
      if (type == "conn" || type == "request" || type == "cert" || type == "capture") s.records++;
    }
    for (const auto& fd : v.findings) {
      if (!fd.file.empty() && fd.file != f.name) continue;
      // FileVerdict is ordered best to worst.
      s.verdict = std::max(s.verdict, rank(fd.severity));
      s.findings.push_back(fd.line ? "line " + std::to_string(fd.line) + ": " + fd.what : fd.what);
    }
    s.counted = s.verdict != FileVerdict::Tampered;
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

using nlohmann::json;

// A record as the aggregation needs it.
struct Rec {
  json j;
  Millis start = 0, end = 0;
  bool inbound = false, hbone = false;
  std::string str(const char* k) const { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; }
};

// One connection: the deciding record, and its outbound partner when paired.
struct Conn {
  const Rec* rec;
  const Rec* partner = nullptr;
  // The first non-empty of the record's and its partner's field.
  std::string field(const char* k) const {
    std::string v = rec->str(k);
    return v.empty() && partner ? partner->str(k) : v;
  }
};

// Mutual TLS: the record's security says so and a TLS session was recorded.
bool isMtls(const Rec& r) {
  const std::string v = r.str("tls_version");
  return r.str("security") == "mutual_tls" && !v.empty() && v != "none";
}

// A little clock skew between nodes: the inbound record's interval should lie
// within the outbound one's.
constexpr Millis kSkewMs = 2000;

std::string hostOf(const std::string& via) {
  if (!via.empty() && via.front() == '[') return via.substr(1, via.find(']') - 1);
  return via.substr(0, via.rfind(':'));
}

std::vector<Conn> pairRecords(const std::vector<Rec>& recs, uint64_t& paired) {
  // Inbound HBONE records by (source IP, destination pod IP), earliest first.
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> inbound;
  for (size_t i = 0; i < recs.size(); ++i)
    if (recs[i].inbound && recs[i].hbone) inbound[{recs[i].str("src_addr"), recs[i].str("dst_addr")}].push_back(i);
  std::vector<size_t> outbound;
  for (size_t i = 0; i < recs.size(); ++i)
    if (!recs[i].inbound && recs[i].hbone) outbound.push_back(i);
  auto byStart = [&](size_t a, size_t b) { return recs[a].start < recs[b].start; };
  for (auto& [_, list] : inbound) std::sort(list.begin(), list.end(), byStart);
  std::sort(outbound.begin(), outbound.end(), byStart);

  std::vector<const Rec*> partnerOf(recs.size(), nullptr);
  std::vector<bool> absorbed(recs.size(), false);  // an outbound record counted as its partner
  for (size_t o : outbound) {
    const Rec& out = recs[o];
    const std::string via = out.str("via");
    auto it = inbound.find({out.str("src_addr"), via.empty() ? out.str("dst_addr") : hostOf(via)});
    if (it == inbound.end()) continue;
    for (size_t in : it->second) {
      const Rec& r = recs[in];
      if (partnerOf[in] || r.start < out.start - kSkewMs || r.end > out.end + kSkewMs) continue;
      if (!out.str("src_identity").empty() && !r.str("src_identity").empty() &&
          out.str("src_identity") != r.str("src_identity"))
        continue;
      partnerOf[in] = &out;
      absorbed[o] = true;
      paired++;
      break;
    }
  }
  std::vector<Conn> conns;
  for (size_t i = 0; i < recs.size(); ++i)
    if (!absorbed[i]) conns.push_back({&recs[i], partnerOf[i]});
  return conns;
}

std::string workloadOr(const Conn& c, const char* ns, const char* workload, const char* addr) {
  const std::string w = c.field(workload);
  if (!w.empty()) return c.field(ns) + "/" + w;
  return c.field(addr);
}

std::vector<NotRecorded> notRecordedSections(const Coverage& coverage) {
  if (coverage.recorded) return {};
  return {
      {std::string(kSectionCoverage), "no agent audit file given",
       "Pods in enabled namespaces that ran uncaptured are recorded by warren-agent (--audit-dir: its capture "
       "records), and none of the files read is an agent's. The tunnels' and waypoints' files see only captured "
       "pods' connections: a connection the tunnel did not capture leaves no record there."},
  };
}

std::vector<ControlMapping> controlMappings() {
  const std::string files(kSectionFiles), flows(kSectionFlows), plain(kSectionPlaintext), pol(kSectionPolicies),
      share(kSectionShare), certs(kSectionCertificates), cov(kSectionCoverage), reqs(kSectionRequests);
  return {
      {"PCI DSS 4.0",
       "4.2.1",
       "strong cryptography for data in transit",
       {share, plain, certs, cov},
       "The TLS version and cipher recorded per connection, the share of connections over mutual TLS, and every "
       "connection without it with the tunnel's reason; every workload certificate issued, rotated or refused, with "
       "its validity, and any that expired while in use; the pods of enabled namespaces whose traffic was not "
       "captured (so not encrypted by the mesh), when and why."},
      {"PCI DSS 4.0",
       "1.3 / 1.4",
       "network access restricted and controlled",
       {flows, reqs, pol, cov},
       "Which workload reached which service and port, the connections and HTTP requests refused by policy, and "
       "the policies (by hash) that decided; from the node agents' records, which pods of enabled namespaces ran "
       "uncaptured (outside these controls), when and why."},
      {"PCI DSS 4.0",
       "10.2",
       "audit logs record events",
       {files},
       "Hash-chained, signed records (connections, HTTP requests, certificate and capture events) and the "
       "verification of every file the report read."},
      {"SOC 2",
       "CC6.1",
       "logical access security",
       {pol, flows, reqs, cov},
       "The authorization policies in force, their changes (a new hash), and each flow's allowed and denied "
       "connections and HTTP requests; the pods of enabled namespaces the policies did not reach because their "
       "traffic was not captured."},
      {"SOC 2",
       "CC6.6",
       "access from outside the system boundary",
       {plain, flows},
       "Connections from or to addresses outside the mesh, listed with the reason they were not mutual TLS."},
      {"SOC 2",
       "CC6.7",
       "data in transmission protected",
       {share, plain, cov},
       "The share of connections over mutual TLS, over time, and the exceptions, uncaptured pods among them."},
      {"DORA",
       "Art. 9",
       "ICT protection and prevention",
       {share, pol, files},
       "Encryption in transit and access policies as enforced per connection, from tamper-evident records."},
  };
}

}  // namespace

CountedConnections countConnections(const std::vector<VerifiedFiles>& groups, const ReportOptions& options) {
  CountedConnections out;
  std::vector<Rec> recs;
  for (const auto& g : groups) {
    auto statuses = fileStatuses(g.files, g.verification);
    for (size_t i = 0; i < g.files.size(); ++i) {
      const std::string& node = statuses[i].node;
      if (!statuses[i].counted) {
        out.excludedRecords += statuses[i].records;
        continue;
      }
      for (const auto& line : g.files[i].lines) {
        Rec rec{json::parse(line, nullptr, false)};
        if (!rec.j.is_object()) continue;
        if (rec.j.value("type", "") == "request") {
          if (auto r = decidedRequest(rec.j, options)) out.requests.push_back(std::move(*r));
          continue;
        }
        if (rec.j.value("type", "") == "cert") {
          if (auto c = certEventRow(rec.j, node, options)) out.certificates.push_back(std::move(*c));
          continue;
        }
        if (rec.j.value("type", "") == "capture") {
          if (auto c = captureRow(rec.j)) out.captures.push_back(std::move(*c));
          continue;
        }
        if (rec.j.value("type", "") != "conn") continue;
        auto start = parseUtcTimestamp(rec.str("start")), end = parseUtcTimestamp(rec.str("end"));
        if (!start || !end) continue;
        rec.start = *start;
        rec.end = *end;
        rec.inbound = rec.str("direction") == "inbound";
        rec.hbone = rec.str("protocol") == "hbone";
        recs.push_back(std::move(rec));
      }
    }
    out.files.insert(out.files.end(), statuses.begin(), statuses.end());
  }

  uint64_t paired = 0;
  std::vector<Conn> conns = pairRecords(recs, paired);
  // The window and namespace apply to connections, after pairing, so both halves
  // of one go together.
  std::erase_if(conns, [&](const Conn& c) {
    if (options.since && c.rec->end < *options.since) return true;
    if (options.until && c.rec->start >= *options.until) return true;
    if (!options.ns.empty() && c.field("src_namespace") != options.ns && c.field("dst_namespace") != options.ns)
      return true;
    return false;
  });
  std::stable_sort(conns.begin(), conns.end(),
                   [](const Conn& a, const Conn& b) { return a.rec->start < b.rec->start; });
  std::stable_sort(out.requests.begin(), out.requests.end(),
                   [](const DecidedRequest& a, const DecidedRequest& b) { return a.start < b.start; });
  std::stable_sort(out.certificates.begin(), out.certificates.end(),
                   [](const CertEventRow& a, const CertEventRow& b) { return a.time < b.time; });
  for (const auto& c : conns) {
    Connection x;
    x.flow = {workloadOr(c, "src_namespace", "src_workload", "src_addr"), c.field("dst_service"),
              c.rec->str("dst_port")};
    if (x.flow.destination.empty()) x.flow.destination = workloadOr(c, "dst_namespace", "dst_workload", "dst_addr");
    x.srcNamespace = c.field("src_namespace");
    x.srcWorkload = c.field("src_workload");
    x.srcIdentity = c.field("src_identity");
    x.dstNamespace = c.field("dst_namespace");
    x.dstWorkload = c.field("dst_workload");
    x.dstService = c.field("dst_service");
    x.verdict = c.rec->str("verdict");
    x.policy = c.rec->str("policy");
    x.policySha256 = c.rec->str("policy_sha256");
    x.mtls = isMtls(*c.rec);
    if (!x.mtls) {
      x.noMtlsReason = c.rec->str("tls_none_reason");
      if (x.noMtlsReason.empty())
        x.noMtlsReason = "security " + c.rec->str("security") + ", TLS " + c.rec->str("tls_version");
    }
    x.paired = c.partner != nullptr;
    x.start = c.rec->start;
    x.end = c.rec->end;
    out.connections.push_back(std::move(x));
  }
  return out;
}

Report buildReport(const std::vector<VerifiedFiles>& groups, const ReportOptions& options) {
  return buildReport(countConnections(groups, options), options);
}

Report buildReport(const CountedConnections& counted, const ReportOptions& options) {
  Report r;
  r.since = options.since;
  r.until = options.until;
  r.ns = options.ns;
  r.coverage = coverageOf(counted.captures, options);
  r.notRecorded = notRecordedSections(r.coverage);
  r.controls = controlMappings();
  r.files = counted.files;
  r.excludedRecords = counted.excludedRecords;

  std::map<FlowKey, Flow> flows;
  std::map<std::pair<FlowKey, std::string>, PlaintextFlow> plaintext;
  std::map<std::pair<std::string, std::string>, PolicySeen> policies;
  for (const auto& c : counted.connections) {
    r.records += c.paired ? 2 : 1;
    r.pairedRecords += c.paired;
    if (r.connections == 0 || c.start < r.firstRecord) r.firstRecord = c.start;
    r.lastRecord = std::max(r.lastRecord, c.end);
    const bool denied = c.verdict == "deny";
    r.connections++;
    r.mtls += c.mtls;
    r.denied += denied;
    Flow& f = flows[c.flow];
    f.key = c.flow;
    f.connections++;
    f.mtls += c.mtls;
    f.denied += denied;
    if (!c.mtls) {
      PlaintextFlow& p = plaintext[{c.flow, c.noMtlsReason}];
      if (p.connections == 0) p.first = c.start;
      p.key = c.flow;
      p.reason = c.noMtlsReason;
      p.connections++;
      p.last = std::max(p.last, c.end);
    }
    if (!c.policy.empty()) {
      PolicySeen& p = policies[{c.policy, c.policySha256}];
      if (p.decisions == 0) p.first = c.start;
      p.policy = c.policy;
      p.sha256 = c.policySha256;
      p.decisions++;
      p.allowed += c.verdict == "allow";
      p.denied += denied;
      p.last = std::max(p.last, c.end);
    }
  }
  for (const auto& q : counted.requests) {
    r.requests++;
    r.requestsDenied += q.verdict == "deny";
  }
  r.requestFlows = requestFlows(counted.requests);
  r.certificates = counted.certificates;
  for (const auto& c : r.certificates) {
    r.certIssued += c.event == "issued";
    r.certRotated += c.event == "rotated";
    r.certFailed += c.event == "failed";
    r.certExpired += c.event == "expired";
  }
  for (auto& [_, f] : flows) r.flows.push_back(f);
  std::stable_sort(r.flows.begin(), r.flows.end(),
                   [](const Flow& a, const Flow& b) { return a.connections > b.connections; });
  for (auto& [_, p] : plaintext) r.plaintext.push_back(p);
  for (auto& [_, p] : policies) r.policies.push_back(p);
  std::stable_sort(r.policies.begin(), r.policies.end(), [](const PolicySeen& a, const PolicySeen& b) {
    return a.policy != b.policy ? a.policy < b.policy : a.first < b.first;
  });

  // The share over time: equal buckets over the window asked for, else over the
  // records'; a connection falls in the bucket of its start.
  if (r.connections > 0 && options.shareBuckets > 0) {
    const Millis from = options.since.value_or(r.firstRecord);
    const Millis to = std::max(options.until.value_or(r.lastRecord), from + 1);
    const Millis width = std::max<Millis>(
        1, (to - from + static_cast<Millis>(options.shareBuckets) - 1) / static_cast<Millis>(options.shareBuckets));
    for (Millis s = from; s < to; s += width) r.share.push_back({s, std::min(s + width, to), 0, 0});
    for (const auto& c : counted.connections) {
      const Millis at = std::clamp(c.start, from, to - 1);
      auto& p = r.share[static_cast<size_t>((at - from) / width)];
      p.connections++;
      p.mtls += c.mtls;
    }
  }
  return r;
}

}  // namespace warren::audit
