#pragma once
// Text helpers shared by the parsers and policy converters. Lowering is ASCII
// only, whatever the process locale: HTTP header names, JWT fields and Istio's
// protocol and method names are ASCII case-insensitive.

#include <string>
#include <string_view>
#include <vector>

namespace warren {

inline std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// "a, b, c" for {"a", "b", "c"} with separator ", ".
inline std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace warren
