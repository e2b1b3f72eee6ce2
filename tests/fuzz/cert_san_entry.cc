// The peer certificate's identity as both proxies read it after the TLS handshake
// (identity::peerIdentity): the URI SAN of a leaf, as a SPIFFE ID of the trust
// domain. Input: a DER certificate (what a peer controls, once its chain verified).
// Invariants: an identity comes only from a certificate with exactly one URI SAN,
// equal to the identity's text, in the expected trust domain, and it parses back
// to itself; a refusal says why.
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "identity/identity.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

// Every URI SAN, read independently of peerIdentity's own loop.
std::vector<std::string> uriSans(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_URI)
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.uniformResourceIdentifier)),
                       ASN1_STRING_length(name->d.uniformResourceIdentifier));
  }
  return out;
}

}  // namespace

int certSanEntry(const uint8_t* data, size_t size) {
  const unsigned char* p = data;
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(size)));
  if (!cert) return 0;
  auto id = identity::peerIdentity(cert.get(), "cluster.local");
  if (!id) {
    FUZZ_CHECK(!id.error().message.empty());
    return 0;
  }
  const auto sans = uriSans(cert.get());
  FUZZ_CHECK(sans.size() == 1);
  FUZZ_CHECK(id->uri() == sans[0]);
  FUZZ_CHECK(id->trustDomain == "cluster.local");
  auto again = identity::SpiffeId::parse(id->uri());
  FUZZ_CHECK(again.ok() && *again == *id);
  return 0;
}

}  // namespace warren::fuzz
