// The HTML report checked by a real validator and a real parser, not by
// string matching: Debian's tidy must find no error (nor warning) in it, and
// libxml2's HTML parser must find the tables with the report's rows, the text
// of hostile names as text, the chart's points, and nothing that loads from
// elsewhere (an auditor opens it offline).

#include "audit/report_html.h"

#include <gtest/gtest.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace warren::audit {
namespace {

Millis t0() { return *parseUtcTimestamp("2026-12-06T10:00:00Z"); }

// A report with a row in every table, and names an attacker could choose.
Report sample() {
  Report r;
  r.since = t0();
  r.until = t0() + 60'000;
  r.ns = "shop";
  r.firstRecord = t0() + 1000;
  r.lastRecord = t0() + 50'000;
  r.connections = 7;
  r.mtls = 5;
  r.denied = 1;
  r.records = 12;
  r.files = {
      {"/var/log/warren/node1-00000000.audit.jsonl", "node1", FileVerdict::Verified, 6, true, {}},
      {"/tmp/copy/node2-00000000.audit.jsonl", "node2", FileVerdict::Tampered, 3, false, {"line 3 (seq 2): edited"}}};
  r.excludedRecords = 3;
  r.flows = {{{"shop/checkout", "payments.shop.svc.cluster.local", "8080"}, 4, 4, 0},
             {{"legacy/<script>alert(1)</script>", "shop/payments", "8080"}, 1, 1, 1},
             {{"shop/checkout", "192.0.2.7", "443"}, 2, 0, 0}};
  r.plaintext = {{{"shop/checkout", "192.0.2.7", "443"},
                  "plaintext passthrough: the destination is outside the mesh & \"unencrypted\"",
                  2,
                  t0() + 2000,
                  t0() + 3000}};
  r.policies = {{"shop/payments-allow", std::string(64, 'a'), 4, 3, 1, t0() + 1000, t0() + 20'000},
                {"shop/payments-allow", std::string(64, 'b'), 1, 1, 0, t0() + 30'000, t0() + 31'000}};
  r.share = {{t0(), t0() + 20'000, 3, 2}, {t0() + 20'000, t0() + 40'000, 0, 0}, {t0() + 40'000, t0() + 60'000, 4, 3}};
  r.certificates = {
      {"node1", "spiffe://cluster.local/ns/shop/sa/checkout", "issued", "0A1B", "O=cluster.local",
       "2026-12-06T09:59:00.000Z", "2026-12-07T10:00:00.000Z", "", "", t0()},
      {"node1", "spiffe://cluster.local/ns/shop/sa/checkout", "expired", "0A1B", "O=cluster.local",
       "2026-12-06T09:59:00.000Z", "2026-12-07T10:00:00.000Z", "", "expired while in use <&>", t0() + 86'400'000}};
  r.certIssued = 1;
  r.certExpired = 1;
  r.requests = 6;
  r.requestsDenied = 2;
  r.requestFlows = {{{"shop/checkout", "payments.shop.svc.cluster.local", "GET"},
                     5,
                     1,
                     5,
                     {{"shop/<read>", std::string(64, 'c')}, {"shop/read", std::string(64, 'd')}}},
                    {{"shop/checkout", "payments.shop.svc.cluster.local", "POST"}, 1, 1, 0, {}}};
  r.coverage.recorded = true;
  r.coverage.nodes = {"node1"};
  r.coverage.podsSeen = 3;
  r.coverage.alwaysCaptured = 1;
  r.coverage.uncaptured = {
      {"node1",
       "shop",
       "<legacy>",
       "u1",
       {{false, "opted_out", "opts out with warren.io/mode=disabled", t0() + 5000, t0() + 9000}}},
      {"node1", "shop", "batch", "u2", {{false, "enrollment_failed", "bpf: map full & more", t0() + 1000, {}}}}};
  Report defaults = buildReport(std::vector<VerifiedFiles>{}, {});
  r.controls = defaults.controls;
  return r;
}

struct ToolRun {
  int status = -1;
  std::string output;
};

// tidy's exit status (0 clean, 1 warnings, 2 errors) and what it said.
ToolRun tidy(const std::string& path) {
  const std::string out = path + ".tidy";
  const std::string cmd = "tidy -q -e --gnu-emacs yes '" + path + "' > '" + out + "' 2>&1";
  ToolRun r;
  const int rc = std::system(cmd.c_str());
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

void walk(xmlNode* n, const std::function<void(xmlNode*)>& f) {
  for (; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE) f(n);
    walk(n->children, f);
  }
}
std::string name(xmlNode* n) { return reinterpret_cast<const char*>(n->name); }
std::string attr(xmlNode* n, const char* a) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(a));
  std::string s = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return s;
}
std::string text(xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  std::string s = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return s;
}
xmlNode* byId(xmlDoc* doc, const std::string& id) {
  xmlNode* found = nullptr;
  walk(xmlDocGetRootElement(doc), [&](xmlNode* n) {
    if (!found && attr(n, "id") == id) found = n;
  });
  return found;
}
// A table's body rows, each as its cells' text.
std::vector<std::vector<std::string>> rows(xmlNode* table) {
  std::vector<std::vector<std::string>> out;
  walk(table->children, [&](xmlNode* n) {
    if (name(n) != "tbody") return;
    for (xmlNode* tr = n->children; tr; tr = tr->next) {
      if (tr->type != XML_ELEMENT_NODE || name(tr) != "tr") continue;
      std::vector<std::string> cells;
      for (xmlNode* td = tr->children; td; td = td->next)
        if (td->type == XML_ELEMENT_NODE && name(td) == "td") cells.push_back(text(td));
      out.push_back(cells);
    }
  });
  return out;
}

TEST(AuditReportHtml, TidyFindsNoErrorOrWarning) {
  const std::string path =
      std::filesystem::temp_directory_path() / ("audit-report-" + std::to_string(::getpid()) + ".html");
  {
    std::ofstream out(path);
    out << reportHtml(sample());
  }
  ToolRun r = tidy(path);
  // 127: no tidy (scripts/install-deps.sh installs it); the test does not skip.
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "");
  // The validator is awake: a stray end tag is an error to it.
  {
    std::ofstream out(path);
    out << reportHtml(sample()) << "</div>\n";
  }
  EXPECT_NE(tidy(path).status, 0);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".tidy");
}

