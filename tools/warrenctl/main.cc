// warrenctl: Warren's bpftool-style debug CLI.
#include <iostream>

#include "tools/warrenctl/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return warren::ctl::runCli(args, std::cout, std::cerr);
}
