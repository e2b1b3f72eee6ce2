#pragma once
// warrenctl's command table: every object and verb with its help text and JSON
// fields, defined once. --help, `warrenctl OBJECT help` and docs/warrenctl.md
// (`warrenctl gen-docs`) are generated from it.

#include <iosfwd>
#include <string>
#include <vector>

#include "tools/warrenctl/cli.h"

namespace warren::ctl {

const CommandTable& commandTable();

// warrenctl itself: runCli over commandTable().
int runWarrenctl(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace warren::ctl
