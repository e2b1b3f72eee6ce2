#pragma once
// Problems a source reports again with every rebuild: a policy that cannot be
// converted stays in the cluster, and every watch event or xDS delta rebuilds the
// state from it. Logged each time, one broken policy in a cluster with pod churn
// is a warning a second, and operators stop reading the log. Said once while it
// lasts; said again only after it went away and came back.

#include <set>
#include <string>
#include <vector>

namespace warren {

class RepeatFilter {
 public:
  // Of `current`, those the previous call did not have, in their order (each
  // once); remembers `current` for the next call.
  std::vector<std::string> fresh(const std::vector<std::string>& current) {
    std::set<std::string> now(current.begin(), current.end());
    std::vector<std::string> out;
    std::set<std::string> said;
    for (const auto& c : current)
      if (!last_.count(c) && said.insert(c).second) out.push_back(c);
    last_ = std::move(now);
    return out;
  }
  // How many problems are standing now (for a metric or a status line).
  size_t standing() const { return last_.size(); }

 private:
  std::set<std::string> last_;
};

}  // namespace warren
