#pragma once
// Terse aligned tables for human output: a header row, two spaces between
// columns, no trailing blanks, so `column`-style reading and `awk` both work.

#include <string>
#include <vector>

namespace warren::ctl {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;

  std::string render() const;
};

// Replaces control characters so map contents (pod names are written by the agent,
// but a corrupt entry is exactly what a debugger meets) cannot drive the terminal.
std::string printable(const std::string& s);

// "a,b,c +2": at most `max` items, then how many were left out. Keeps a row short
// when one program has many links (sk_lookup has one per pod).
std::string joinLimited(const std::vector<std::string>& items, size_t max);

}  // namespace warren::ctl
