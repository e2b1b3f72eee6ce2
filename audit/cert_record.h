#pragma once
// A workload certificate event's audit record (README "Audit evidence", type
// `cert`), written by the tunnel and the waypoint alike from the identity
// manager's events. Pure; audit::AuditWriter chains it.

#include <string>

#include "audit/audit_writer.h"
#include "identity/cert_event.h"
#include "identity/identity_manager.h"

namespace warren::audit {

// The record's JSON members (no braces), for AuditWriter::submit(RecordType::Cert, ...).
std::string certAuditFields(const identity::CertEvent& event);

// Every event of `identity` from now on becomes a `cert` record in `writer`
// (null: none). Before the writer goes: identity.setEventObserver(nullptr).
void recordCertEvents(identity::IdentityManager& identity, AuditWriter* writer);

}  // namespace warren::audit
