#include "tests/support/jwt_mint.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace warren::jwt::mint {
namespace {

[[noreturn]] void fail(const std::string& what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  throw std::runtime_error("mint: " + what + (e ? std::string(": ") + ERR_reason_error_string(e) : ""));
}

template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BnPtr = std::unique_ptr<BIGNUM, Freer<BN_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Freer<ECDSA_SIG_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free>>;

std::string bytes(const BIGNUM* bn, int width = 0) {
  std::string out(static_cast<size_t>(width ? width : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

BnPtr bnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) fail(std::string("reading ") + name);
  return BnPtr(bn);
}

int coordinateBytes(KeyKind kind) { return kind == KeyKind::EcP256 ? 32 : kind == KeyKind::EcP384 ? 48 : 66; }

const EVP_MD* digestFor(std::string_view alg) {
  if (alg == "EdDSA") return nullptr;
  if (alg.size() != 5) fail("no digest for " + std::string(alg));
  std::string_view bits = alg.substr(2);
  return bits == "256" ? EVP_sha256() : bits == "384" ? EVP_sha384() : bits == "512" ? EVP_sha512() : nullptr;
}

}  // namespace

SigningKey::SigningKey(KeyKind kind) : kind_(kind) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case KeyKind::Rsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)); break;
    case KeyKind::EcP256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyKind::EcP384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyKind::EcP521: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"); break;
    case KeyKind::Ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
  }
  if (!key) fail("key generation");
  key_.reset(key, EVP_PKEY_free);
}

nlohmann::json SigningKey::publicJwk(std::string_view kid, std::string_view alg, std::string_view use) const {
  nlohmann::json j;
  switch (kind_) {
    case KeyKind::Rsa2048:
      j["kty"] = "RSA";
      j["n"] = b64url(bytes(bnParam(key_.get(), OSSL_PKEY_PARAM_RSA_N).get()));
      j["e"] = b64url(bytes(bnParam(key_.get(), OSSL_PKEY_PARAM_RSA_E).get()));
      break;
    case KeyKind::EcP256:
    case KeyKind::EcP384:
    case KeyKind::EcP521:
      j["kty"] = "EC";
      j["crv"] = kind_ == KeyKind::EcP256 ? "P-256" : kind_ == KeyKind::EcP384 ? "P-384" : "P-521";
      j["x"] = b64url(bytes(bnParam(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X).get(), coordinateBytes(kind_)));
      j["y"] = b64url(bytes(bnParam(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y).get(), coordinateBytes(kind_)));
      break;
    case KeyKind::Ed25519: {
      std::string raw(32, '\0');
      size_t len = raw.size();
      if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 || len != 32)
        fail("reading the Ed25519 public key");
      j["kty"] = "OKP";
      j["crv"] = "Ed25519";
      j["x"] = b64url(raw);
      break;
    }
  }
  if (!kid.empty()) j["kid"] = kid;
  if (!alg.empty()) j["alg"] = alg;
  if (!use.empty()) j["use"] = use;
  return j;
}

std::string SigningKey::publicPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) fail("writing PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string SigningKey::publicDer() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  if (len <= 0) fail("writing DER");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string SigningKey::signDer(std::string_view alg, std::string_view input) const {
  const EVP_MD* md = digestFor(alg);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key_.get()) != 1) fail("signing init");
  if (alg.starts_with("PS") && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
    fail("PSS parameters");
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) fail("signature length");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1)
    fail("signing");
  sig.resize(len);
  return sig;
}

std::string SigningKey::sign(std::string_view alg, std::string_view input) const {
  const bool rsa = kind_ == KeyKind::Rsa2048, ed = kind_ == KeyKind::Ed25519;
  if ((alg.starts_with("RS") || alg.starts_with("PS")) != rsa || (alg == "EdDSA") != ed ||
      (alg.starts_with("ES") == (rsa || ed)))
    fail("this key cannot sign " + std::string(alg));
  std::string sig = signDer(alg, input);
  if (!alg.starts_with("ES")) return sig;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!ecdsa) fail("reading the DER ECDSA signature");
  const int n = coordinateBytes(kind_);
  return bytes(ECDSA_SIG_get0_r(ecdsa.get()), n) + bytes(ECDSA_SIG_get0_s(ecdsa.get()), n);
}

std::string b64url(std::string_view in) {
  std::string padded(4 * ((in.size() + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(padded.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  padded.resize(static_cast<size_t>(len));
  std::string out;
  for (char c : padded) {
    if (c == '=') break;
    out.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  return out;
}

Signed sign(const SigningKey& key, const nlohmann::json& header, const nlohmann::json& payload) {
  Signed s{b64url(header.dump()), b64url(payload.dump()), ""};
  s.signature = key.sign(header.at("alg").get<std::string>(), s.signingInput());
  return s;
}

std::string token(const SigningKey& key, const nlohmann::json& header, const nlohmann::json& payload) {
  return sign(key, header, payload).compact();
}

std::string hmacSha256(std::string_view secret, std::string_view input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &len))
    fail("HMAC");
  return std::string(reinterpret_cast<char*>(out), len);
}

nlohmann::json jwks(std::vector<nlohmann::json> keys) { return {{"keys", std::move(keys)}}; }

}  // namespace warren::jwt::mint
