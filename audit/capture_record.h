#pragma once
// A change of a pod's capture state as an audit record (README "Audit evidence",
// type `capture`), written by warren-agent for the pods of its node in
// capturing namespaces (agent/capture_coverage.h). Pure; audit::AuditWriter
// chains it. The report's coverage section reads these records.

#include <chrono>
#include <string>

#include "agent/capture_coverage.h"

namespace warren::audit {

// The record's JSON members (no braces), for AuditWriter::submit(RecordType::Capture, ...).
// `node` is the agent's node (--node), which its files' name may not be.
std::string captureAuditFields(const agent::CaptureEvent& event, const std::string& node,
                               std::chrono::system_clock::time_point at);

}  // namespace warren::audit
