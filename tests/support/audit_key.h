#pragma once
// A fresh EC P-256 private key in a PEM file, for warren-tunnel's --audit-key in
// tests and benchmarks (what an operator makes with `openssl ecparam -genkey`).

#include <string>

#include "common/result.h"

namespace warren::test {

Status writeAuditKey(const std::string& path);

}  // namespace warren::test
