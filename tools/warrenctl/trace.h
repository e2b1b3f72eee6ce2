#pragma once
// `warrenctl trace`: streams the warren_events ring buffer until SIGINT/SIGTERM,
// --count or --timeout.

#include <iosfwd>

#include "tools/warrenctl/cli.h"

namespace warren::ctl {

Status runTrace(const Context& ctx, const StreamOptions& opts, std::ostream& out);

}  // namespace warren::ctl
