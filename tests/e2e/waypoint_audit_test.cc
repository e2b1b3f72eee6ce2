// The waypoint's audit log end to end (README "Audit evidence", `request` and
// `cert` records): warren-waypoint with --audit-dir writes one record per HTTP
// request it decided and one for its own certificate, `warrenctl audit verify` passes on its files, and `audit report`
// counts exactly the requests the test made, allowed and denied, by source,
// destination service and method, with the deciding policies and their hashes.
//
//   checkout --HBONE--> waypoint (L7 policy, audit files) --HBONE--> ledger
//   ledger-read: ALLOW GET /balance/* from sa-checkout; no-admin-writes: DENY POST /admin/*

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_io.h"
#include "tests/support/audit_key.h"
#include "tests/support/waypoint_fixture.h"

namespace warren::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCheckout = "spiffe://cluster.local/ns/payments/sa/sa-checkout";
const std::string kLedger = "spiffe://cluster.local/ns/payments/sa/sa-ledger";
constexpr const char* kLedgerService = "ledger.payments.svc.cluster.local";

class WaypointAuditTest : public WaypointTest {
 protected:
  std::string root() const { return "/tmp/we2e-wpaudit-" + std::to_string(::getpid()); }
  std::string dir() const { return root() + "/files"; }

  std::vector<std::string> waypointArgs() override {
    auto args = WaypointTest::waypointArgs();
    for (const std::string& a :
         std::vector<std::string>{"--audit-dir", dir(), "--audit-key", root() + "/audit-key.pem", "--audit-node",
                                  "waypoint-0", "--audit-checkpoint-interval-ms", "100"})
      args.push_back(a);
    return args;
  }

  void SetUp() override {
    fs::create_directories(root());
    auto key = test::writeAuditKey(root() + "/audit-key.pem");
    ASSERT_TRUE(key) << key.error().message;
    WaypointTest::SetUp();
  }

  void TearDown() override {
    WaypointTest::TearDown();
    fs::remove_all(root());
  }

  std::vector<std::string> files() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir(), ec))
      if (e.path().string().ends_with(".audit.jsonl")) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<json> records(const std::string& type) const {
    std::vector<json> out;
    for (const auto& p : files()) {
      auto content = readFile(p);
      if (!content) continue;
      std::istringstream in(*content);
      for (std::string line; std::getline(in, line);) {
        auto j = json::parse(line, nullptr, false);
        if (j.is_object() && j["type"] == type) out.push_back(std::move(j));
      }
    }
    return out;
  }

  // warrenctl -j audit VERB FILES...: its exit status and JSON.
  std::pair<int, json> audit(const std::string& verb) {
    std::vector<std::string> args = {"-j", "audit", verb};
    for (const auto& f : files()) args.push_back(f);
    std::string out;
    const int rc = node(0).warrenctl(args, &out);
    return {rc, json::parse(out, nullptr, false)};
  }
};

