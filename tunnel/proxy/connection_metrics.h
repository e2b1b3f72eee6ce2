#pragma once
// A connection's Istio metric labels, from its access-log record: one source of
// truth for both, so a metrics line and a log line never disagree.

#include "telemetry/metrics.h"
#include "tunnel/proxy/access_log.h"

namespace warren::proxy {

telemetry::TcpLabels tcpLabels(const ConnectionRecord& rec);

}  // namespace warren::proxy
