#pragma once
// warrenctl's command table: every object/verb with its help text, defined once.
// --help, `warrenctl OBJECT help` and docs/warrenctl.md are all generated from it.

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "tools/warrenctl/table.h"

namespace warren::ctl {

struct Invocation {
  std::string pinRoot;
  std::vector<std::string> args;  // after OBJECT VERB
};

struct Output {
  nlohmann::json json;  // for -j / -p
  Table table;          // for humans
};

struct Command {
  std::string object, verb, synopsis, help;
  std::function<Result<Output>(const Invocation&)> run;
};

const std::vector<Command>& commands();
std::string globalHelp();
std::string objectHelp(const std::string& object);
std::string markdownDocs();

// The whole CLI, for main() and for tests. Returns the exit status.
int runCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace warren::ctl