TEST_F(WaypointAuditTest, EveryRequestDecidedIsRecordedVerifiesAndTheReportCountsThem) {
  // Five requests on one keep-alive connection: three allowed, one that no ALLOW
  // rule matches, one a DENY policy refuses.
  const std::string base = "http://10.96.0.20";
  const std::string w = "%{http_code}\\n";
  // (--next: -X applies to the URLs after it only; curl keeps the connection.)
  std::string out = curl({"-w", w, base + "/balance/1", base + "/balance/2", base + "/balance/3", base + "/admin/users",
                          "--next", "-sS", "--max-time", "5", "-w", w, "-X", "POST", base + "/admin/users"});
  EXPECT_EQ(lastCurlStatus_, 0) << out;
  EXPECT_EQ(out,
            "GET /balance/1 served\n200\nGET /balance/2 served\n200\nGET /balance/3 served\n200\n"
            "RBAC: access denied403\nRBAC: access denied403\n");
  ASSERT_EQ(app_->seen().size(), 3u) << out;
  ASSERT_TRUE(eventually([&] { return records("request").size() >= 5; }, 10s)) << node(0).logTail("waypoint-waypoint");
  // A clean stop closes the file with a signed final checkpoint.
  EXPECT_EQ(node(0).stopWaypoint(SIGTERM), 0);

  auto requests = records("request");
  ASSERT_EQ(requests.size(), 5u);
  int allowed = 0, denied = 0;
  for (const auto& r : requests) {
    EXPECT_EQ(r["src_identity"], kCheckout) << r.dump();
    EXPECT_EQ(r["dst_identity"], kLedger) << r.dump();
    EXPECT_EQ(r["src_workload"], "checkout");
    EXPECT_EQ(r["dst_service"], kLedgerService);
    EXPECT_EQ(r["security"], "mutual_tls");
    EXPECT_EQ(r["tls_version"], "TLSv1.3") << r.dump();
    EXPECT_NE(r["tls_cipher"], "none") << r.dump();
    EXPECT_EQ(r["waypoint"], "payments/waypoint");
    if (r["verdict"] == "allow") {
      allowed++;
      EXPECT_EQ(r["response_code"], 200);
      EXPECT_EQ(r["policy"], "payments/ledger-read");
      EXPECT_EQ(r["policy_sha256"].get<std::string>().size(), 64u) << r.dump();
    } else {
      denied++;
      EXPECT_EQ(r["verdict"], "deny");
      EXPECT_EQ(r["response_code"], 403);
    }
  }
  EXPECT_EQ(allowed, 3);
  EXPECT_EQ(denied, 2);

  auto [verifyRc, verified] = audit("verify");
  EXPECT_EQ(verifyRc, 0) << verified.dump(2);
  EXPECT_EQ(verified["verdict"], "verified") << verified.dump(2);
  EXPECT_EQ(verified["records"], 6);  // and the waypoint's own certificate, issued at its start

  auto [reportRc, report] = audit("report");
  ASSERT_EQ(reportRc, 0) << report.dump(2);
  EXPECT_EQ(report["summary"]["requests"], 5) << report.dump(2);
  EXPECT_EQ(report["summary"]["requests_denied"], 2);
  std::map<std::string, json> byMethod;
  for (const auto& row : report["requests"]) byMethod[row["method"]] = row;
  ASSERT_EQ(byMethod.size(), 2u) << report["requests"].dump(2);
  const json& get = byMethod["GET"];
  EXPECT_EQ(get["source"], "payments/checkout");
  EXPECT_EQ(get["destination"], kLedgerService);
  EXPECT_EQ(get["requests"], 4);
  EXPECT_EQ(get["denied"], 1);  // /admin/users: no ALLOW rule matched, so no policy decided it
  ASSERT_EQ(get["policies"].size(), 1u) << get.dump(2);
  EXPECT_EQ(get["policies"][0]["policy"], "payments/ledger-read");
  EXPECT_EQ(get["policies"][0]["sha256"], requests[0]["policy_sha256"]);
  const json& post = byMethod["POST"];
  EXPECT_EQ(post["requests"], 1);
  EXPECT_EQ(post["denied"], 1);
  ASSERT_EQ(post["policies"].size(), 1u) << post.dump(2);
  EXPECT_EQ(post["policies"][0]["policy"], "payments/no-admin-writes");

  // The waypoint's identity: one certificate issued, in the files and the report.
  auto certs = records("cert");
  ASSERT_EQ(certs.size(), 1u);
  EXPECT_EQ(certs[0]["event"], "issued");
  EXPECT_EQ(certs[0]["spiffe_id"], "spiffe://cluster.local/ns/payments/sa/sa-waypoint");
  EXPECT_EQ(report["summary"]["certificates_issued"], 1);
  ASSERT_EQ(report["certificates"].size(), 1u);
  EXPECT_EQ(report["certificates"][0]["serial"], certs[0]["serial"]);
  EXPECT_EQ(report["certificates"][0]["node"], "waypoint-0");
}

}  // namespace
}  // namespace warren::e2e