TEST(AuditReportHtml, ItsStructureCarriesTheReportAndNothingExternal) {
  const Report report = sample();
  const std::string html = reportHtml(report);
  DocPtr doc(htmlReadMemory(html.data(), static_cast<int>(html.size()), "report.html", "utf-8",
                            HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET),
             &xmlFreeDoc);
  ASSERT_TRUE(doc);

  xmlNode* flows = byId(doc.get(), "flows-table");
  ASSERT_NE(flows, nullptr);
  auto flowRows = rows(flows);
  ASSERT_EQ(flowRows.size(), report.flows.size());
  // The hostile name is text in its cell, not a script element.
  EXPECT_EQ(flowRows[1][0], "legacy/<script>alert(1)</script>");
  EXPECT_EQ(flowRows[0],
            (std::vector<std::string>{"shop/checkout", "payments.shop.svc.cluster.local", "8080", "4", "100.0%", "0"}));
  EXPECT_EQ(flowRows[2][4], "0.0%");

  auto plain = rows(byId(doc.get(), "non-mtls-table"));
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0][4], "plaintext passthrough: the destination is outside the mesh & \"unencrypted\"");
  auto files = rows(byId(doc.get(), "files-table"));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1][2], "tampered");
  EXPECT_EQ(files[1][4], "no: tampered");
  auto policies = rows(byId(doc.get(), "policies-table"));
  ASSERT_EQ(policies.size(), 2u);
  EXPECT_EQ(policies[1][1], std::string(64, 'b'));
  EXPECT_EQ(rows(byId(doc.get(), "controls-table")).size(), report.controls.size());
  auto requests = rows(byId(doc.get(), "requests-table"));
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0],
            (std::vector<std::string>{"shop/checkout", "payments.shop.svc.cluster.local", "GET", "5", "1", "100.0%",
                                      "shop/<read> cccccccccccccccc"
                                      "shop/read dddddddddddddddd"}));
  EXPECT_EQ(requests[1][6], "");
  auto certs = rows(byId(doc.get(), "certificates-table"));
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(certs[1],
            (std::vector<std::string>{"2026-12-07T10:00:00.000Z", "node1", "spiffe://cluster.local/ns/shop/sa/checkout",
                                      "expired", "0A1B", "O=cluster.local", "2026-12-06T09:59:00.000Z",
                                      "2026-12-07T10:00:00.000Z", "expired while in use <&>"}));
  EXPECT_NE(text(byId(doc.get(), "certificates")).find("1 issued, 0 rotated, 0 failed, 1 expired while in use."),
            std::string::npos);
  xmlNode* coverageTable = byId(doc.get(), "coverage-table");
  ASSERT_NE(coverageTable, nullptr);
  auto coverage = rows(coverageTable);
  ASSERT_EQ(coverage.size(), 2u);
  EXPECT_EQ(coverage[0],
            (std::vector<std::string>{"shop/<legacy>", "node1", "2026-12-06T10:00:05.000Z", "2026-12-06T10:00:09.000Z",
                                      "opted_out", "opts out with warren.io/mode=disabled"}));
  EXPECT_EQ(coverage[1][3], "still, at the last record");
  EXPECT_EQ(coverage[1][5], "bpf: map full & more");
  EXPECT_NE(text(byId(doc.get(), "coverage"))
                .find("3 pods in enabled namespaces in the window, 1 always captured, 2 "
                      "uncaptured at some time."),
            std::string::npos);

  // The chart: one svg, a point per bucket with connections (2 of 3), each
  // titled with its numbers, on a line through them.
  int svgs = 0, circles = 0, polylines = 0;
  std::vector<std::string> titles;
  std::vector<std::string> external;
  walk(xmlDocGetRootElement(doc.get()), [&](xmlNode* n) {
    const std::string e = name(n);
    svgs += e == "svg";
    polylines += e == "polyline";
    if (e == "circle") {
      circles++;
      for (xmlNode* c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && name(c) == "title") titles.push_back(text(c));
    }
    if (e == "script" || e == "link" || e == "img" || e == "iframe" || e == "object") external.push_back(e);
    for (const char* a : {"src", "href", "xlink:href"})
      if (!attr(n, a).empty()) external.push_back(e + " " + a + "=" + attr(n, a));
  });
  EXPECT_EQ(svgs, 1);
  EXPECT_EQ(polylines, 1);
  EXPECT_EQ(circles, 2);
  EXPECT_EQ(titles, (std::vector<std::string>{"2026-12-06T10:00:00.000Z: 2 of 3 over mutual TLS",
                                              "2026-12-06T10:00:40.000Z: 3 of 4 over mutual TLS"}));
  EXPECT_TRUE(external.empty()) << external.front();
}

TEST(AuditReportHtml, WithoutAnAgentsFileTheCoverageSectionSaysNoneWasGiven) {
  Report r = buildReport(std::vector<VerifiedFiles>{}, {});
  const std::string html = reportHtml(r);
  DocPtr doc(htmlReadMemory(html.data(), static_cast<int>(html.size()), "report.html", "utf-8",
                            HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET),
             &xmlFreeDoc);
  ASSERT_TRUE(doc);
  EXPECT_EQ(byId(doc.get(), "coverage-table"), nullptr);
  xmlNode* s = byId(doc.get(), "coverage");
  ASSERT_NE(s, nullptr);
  EXPECT_NE(text(s).find("Not recorded: no agent audit file given."), std::string::npos) << text(s);
}

}  // namespace
}  // namespace warren::audit
