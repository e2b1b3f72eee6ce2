#pragma once
// The CA's command-line flags, shared by warren-tunnel and warren-waypoint so both
// choose their CA from the same options (identity/ca_choice.h): --ca-dir,
// --ca-address, --ca-root-cert, --ca-token-file, --cluster-id and --cert-ttl.
// Each binary keeps its own getopt loop and hands these options here, as it does
// the audit options (audit/audit_flags.h).

#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/flag_outcome.h"
#include "identity/ca_choice.h"

namespace warren::identity {

struct CaFlags {
  // trustDomain and impersonate are the binary's to set: they are not CA flags.
  CaChoice choice{.caDir = "/var/lib/warren/ca",
                  .trustDomain = "",
                  .caAddress = "",
                  .caRootCert = "",
                  .caTokenFile = "",
                  .clusterId = "Kubernetes",
                  .impersonate = false};
  std::chrono::seconds certTtl{24 * 3600};
};

// getopt_long's table: `own` (an all-zero end in it is moved, so tables of flags
// nest: withAuditOptions(withCaOptions({...}))) followed by the CA options and
// the end. Their values are 1100 and up, clear of short option letters
// and of the audit options (1000 and up).
std::vector<option> withCaOptions(std::vector<option> own);

// Takes option `c` when it is one of the CA options: kTaken, or kBadValue (printed
// to stderr, naming `program`); kNotOurs for any other option.
FlagOutcome parseCaFlag(int c, const char* value, CaFlags& flags, std::string_view program);

// The usage lines of the CA options.
void printCaUsage(FILE* out);

// "local DIR" or "istio HOST:PORT", for the start-up line.
std::string describeCa(const CaFlags& flags);

}  // namespace warren::identity
