#pragma once
// The audit report as one self-contained HTML file an auditor opens offline:
// inline CSS, the tables of audit/report.h and an inline SVG chart of the mTLS
// share over time; no script and no external resource.

#include <string>

#include "audit/report.h"

namespace warren::audit {

std::string reportHtml(const Report& r);

// Text made safe for HTML element content and attribute values.
std::string htmlEscape(std::string_view text);

}  // namespace warren::audit
