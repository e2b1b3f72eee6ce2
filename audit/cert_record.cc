#include "audit/cert_record.h"

#include "audit/chain.h"
#include "common/json_line.h"

namespace warren::audit {

std::string certAuditFields(const identity::CertEvent& e) {
  const identity::WorkloadCert* c = e.cert.get();
  JsonLine j;
  j.field("event", identity::certEventName(e.kind))
      .field("spiffe_id", e.id.uri())
      .field("serial", c ? c->serialHex : "")
      .field("issuer", c ? c->issuer : "")
      .field("not_before", c ? utcTimestamp(c->notBefore) : "")
      .field("not_after", c ? utcTimestamp(c->notAfter) : "")
      .field("previous_serial", e.previousSerial)
      .field("reason", e.reason)
      .field("time", utcTimestamp(e.at));
  std::string line = j.finish();
  return line.substr(1, line.size() - 2);
}

void recordCertEvents(identity::IdentityManager& identity, AuditWriter* writer) {
  if (!writer) return;
  // The writer only queues: quick enough for the manager's lock.
  identity.setEventObserver(
      [writer](const identity::CertEvent& e) { writer->submit(RecordType::Cert, certAuditFields(e)); });
}

}  // namespace warren::audit
