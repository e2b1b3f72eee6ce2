#pragma once
// Where a process's resident memory is, from the text of /proc/PID/smaps: grouped
// by what is mapped (a library, the heap, thread stacks, anonymous mappings), so an
// RSS figure can be read as "which part grew". Pure over the text (tested in
// tests/unit/bench); readSmaps() is the only I/O.

#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace warren::bench {

struct MappingRss {
  std::string name;  // the mapped file's path, "[heap]", "[stack]", or "[anon]" for unnamed mappings
  long rssKb = 0;
  long anonKb = 0;      // of which private anonymous pages (the heap, stacks, copied-on-write library data)
  size_t mappings = 0;  // how many mappings (a library has several: code, data, relro)
};

struct RssBreakdown {
  long rssKb = 0, anonKb = 0;
  std::vector<MappingRss> byName;  // largest RSS first
};

// A mapping's header line starts with its address range ("7f..-7f.. r-xp ..."),
// the lines under it are "Field:   N kB".
inline RssBreakdown rssBreakdown(const std::string& smaps) {
  std::map<std::string, MappingRss> by;
  MappingRss* cur = nullptr;
  std::istringstream in(smaps);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    const auto space = line.find(' ');
    const bool header =
        space != std::string::npos && (colon == std::string::npos || colon > space) && line.find('-') < space;
    if (header) {
      // Six fields (range, perms, offset, dev, inode) then the optional name.
      std::istringstream h(line);
      std::string range, perms, offset, dev, inode, name;
      h >> range >> perms >> offset >> dev >> inode;
      std::getline(h >> std::ws, name);
      if (name.empty()) name = "[anon]";
      // Thread stacks other than the main one are unnamed; "[stack]" is the main thread's.
      cur = &by[name];
      cur->name = name;
      ++cur->mappings;
      continue;
    }
    if (!cur || colon == std::string::npos) continue;
    const std::string field = line.substr(0, colon);
    long kb = 0;
    if (std::sscanf(line.c_str() + colon + 1, " %ld", &kb) != 1) continue;
    if (field == "Rss")
      cur->rssKb += kb;
    else if (field == "Anonymous")
      cur->anonKb += kb;
  }
  RssBreakdown out;
  for (auto& [name, m] : by) {
    out.rssKb += m.rssKb;
    out.anonKb += m.anonKb;
    out.byName.push_back(std::move(m));
  }
  std::stable_sort(out.byName.begin(), out.byName.end(),
                   [](const MappingRss& a, const MappingRss& b) { return a.rssKb > b.rssKb; });
  return out;
}

inline std::string readSmaps(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// The breakdown as lines of text, the `top` largest names.
inline std::string rssTable(const RssBreakdown& b, size_t top) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line), "%9s %9s %5s  %s\n", "RSS (kB)", "anon (kB)", "maps", "mapping");
  out += line;
  for (size_t i = 0; i < b.byName.size() && i < top; ++i) {
    const auto& m = b.byName[i];
    std::snprintf(line, sizeof(line), "%9ld %9ld %5zu  %s\n", m.rssKb, m.anonKb, m.mappings, m.name.c_str());
    out += line;
  }
  long restRss = 0, restAnon = 0;
  for (size_t i = top; i < b.byName.size(); ++i) {
    restRss += b.byName[i].rssKb;
    restAnon += b.byName[i].anonKb;
  }
  if (b.byName.size() > top) {
    std::snprintf(line, sizeof(line), "%9ld %9ld %5s  (%zu others)\n", restRss, restAnon, "", b.byName.size() - top);
    out += line;
  }
  std::snprintf(line, sizeof(line), "%9ld %9ld %5s  total\n", b.rssKb, b.anonKb, "");
  out += line;
  return out;
}

}  // namespace warren::bench
