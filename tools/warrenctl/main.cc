// warrenctl: Warren's bpftool-style debug CLI.
#include <bpf/libbpf.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/warrenctl/commands.h"

int main(int argc, char** argv) {
  // libbpf would print its own diagnostics (e.g. when a program has no BTF); every
  // failure warrenctl cares about becomes its one "Error:" line instead.
  libbpf_set_print(nullptr);
  std::vector<std::string> args(argv, argv + argc);
  return warren::ctl::runWarrenctl(args, std::cout, std::cerr);
}
