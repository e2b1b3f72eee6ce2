#pragma once
// What a shared flag parser (audit/audit_flags.h, identity/ca_flags.h) made of one
// getopt_long option: not one of its options, taken, or a bad value (already
// printed to stderr). Each binary keeps its own getopt loop and asks them in turn.

namespace warren {

enum class FlagOutcome { kNotOurs, kTaken, kBadValue };

}  // namespace warren
