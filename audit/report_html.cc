#include "audit/report_html.h"

#include <cstdio>

namespace warren::audit {

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

std::string time(Millis t) { return formatUtcTimestamp(t); }

// A table: headers, then rows of already-escaped cells.
std::string table(const std::string& id, const std::vector<std::string>& headers,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<table id=\"" + id + "\">\n<thead><tr>";
  for (const auto& h : headers) s += "<th>" + htmlEscape(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    s += "<tr>";
    for (const auto& c : row) s += "<td>" + c + "</td>";
    s += "</tr>\n";
  }
  if (rows.empty()) s += "<tr><td colspan=\"" + std::to_string(headers.size()) + "\">none in the window</td></tr>\n";
  return s + "</tbody>\n</table>\n";
}

std::string section(std::string_view id, const std::string& title, const std::string& body) {
  return "<section id=\"" + std::string(id) + "\">\n<h2>" + htmlEscape(title) + "</h2>\n" + body + "</section>\n";
}

// The mTLS share per bucket as a line over 0-100%, each bucket with connections
// a point whose <title> gives its numbers; buckets without connections are gaps.
std::string shareChart(const Report& r) {
  constexpr int kW = 720, kH = 240, kLeft = 48, kRight = 12, kTop = 12, kBottom = 36;
  const int plotW = kW - kLeft - kRight, plotH = kH - kTop - kBottom;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kW) + "\" height=\"" +
                  std::to_string(kH) + "\" viewBox=\"0 0 " + std::to_string(kW) + " " + std::to_string(kH) +
                  "\" role=\"img\" aria-label=\"mutual TLS share of connections over time\">\n";
  for (int pct = 0; pct <= 100; pct += 25) {
    const int y = kTop + plotH - pct * plotH / 100;
    s += "<line x1=\"" + std::to_string(kLeft) + "\" y1=\"" + std::to_string(y) + "\" x2=\"" +
         std::to_string(kW - kRight) + "\" y2=\"" + std::to_string(y) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + std::to_string(y + 4) +
         "\" text-anchor=\"end\" font-size=\"11\">" + std::to_string(pct) + "%</text>\n";
  }
  const size_t n = r.share.size();
  auto xOf = [&](size_t i) { return kLeft + (n <= 1 ? plotW / 2 : static_cast<int>(i * plotW / (n - 1))); };
  std::string points;
  std::string dots;
  for (size_t i = 0; i < n; ++i) {
    const auto& p = r.share[i];
    if (p.connections == 0) continue;
    const int x = xOf(i);
    const int y = kTop + plotH - static_cast<int>(p.mtls * static_cast<uint64_t>(plotH) / p.connections);
    points += std::to_string(x) + "," + std::to_string(y) + " ";
    dots += "<circle cx=\"" + std::to_string(x) + "\" cy=\"" + std::to_string(y) +
            "\" r=\"3\" fill=\"#1f6feb\"><title>" + htmlEscape(time(p.start)) + ": " + std::to_string(p.mtls) + " of " +
            std::to_string(p.connections) + " over mutual TLS</title></circle>\n";
  }
  if (!points.empty())
    s += "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
  s += dots;
  if (n > 0) {
    s += "<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(kH - 10) + "\" font-size=\"11\">" +
         htmlEscape(time(r.share.front().start)) + "</text>\n";
    s += "<text x=\"" + std::to_string(kW - kRight) + "\" y=\"" + std::to_string(kH - 10) +
         "\" text-anchor=\"end\" font-size=\"11\">" + htmlEscape(time(r.share.back().end)) + "</text>\n";
  }
  return s + "</svg>\n";
}

}  // namespace

