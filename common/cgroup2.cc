#include "common/cgroup2.h"

#include <sstream>
#include <vector>

#include "common/file_io.h"

namespace warren {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "/" is the hierarchy's root. Inside a cgroup namespace of its own (a pod's
// container), mountinfo shows roots relative to that namespace: the host's root,
// bind-mounted in by the DaemonSet, then reads "/.." repeated (an ancestor).
bool wholeHierarchy(std::string_view root) {
  if (root == "/") return true;
  while (root.starts_with("/..")) root.remove_prefix(3);
  return root.empty();
}

}  // namespace

Result<std::string> findCgroup2Root(std::string_view mountinfo) {
  std::vector<std::string> roots, subtrees;
  std::istringstream in{std::string(mountinfo)};
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 5 || dash + 1 >= f.size() || f[dash + 1] != "cgroup2") continue;
    (wholeHierarchy(unescape(f[3])) ? roots : subtrees).push_back(unescape(f[4]));
  }
  for (const auto& r : roots)
    if (r == "/sys/fs/cgroup") return r;
  if (!roots.empty()) return roots.front();
  if (!subtrees.empty())
    return makeError("cgroup2 at " + subtrees.front() +
                     " shows only part of the hierarchy (a cgroup namespace of its own?): mount the host's "
                     "cgroup2 root and pass it with --cgroup");
  return makeError("no cgroup2 file system is mounted (cgroup v2 is required; pass its root with --cgroup)");
}

Result<std::string> detectCgroup2Root() {
  auto text = readFile("/proc/self/mountinfo");
  if (!text) return text.error();
  return findCgroup2Root(*text);
}

}  // namespace warren
