#pragma once
// The kernel-side objects and verbs of warrenctl's command table (link, map, pod
// show, conn, trace, stats): help text, JSON fields and handlers. commands.cc puts
// them in the table.

#include "tools/warrenctl/cli.h"

namespace warren::ctl {

Object linkObject();
Object mapObject();
Verb podShowVerb();
Object connObject();
Object traceObject();
Object statsObject();

}  // namespace warren::ctl
