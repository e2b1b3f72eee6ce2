#include "identity/ca_flags.h"

#include <cstdio>

namespace warren::identity {

namespace {
enum : int {
  kCaDir = 1100,
  kCaAddress,
  kCaRootCert,
  kCaTokenFile,
  kClusterId,
  kCertTtl,
};
}  // namespace

std::vector<option> withCaOptions(std::vector<option> own) {
  if (!own.empty() && own.back().name == nullptr) own.pop_back();  // an end from another table of flags
  for (const option& o : {option{"ca-dir", required_argument, nullptr, kCaDir},
                          option{"ca-address", required_argument, nullptr, kCaAddress},
                          option{"ca-root-cert", required_argument, nullptr, kCaRootCert},
                          option{"ca-token-file", required_argument, nullptr, kCaTokenFile},
                          option{"cluster-id", required_argument, nullptr, kClusterId},
                          option{"cert-ttl", required_argument, nullptr, kCertTtl}})
    own.push_back(o);
  own.push_back(option{nullptr, 0, nullptr, 0});
  return own;
}

FlagOutcome parseCaFlag(int c, const char* value, CaFlags& flags, std::string_view program) {
  switch (c) {
    case kCaDir: flags.choice.caDir = value; return FlagOutcome::kTaken;
    case kCaAddress: flags.choice.caAddress = value; return FlagOutcome::kTaken;
    case kCaRootCert: flags.choice.caRootCert = value; return FlagOutcome::kTaken;
    case kCaTokenFile: flags.choice.caTokenFile = value; return FlagOutcome::kTaken;
    case kClusterId: flags.choice.clusterId = value; return FlagOutcome::kTaken;
    case kCertTtl: break;
    default: return FlagOutcome::kNotOurs;
  }
  // Whole seconds, at least 2: renewal comes at half the lifetime.
  const auto n = wholeNumberAtLeast(value, 2);
  if (!n) {
    std::fprintf(stderr, "%.*s: --cert-ttl '%s' is not a number of seconds of at least 2\n",
                 static_cast<int>(program.size()), program.data(), value);
    return FlagOutcome::kBadValue;
  }
  flags.certTtl = std::chrono::seconds(*n);
  return FlagOutcome::kTaken;
}

void printCaUsage(FILE* out) {
  std::fprintf(out,
               "  --ca-dir DIR            local CA files: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem;\n"
               "                          made on first start when absent (default /var/lib/warren/ca)\n"
               "  --ca-address HOST:PORT  use Istio's CA (IstioCertificateService, istiod's :15012) instead of\n"
               "                          the local CA\n"
               "  --ca-root-cert FILE     root certificate for TLS to --ca-address\n"
               "  --ca-token-file FILE    bearer token sent to --ca-address (audience istio-ca)\n"
               "  --cluster-id ID         ClusterID sent to --ca-address (default Kubernetes)\n"
               "  --cert-ttl SECONDS      certificate lifetime (default 86400); renewed at half\n");
}

std::string describeCa(const CaFlags& flags) {
  return flags.choice.caAddress.empty() ? "local " + flags.choice.caDir : "istio " + flags.choice.caAddress;
}

}  // namespace warren::identity
