#pragma once
// What a shared flag parser (audit/audit_flags.h, identity/ca_flags.h) made of one
// getopt_long option: not one of its options, taken, or a bad value (already
// printed to stderr). Each binary keeps its own getopt loop and asks them in turn.

#include <cerrno>
#include <cstdlib>
#include <optional>

namespace warren {

enum class FlagOutcome { kNotOurs, kTaken, kBadValue };

// A flag's value as a whole decimal number of at least `min`; nullopt otherwise
// ("10x" and "" are errors, not 10 and 0).
inline std::optional<long long> wholeNumberAtLeast(const char* text, long long min) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || n < min) return std::nullopt;
  return n;
}

}  // namespace warren
