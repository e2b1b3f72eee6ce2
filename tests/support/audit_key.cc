#include "tests/support/audit_key.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>

#include "ossl/ossl.h"

namespace warren::test {

Status writeAuditKey(const std::string& path) {
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ossl::sslError("generating the audit key");
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return errnoError("writing " + path);
  const bool ok = PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (std::fclose(f) != 0 || !ok) return makeError("writing " + path);
  return okStatus();
}

}  // namespace warren::test
