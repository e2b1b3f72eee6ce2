#pragma once
// The audit report as JSON (`warrenctl -j audit report`): every section of
// audit/report.h by the names the control mapping cites, times as UTC strings.

#include <nlohmann/json.hpp>

#include "audit/report.h"

namespace warren::audit {

nlohmann::ordered_json reportJson(const Report& r);

}  // namespace warren::audit
