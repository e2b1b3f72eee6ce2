#pragma once
// A waypoint's audit record of one HTTP request it decided (README "Audit
// evidence", type `request`), from the same RequestRecord its access-log line
// and request metrics are built from, plus what an auditor asks for that the
// access log leaves out (the inbound HBONE's TLS, the deciding policy's hash,
// wall-clock start and end, the verdict). Pure; audit::AuditWriter chains it.

#include <chrono>
#include <string>
#include <string_view>

#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint::telemetry {

// The record's JSON members (no braces), for AuditWriter::submit(RecordType::Request, ...).
// `waypoint`: the Gateway ("ns/name") whose waypoint decided.
std::string requestAuditFields(const RequestRecord& rec, std::string_view waypoint);

}  // namespace warren::waypoint::telemetry