std::string reportHtml(const Report& r) {
  std::string window = r.since ? time(*r.since) : std::string("the first record");
  window += " to " + (r.until ? time(*r.until) : std::string("the last record"));
  if (!r.ns.empty()) window += ", namespace " + r.ns;
  std::string body;
  body += "<h1>Warren audit report</h1>\n<p>Window: " + htmlEscape(window) + ". Records from " +
          (r.connections ? htmlEscape(time(r.firstRecord)) + " to " + htmlEscape(time(r.lastRecord))
                         : std::string("none")) +
          ".</p>\n";
  body += table("summary", {"Connections", "Mutual TLS", "Share", "Denied", "Records read", "Records excluded"},
                {{std::to_string(r.connections), std::to_string(r.mtls), percent(r.mtls, r.connections),
                  std::to_string(r.denied), std::to_string(r.records), std::to_string(r.excludedRecords)}});

  std::vector<std::vector<std::string>> rows;
  for (const auto& f : r.files) {
    std::string findings;
    for (const auto& x : f.findings) findings += (findings.empty() ? "" : "<br>") + htmlEscape(x);
    rows.push_back({htmlEscape(f.file), htmlEscape(f.node), htmlEscape(fileVerdictName(f.verdict)),
                    std::to_string(f.records), f.counted ? "yes" : "no: tampered", findings});
  }
  body += section(kSectionFiles, "Audit files and their verification",
                  "<p>Records of a tampered file are not counted in any section below.</p>\n" +
                      table("files-table", {"File", "Node", "Verdict", "Records", "Counted", "Findings"}, rows));

  rows.clear();
  for (const auto& f : r.flows)
    rows.push_back({htmlEscape(f.key.source), htmlEscape(f.key.destination), htmlEscape(f.key.port),
                    std::to_string(f.connections), percent(f.mtls, f.connections), std::to_string(f.denied)});
  body += section(kSectionFlows, "Flow matrix",
                  table("flows-table", {"Source", "Destination", "Port", "Connections", "Mutual TLS", "Denied"}, rows));

  rows.clear();
  for (const auto& p : r.plaintext)
    rows.push_back({htmlEscape(p.key.source), htmlEscape(p.key.destination), htmlEscape(p.key.port),
                    std::to_string(p.connections), htmlEscape(p.reason), htmlEscape(time(p.first)),
                    htmlEscape(time(p.last))});
  body +=
      section(kSectionPlaintext, "Connections not over mutual TLS",
              table("non-mtls-table", {"Source", "Destination", "Port", "Connections", "Why", "First", "Last"}, rows));

  rows.clear();
  for (const auto& p : r.policies)
    rows.push_back({htmlEscape(p.policy), "<code>" + htmlEscape(p.sha256.empty() ? "-" : p.sha256) + "</code>",
                    std::to_string(p.decisions), std::to_string(p.allowed), std::to_string(p.denied),
                    htmlEscape(time(p.first)), htmlEscape(time(p.last))});
  body +=
      section(kSectionPolicies, "Policies that decided",
              "<p>One row per policy and source hash: a second hash for a policy is a change of its source.</p>\n" +
                  table("policies-table",
                        {"Policy", "SHA-256 of its source", "Decisions", "Allowed", "Denied", "First", "Last"}, rows));

  body += section(kSectionShare, "Mutual TLS share over time", shareChart(r));

  rows.clear();
  for (const auto& f : r.requestFlows) {
    std::string deciding;
    for (const auto& p : f.policies)
      deciding += (deciding.empty() ? "" : "<br>") + htmlEscape(p.policy) + " <code>" +
                  htmlEscape(p.sha256.empty() ? "-" : p.sha256.substr(0, 16)) + "</code>";
    rows.push_back({htmlEscape(f.key.source), htmlEscape(f.key.destination), htmlEscape(f.key.method),
                    std::to_string(f.requests), std::to_string(f.denied), percent(f.mtls, f.requests), deciding});
  }
  body += section(
      kSectionRequests, "HTTP requests decided by waypoints (L7)",
      "<p>" + std::to_string(r.requests) + " requests, " + std::to_string(r.requestsDenied) +
          " denied. Each is recorded once, by the waypoint that decided it.</p>\n" +
          table("requests-table",
                {"Source", "Destination", "Method", "Requests", "Denied", "Mutual TLS", "Deciding policies"}, rows));

  rows.clear();
  for (const auto& c : r.certificates)
    rows.push_back({htmlEscape(time(c.time)), htmlEscape(c.node), htmlEscape(c.spiffeId),
                    c.event == "expired" || c.event == "failed" ? "<strong>" + htmlEscape(c.event) + "</strong>"
                                                                : htmlEscape(c.event),
                    "<code>" + htmlEscape(c.serial.empty() ? "-" : c.serial) + "</code>", htmlEscape(c.issuer),
                    htmlEscape(c.notBefore), htmlEscape(c.notAfter), htmlEscape(c.reason)});
  body += section(
      kSectionCertificates, "Workload certificates",
      "<p>" + std::to_string(r.certIssued) + " issued, " + std::to_string(r.certRotated) + " rotated, " +
          std::to_string(r.certFailed) + " failed, " + std::to_string(r.certExpired) + " expired while in use.</p>\n" +
          table("certificates-table",
                {"Time", "Node", "SPIFFE ID", "Event", "Serial", "Issuer", "Not before", "Not after", "Reason"}, rows));

  if (r.coverage.recorded) {
    const Coverage& c = r.coverage;
    rows.clear();
    for (const auto& u : c.uncaptured)
      for (const auto& iv : u.intervals)
        rows.push_back({htmlEscape(u.ns + "/" + u.pod), htmlEscape(u.node), htmlEscape(time(iv.start)),
                        iv.end ? htmlEscape(time(*iv.end)) : std::string("still, at the last record"),
                        "<strong>" + htmlEscape(iv.reason) + "</strong>", htmlEscape(iv.detail)});
    std::string nodes;
    for (const auto& n : c.nodes) nodes += (nodes.empty() ? "" : ", ") + htmlEscape(n);
    body += section(kSectionCoverage, "Coverage: pods of enabled namespaces that ran uncaptured",
                    "<p>From the node agents' capture records (nodes " + nodes + "): " + std::to_string(c.podsSeen) +
                        " pods in enabled namespaces in the window, " + std::to_string(c.alwaysCaptured) +
                        " always captured, " + std::to_string(c.uncaptured.size()) +
                        " uncaptured at some time. A pod's state before its first record read is unknown.</p>\n" +
                        table("coverage-table", {"Pod", "Node", "Uncaptured from", "To", "Reason", "Detail"}, rows));
  }
  for (const auto& n : r.notRecorded)
    body += section(n.section, "Coverage",
                    "<p><strong>Not recorded: " + htmlEscape(n.status) + ".</strong> " + htmlEscape(n.why) + "</p>\n");

  rows.clear();
  for (const auto& c : r.controls) {
    std::string sections;
    for (const auto& s : c.sections) sections += (sections.empty() ? "" : ", ") + htmlEscape(s);
    rows.push_back(
        {htmlEscape(c.framework), htmlEscape(c.control), htmlEscape(c.topic), sections, htmlEscape(c.evidence)});
  }
  body += section("controls", "Controls these sections can evidence",
                  "<p>" + htmlEscape(kControlsDisclaimer) + "</p>\n" +
                      table("controls-table", {"Framework", "Control", "Topic", "Sections", "Evidence offered"}, rows));

  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Warren audit report</title>\n"
         "<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\n"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
         "th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}\n"
         "th{background:#f3f3f3}\ncode{font-size:0.85em}\n</style>\n</head>\n<body>\n" +
         body + "</body>\n</html>\n";
}

}  // namespace warren::audit
