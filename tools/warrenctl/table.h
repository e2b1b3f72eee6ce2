#pragma once
// Terse aligned tables for human output (bpftool's plain mode).

#include <string>
#include <vector>

namespace warren::ctl {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  std::string render() const;
};

}  // namespace warren::ctl
