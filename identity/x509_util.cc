#include "identity/x509_util.h"

#include <openssl/pem.h>

namespace warren::identity {

Result<std::vector<ossl::X509Ptr>> parseCertsPem(std::string_view pem, const std::string& what) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ossl::sslError(what + ": BIO_new_mem_buf");
  std::vector<ossl::X509Ptr> certs;
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  // Reading stops with "no start line" at the end of the input; anything else means a
  // block that looked like PEM but did not decode.
  unsigned long err = ERR_peek_last_error();
  if (err && !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE))
    return ossl::sslError(what + ": malformed PEM certificate");
  ERR_clear_error();
  if (certs.empty()) return makeError(what + ": no PEM certificate found");
  return certs;
}

std::string certToPem(X509* cert) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<ossl::EvpPkeyPtr> parseKeyPem(std::string_view pem, const std::string& what) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // A callback that supplies no passphrase: an encrypted key fails here rather than
  // OpenSSL prompting on the tunnel's terminal.
  auto noPassphrase = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr;
  if (!key) return ossl::sslError(what + ": no usable PEM private key (encrypted keys are not supported)");
  return ossl::EvpPkeyPtr(key);
}

Result<std::string> keyToPem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ossl::sslError("encoding private key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str());
  if (!ext) return ossl::sslError(std::string("building extension ") + OBJ_nid2sn(nid) + "=" + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return ossl::sslError(std::string("adding extension ") + OBJ_nid2sn(nid));
  return okStatus();
}

Result<GeneralNamesPtr> uriSubjectAltName(const std::string& uri) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  if (!names || !name || !ia5 || ASN1_STRING_set(ia5, uri.data(), static_cast<int>(uri.size())) != 1) {
    GENERAL_NAME_free(name);
    ASN1_IA5STRING_free(ia5);
    return ossl::sslError("building URI SAN " + uri);
  }
  GENERAL_NAME_set0_value(name, GEN_URI, ia5);
  if (sk_GENERAL_NAME_push(names.get(), name) <= 0) {
    GENERAL_NAME_free(name);
    return ossl::sslError("building URI SAN " + uri);
  }
  return names;
}

}  // namespace warren::identity
