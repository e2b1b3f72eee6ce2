#include "identity/identity.h"

#include <openssl/x509v3.h>

#include <cstdio>

namespace warren::identity {

SpiffeId workloadIdentity(const std::string& trustDomain, const std::string& ns, const std::string& serviceAccount) {
  return SpiffeId{trustDomain, ns, serviceAccount.empty() ? "default" : serviceAccount};
}

namespace {

constexpr std::string_view kScheme = "spiffe://";
// The SPIFFE spec's limit; anything longer is not an ID we could have issued.
constexpr size_t kMaxIdLength = 2048;

// A URI from a peer's certificate goes into error messages and logs: quote it, escape
// anything unprintable and cut it short, so a hostile SAN cannot forge log lines.
std::string quoted(std::string_view s) {
  constexpr size_t kMaxShown = 256;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "\"";
}

// SPIFFE trust domain characters: lower-case letters, digits, '.', '-', '_'. No port,
// no user info, no upper case (the spec makes trust domains case-sensitive lower case).
bool validTrustDomain(std::string_view td) {
  if (td.empty()) return false;
  for (char c : td) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// SPIFFE path segment characters: letters, digits, '.', '-', '_'; never "." or "..".
// Percent-encoding is refused outright so that two spellings of one name cannot exist.
bool validSegment(std::string_view seg) {
  if (seg.empty() || seg == "." || seg == "..") return false;
  for (char c : seg) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

}  // namespace

Result<SpiffeId> SpiffeId::parse(std::string_view uri) {
  auto bad = [&](const std::string& why) { return makeError("invalid SPIFFE ID " + quoted(uri) + ": " + why); };
  if (uri.size() > kMaxIdLength) return bad("longer than " + std::to_string(kMaxIdLength) + " bytes");
  if (uri.substr(0, kScheme.size()) != kScheme) return bad("must start with spiffe://");
  std::string_view rest = uri.substr(kScheme.size());

  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 5 || parts[1] != "ns" || parts[3] != "sa")
    return bad("must be exactly spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>");
  if (!validTrustDomain(parts[0])) return bad("trust domain must be non-empty [a-z0-9._-]");
  if (!validSegment(parts[2])) return bad("namespace must be a non-empty [A-Za-z0-9._-] segment");
  if (!validSegment(parts[4])) return bad("service account must be a non-empty [A-Za-z0-9._-] segment");
  return SpiffeId{std::string(parts[0]), std::string(parts[2]), std::string(parts[4])};
}

ossl::X509StorePtr TrustBundle::makeStore() const {
  ossl::X509StorePtr store(X509_STORE_new());
  if (!store) return store;
  for (const auto& root : roots) {
    // Takes its own reference; a duplicate root is harmless.
    X509_STORE_add_cert(store.get(), root.get());
  }
  ERR_clear_error();
  return store;
}

Result<SpiffeId> peerIdentity(X509* leaf, std::string_view trustDomain) {
  if (!leaf) return makeError("peer presented no certificate");
  int crit = 0;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, nullptr)));
  if (!names) {
    ERR_clear_error();
    if (crit == -1) return makeError("peer certificate has no URI SAN (no subjectAltName extension)");
    if (crit == -2) return makeError("peer certificate has more than one subjectAltName extension");
    return makeError("peer certificate has a malformed subjectAltName extension");
  }

  std::vector<std::string> uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
  }
  if (uris.empty()) return makeError("peer certificate has no URI SAN");
  if (uris.size() > 1) {
    std::string all;
    for (const auto& u : uris) all += (all.empty() ? "" : ", ") + quoted(u);
    return makeError("peer certificate has " + std::to_string(uris.size()) + " URI SANs (" + all +
                     "); exactly one is required");
  }

  auto id = SpiffeId::parse(uris[0]);
  if (!id) return withContext(id.error(), "peer URI SAN is not a SPIFFE ID");
  if (id->trustDomain != trustDomain)
    return makeError("peer identity " + id->uri() + " is in trust domain \"" + id->trustDomain + "\", not \"" +
                     std::string(trustDomain) + "\"");
  return id;
}

}  // namespace warren::identity
