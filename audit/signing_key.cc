#include "audit/signing_key.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "common/file_io.h"

namespace warren::audit {

namespace {
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, ossl::Deleter<EVP_MD_CTX_free>>;

Result<ossl::EvpPkeyPtr> requireP256(ossl::EvpPkeyPtr key, const std::string& what) {
  char group[32] = {};
  size_t len = 0;
  if (!EVP_PKEY_is_a(key.get(), "EC") ||
      EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) != 1 ||
      std::string_view(group, len) != "prime256v1")
    return makeError(what + ": not an EC P-256 key (make one with: openssl ecparam -name prime256v1 -genkey -noout)");
  return key;
}

ossl::BioPtr memoryBio(std::string_view bytes) {
  return ossl::BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}
}  // namespace

Result<ossl::EvpPkeyPtr> loadSigningKey(const std::string& path) {
  auto pem = readFile(path);
  if (!pem) return pem.error();
  auto bio = memoryBio(*pem);
  ossl::EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return ossl::sslError("audit key " + path);
  return requireP256(std::move(key), "audit key " + path);
}

Result<ossl::EvpPkeyPtr> parseVerifyingKey(std::string_view pem) {
  auto bio = memoryBio(pem);
  ossl::EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    auto certBio = memoryBio(pem);
    ossl::X509Ptr cert(PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr));
    if (!cert) return ossl::sslError("neither a PEM public key nor a certificate");
    key.reset(X509_get_pubkey(cert.get()));
    if (!key) return ossl::sslError("certificate's public key");
  }
  return requireP256(std::move(key), "verifying key");
}

Result<ossl::EvpPkeyPtr> loadVerifyingKey(const std::string& path) {
  auto pem = readFile(path);
  if (!pem) return pem.error();
  auto key = parseVerifyingKey(*pem);
  if (!key) return makeError(path + ": " + key.error().message);
  return key;
}

Result<std::string> publicKeyPem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return ossl::sslError("writing the public key");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> sign(EVP_PKEY* key, std::string_view message) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(message.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, message.size()) != 1)
    return ossl::sslError("audit checkpoint signature");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, message.size()) != 1)
    return ossl::sslError("audit checkpoint signature");
  sig.resize(len);
  return sig;
}

bool verify(EVP_PKEY* key, std::string_view message, std::string_view der) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace warren::audit
