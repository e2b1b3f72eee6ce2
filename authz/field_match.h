#pragma once
// Istio's rule for one policy field, shared by the L4 and L7 matchers: a field
// constrains only when it has values; then any value must match, or, for a not*
// field, none may.

#include <algorithm>
#include <vector>

namespace warren::authz {

template <typename T, typename Pred>
bool anyOf(const std::vector<T>& values, Pred pred) {
  return std::any_of(values.begin(), values.end(), pred);
}
template <typename T, typename Pred>
bool field(const std::vector<T>& values, Pred pred) {
  return values.empty() || anyOf(values, pred);
}
template <typename T, typename Pred>
bool notField(const std::vector<T>& values, Pred pred) {
  return values.empty() || !anyOf(values, pred);
}

}  // namespace warren::authz
