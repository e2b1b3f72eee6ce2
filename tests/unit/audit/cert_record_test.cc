// A certificate event's audit record: pure, from the identity manager's event.

#include "audit/cert_record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace warren::audit {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const auto kAt = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'765'000'000'250));

identity::CertEvent rotated() {
  auto cert = std::make_shared<identity::WorkloadCert>();
  cert->id = identity::SpiffeId{"cluster.local", "mesh", "sa-server"};
  cert->serialHex = "0A1B";
  cert->issuer = "O=cluster.local";
  cert->notBefore = kAt - 60s;
  cert->notAfter = kAt + 24h;
  return {identity::CertEvent::Kind::Rotated, cert->id, cert, "09FF", "", kAt};
}

json fieldsOf(const identity::CertEvent& e) { return json::parse("{" + certAuditFields(e) + "}"); }

TEST(CertRecord, ARotationNamesTheNewCertificateAndTheOneItReplaced) {
  const json j = fieldsOf(rotated());
  EXPECT_EQ(j["event"], "rotated");
  EXPECT_EQ(j["spiffe_id"], "spiffe://cluster.local/ns/mesh/sa/sa-server");
  EXPECT_EQ(j["serial"], "0A1B");
  EXPECT_EQ(j["issuer"], "O=cluster.local");
  EXPECT_EQ(j["not_before"], "2025-12-06T05:45:40.250Z");
  EXPECT_EQ(j["not_after"], "2025-12-07T05:46:40.250Z");
  EXPECT_EQ(j["previous_serial"], "09FF");
  EXPECT_EQ(j["reason"], "");
  EXPECT_EQ(j["time"], "2025-12-06T05:46:40.250Z");
}

TEST(CertRecord, AFailedFirstIssueHasNoCertificateButItsReasonAndEveryField) {
  identity::CertEvent e{identity::CertEvent::Kind::Failed,
                        identity::SpiffeId{"cluster.local", "mesh", "sa-x"},
                        nullptr,
                        "",
                        "fake CA: unavailable",
                        kAt};
  const std::string fields = certAuditFields(e);
  size_t at = 0;
  for (const char* k :
       {"event", "spiffe_id", "serial", "issuer", "not_before", "not_after", "previous_serial", "reason", "time"}) {
    const size_t found = fields.find("\"" + std::string(k) + "\":", at);
    ASSERT_NE(found, std::string::npos) << k << " missing or out of order in " << fields;
    at = found;
  }
  const json j = fieldsOf(e);
  EXPECT_EQ(j["event"], "failed");
  EXPECT_EQ(j["serial"], "");
  EXPECT_EQ(j["not_after"], "");
  EXPECT_EQ(j["reason"], "fake CA: unavailable");
}

}  // namespace
}  // namespace warren::audit
