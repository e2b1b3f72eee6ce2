#pragma once
// A connection's audit record (README "Audit evidence"), from the access-log
// record the proxy already builds: the same facts, plus what an auditor asks
// for that the access log leaves implicit (TLS version and cipher or why there
// was none, the deciding policy's hash, wall-clock start and end, workloads and
// addresses split into their parts). Pure; the writer thread chains and writes it.

#include <chrono>
#include <string>

#include "state/cluster_state.h"
#include "tunnel/proxy/access_log.h"

namespace warren::proxy {

// The record's JSON members (no braces), for audit::AuditWriter::submit. `end`:
// when the connection ended; its start is `end - rec.duration`.
std::string auditFields(const ConnectionRecord& rec, std::chrono::system_clock::time_point end);

// Why a connection had no TLS ("" when it had): plaintext passthrough to a
// destination outside the mesh, a plaintext client of a captured pod, or an
// HBONE connection that never completed its handshake.
std::string noTlsReason(const ConnectionRecord& rec);

}  // namespace warren::proxy
