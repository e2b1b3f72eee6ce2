#pragma once
// Whole-file reads for small configuration and credential files (PEM, tokens).

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace warren {

// The file's bytes; errors name the path and the failing call.
Result<std::string> readFile(const std::string& path);

// A bearer token file (a Kubernetes projected token): its text without surrounding
// whitespace; an empty token is an error naming the file, never a blank header.
Result<std::string> readTokenFile(const std::string& path);

// tmp + fsync + rename: a reader (or a writer that crashes mid-write) sees the old
// file or the whole new one, never a torn one. The mode is given at creation, so
// a key is never readable by others, not even for a moment.
Status writeFileAtomic(const std::string& path, const std::string& data, mode_t mode);

}  // namespace warren
