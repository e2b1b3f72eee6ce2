#pragma once
// Whole-file reads for small configuration and credential files (PEM, tokens).

#include <string>

#include "common/result.h"

namespace warren {

// The file's bytes; errors name the path and the failing call.
Result<std::string> readFile(const std::string& path);

// A bearer token file (a Kubernetes projected token): its text without surrounding
// whitespace; an empty token is an error naming the file, never a blank header.
Result<std::string> readTokenFile(const std::string& path);

}  // namespace warren
