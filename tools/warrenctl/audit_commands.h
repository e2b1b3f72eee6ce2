#pragma once
// warrenctl's `audit` object: the audit files warren-tunnel writes with
// --audit-dir (README "Audit evidence"), read from disk; no tunnel needed.

#include "tools/warrenctl/cli.h"

namespace warren::ctl {

Object auditObject();

}  // namespace warren::ctl
