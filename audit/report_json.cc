#include "audit/report_json.h"

namespace warren::audit {

namespace {
using Json = nlohmann::ordered_json;

Json time(std::optional<Millis> t) { return t ? Json(formatUtcTimestamp(*t)) : Json(nullptr); }

// Share as a fraction with 4 decimals (null with no connections), so JSON readers compare it exactly.
Json share(uint64_t part, uint64_t whole) {
  if (whole == 0) return nullptr;
  return static_cast<double>(part * 10000 / whole) / 10000.0;
}

Json key(const FlowKey& k) { return Json{{"source", k.source}, {"destination", k.destination}, {"port", k.port}}; }
}  // namespace

Json reportJson(const Report& r) {
  Json j;
  j["window"] = Json{{"since", time(r.since)},
                     {"until", time(r.until)},
                     {"namespace", r.ns.empty() ? Json(nullptr) : Json(r.ns)},
                     {"first_record", r.connections ? time(r.firstRecord) : Json(nullptr)},
                     {"last_record", r.connections ? time(r.lastRecord) : Json(nullptr)}};
  j["summary"] = Json{{"connections", r.connections},
                      {"mtls", r.mtls},
                      {"mtls_share", share(r.mtls, r.connections)},
                      {"not_mtls", r.connections - r.mtls},
                      {"denied", r.denied},
                      {"records", r.records},
                      {"paired_records", r.pairedRecords},
                      {"excluded_records", r.excludedRecords},
                      {"requests", r.requests},
                      {"requests_denied", r.requestsDenied},
                      {"certificates_issued", r.certIssued},
                      {"certificates_rotated", r.certRotated},
                      {"certificate_failures", r.certFailed},
                      {"certificates_expired_in_use", r.certExpired}};
  Json files = Json::array();
  for (const auto& f : r.files)
    files.push_back(Json{{"file", f.file},
                         {"node", f.node},
                         {"verdict", std::string(fileVerdictName(f.verdict))},
                         {"records", f.records},
                         {"counted", f.counted},
                         {"findings", f.findings}});
  j[std::string(kSectionFiles)] = files;
  Json flows = Json::array();
  for (const auto& f : r.flows) {
    Json o = key(f.key);
    o["connections"] = f.connections;
    o["mtls"] = f.mtls;
    o["mtls_share"] = share(f.mtls, f.connections);
    o["denied"] = f.denied;
    flows.push_back(o);
  }
  j[std::string(kSectionFlows)] = flows;
  Json plain = Json::array();
  for (const auto& p : r.plaintext) {
    Json o = key(p.key);
    o["reason"] = p.reason;
    o["connections"] = p.connections;
    o["first"] = time(p.first);
    o["last"] = time(p.last);
    plain.push_back(o);
  }
  j[std::string(kSectionPlaintext)] = plain;
  Json policies = Json::array();
  for (const auto& p : r.policies)
    policies.push_back(Json{{"policy", p.policy},
                            {"sha256", p.sha256},
                            {"decisions", p.decisions},
                            {"allowed", p.allowed},
                            {"denied", p.denied},
                            {"first", time(p.first)},
                            {"last", time(p.last)}});
  j[std::string(kSectionPolicies)] = policies;
  Json points = Json::array();
  for (const auto& p : r.share)
    points.push_back(Json{{"start", time(p.start)},
                          {"end", time(p.end)},
                          {"connections", p.connections},
                          {"mtls", p.mtls},
                          {"mtls_share", share(p.mtls, p.connections)}});
  j[std::string(kSectionShare)] = points;
  Json requests = Json::array();
  for (const auto& f : r.requestFlows) {
    Json deciding = Json::array();
    for (const auto& p : f.policies) deciding.push_back(Json{{"policy", p.policy}, {"sha256", p.sha256}});
    requests.push_back(Json{{"source", f.key.source},
                            {"destination", f.key.destination},
                            {"method", f.key.method},
                            {"requests", f.requests},
                            {"denied", f.denied},
                            {"mtls", f.mtls},
                            {"policies", deciding}});
  }
  j[std::string(kSectionRequests)] = requests;
  Json certs = Json::array();
  for (const auto& c : r.certificates)
    certs.push_back(Json{{"time", time(c.time)},
                         {"node", c.node},
                         {"spiffe_id", c.spiffeId},
                         {"event", c.event},
                         {"serial", c.serial},
                         {"issuer", c.issuer},
                         {"not_before", c.notBefore},
                         {"not_after", c.notAfter},
                         {"previous_serial", c.previousSerial},
                         {"reason", c.reason}});
  j[std::string(kSectionCertificates)] = certs;
  if (r.coverage.recorded) {
    const Coverage& c = r.coverage;
    Json pods = Json::array();
    for (const auto& u : c.uncaptured) {
      Json intervals = Json::array();
      for (const auto& iv : u.intervals)
        intervals.push_back(Json{{"start", time(iv.start)},
                                 {"end", iv.end ? time(*iv.end) : Json(nullptr)},
                                 {"reason", iv.reason},
                                 {"detail", iv.detail}});
      pods.push_back(
          Json{{"namespace", u.ns}, {"pod", u.pod}, {"uid", u.uid}, {"node", u.node}, {"intervals", intervals}});
    }
    j[std::string(kSectionCoverage)] = Json{{"nodes", c.nodes},
                                            {"pods_seen", c.podsSeen},
                                            {"pods_always_captured", c.alwaysCaptured},
                                            {"pods_uncaptured", c.uncaptured.size()},
                                            {"uncaptured", pods}};
  } else {
    j[std::string(kSectionCoverage)] = nullptr;
  }
  Json notRecorded = Json::array();
  for (const auto& n : r.notRecorded)
    notRecorded.push_back(Json{{"section", n.section}, {"status", n.status}, {"why", n.why}});
  j["not_recorded"] = notRecorded;
  Json controls = Json::array();
  for (const auto& c : r.controls)
    controls.push_back(Json{{"framework", c.framework},
                            {"control", c.control},
                            {"topic", c.topic},
                            {"sections", c.sections},
                            {"evidence", c.evidence}});
  j["controls"] = Json{{"note", std::string(kControlsDisclaimer)}, {"mapping", controls}};
  return j;
}

}  // namespace warren::audit
