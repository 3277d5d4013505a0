#include "shared/x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "absl/strings/str_cat.h"
#include "shared/crypto.h"
#include "shared/status_macros.h"

namespace purser {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

Bio MemBio(const std::string& s) {
  return Bio(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<Pkey> ReadKey(const std::string& pem) {
  Bio bio = MemBio(pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError("not a PEM private key");
  return key;
}

absl::StatusOr<X509Ptr> ReadCert(const std::string& pem) {
  Bio bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError("not a PEM certificate");
  return cert;
}

// Every certificate in `pem`, at least one.
absl::StatusOr<std::vector<X509Ptr>> ReadCerts(const std::string& pem) {
  Bio bio = MemBio(pem);
  std::vector<X509Ptr> out;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();  // the read that ended the loop
  if (out.empty()) return absl::InvalidArgumentError("not a PEM certificate");
  return out;
}

absl::StatusOr<std::string> PubKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return absl::InternalError("cannot encode public key");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) return false;
  return std::string(group) == "prime256v1" || std::string(group) == "P-256";
}

int64_t AsnTimeMs(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string NameEntry(X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return absl::InternalError(absl::StrCat("cannot build extension ", value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

// Builds and signs a certificate for `subject_key` (public part used) by `signer_key`.
absl::StatusOr<IssuedCert> Build(EVP_PKEY* subject_key, EVP_PKEY* signer_key, X509* issuer,
                                 const CertSpec& spec) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  std::string serial = RandomBytes(16);
  serial[0] = static_cast<char>(serial[0] & 0x7f);  // positive
  if (serial[0] == 0) serial[0] = 1;                // no leading zero byte
  Bn bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  // Back-date a little for clock skew between server and endpoints.
  time_t now = spec.now_ms > 0 ? static_cast<time_t>(spec.now_ms / 1000) : time(nullptr);
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -300, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(spec.validity_seconds),
                   &now);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Purser"), -1, -1, 0);
  if (!spec.organizational_unit.empty()) {
    X509_NAME_add_entry_by_txt(
        name, "OU", MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(spec.organizational_unit.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer_cert = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert));
  X509_set_pubkey(cert.get(), subject_key);
  if (spec.is_ca) {
    if (auto st = AddExt(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
        !st.ok())
      return st;
    if (auto st = AddExt(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
        !st.ok())
      return st;
  } else {
    if (auto st = AddExt(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
        !st.ok())
      return st;
    if (auto st = AddExt(cert.get(), issuer_cert, NID_key_usage, "critical,digitalSignature");
        !st.ok())
      return st;
    // A client certificate must never pass for the server's, nor the reverse.
    const char* usage = spec.organizational_unit == "server" ? "serverAuth" : "clientAuth";
    if (auto st = AddExt(cert.get(), issuer_cert, NID_ext_key_usage, usage); !st.ok()) return st;
  }
  std::string san;
  for (const auto& d : spec.dns_names) absl::StrAppend(&san, san.empty() ? "" : ",", "DNS:", d);
  for (const auto& ip : spec.ip_addresses) absl::StrAppend(&san, san.empty() ? "" : ",", "IP:", ip);
  if (!san.empty()) {
    if (auto st = AddExt(cert.get(), issuer_cert, NID_subject_alt_name, san); !st.ok()) return st;
  }
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) <= 0) {
    return absl::InternalError("cannot sign certificate");
  }
  Bio out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), cert.get());
  IssuedCert issued;
  issued.pem = BioString(out.get());
  issued.serial_hex = HexEncode(serial);
  issued.not_after_ms = AsnTimeMs(X509_get0_notAfter(cert.get()));
  return issued;
}

}  // namespace

absl::StatusOr<std::string> GenerateKeyPem() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError("cannot generate ECDSA P-256 key");
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("cannot encode private key");
  }
  return BioString(out.get());
}

absl::StatusOr<std::string> PublicKeyDerOfKey(const std::string& key_pem) {
  auto key = ReadKey(key_pem);
  if (!key.ok()) return key.status();
  return PubKeyDer(key->get());
}

absl::StatusOr<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name) {
  auto key = ReadKey(key_pem);
  if (!key.ok()) return key.status();
  Req req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_REQ_set_pubkey(req.get(), key->get());
  if (X509_REQ_sign(req.get(), key->get(), EVP_sha256()) <= 0) {
    return absl::InternalError("cannot sign CSR");
  }
  Bio out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), req.get());
  return BioString(out.get());
}

absl::StatusOr<std::string> CsrPublicKeyDer(const std::string& csr_pem) {
  Bio bio = MemBio(csr_pem);
  Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return absl::InvalidArgumentError("csr_pem: not a PEM certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) return absl::InvalidArgumentError("csr_pem: no public key");
  if (X509_REQ_verify(req.get(), key) != 1) {
    return absl::InvalidArgumentError("csr_pem: signature does not verify");
  }
  if (!IsP256(key)) return absl::InvalidArgumentError("csr_pem: key must be ECDSA P-256");
  return PubKeyDer(key);
}

absl::StatusOr<IssuedCert> MakeSelfSignedCa(const std::string& key_pem, const CertSpec& spec) {
  auto key = ReadKey(key_pem);
  if (!key.ok()) return key.status();
  return Build(key->get(), key->get(), nullptr, spec);
}

absl::StatusOr<IssuedCert> IssueCert(const std::string& ca_key_pem, const std::string& ca_cert_pem,
                                     const std::string& subject_public_key_der,
                                     const CertSpec& spec) {
  auto ca_key = ReadKey(ca_key_pem);
  if (!ca_key.ok()) return ca_key.status();
  auto ca_cert = ReadCert(ca_cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(subject_public_key_der.data());
  Pkey subject(d2i_PUBKEY(nullptr, &p, static_cast<long>(subject_public_key_der.size())));
  if (!subject) return absl::InvalidArgumentError("subject public key: not DER");
  return Build(subject.get(), ca_key->get(), ca_cert->get(), spec);
}

absl::StatusOr<CertInfo> ParseCert(const std::string& cert_pem) {
  auto cert = ReadCert(cert_pem);
  if (!cert.ok()) return cert.status();
  CertInfo info;
  X509_NAME* name = X509_get_subject_name(cert->get());
  info.common_name = NameEntry(name, NID_commonName);
  info.organizational_unit = NameEntry(name, NID_organizationalUnitName);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert->get());
  Bn bn(ASN1_INTEGER_to_BN(serial, nullptr));
  std::string raw(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(raw.data()));
  info.serial_hex = HexEncode(raw);
  info.not_before_ms = AsnTimeMs(X509_get0_notBefore(cert->get()));
  info.not_after_ms = AsnTimeMs(X509_get0_notAfter(cert->get()));
  auto der = PubKeyDer(X509_get0_pubkey(cert->get()));
  if (!der.ok()) return der.status();
  info.public_key_der = *der;
  uint32_t flags = X509_get_extension_flags(cert->get());
  info.is_ca = (flags & EXFLAG_CA) != 0;
  info.can_sign_certs =
      (flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(cert->get()) & KU_KEY_CERT_SIGN) != 0;
  using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
  Names sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans.get(), i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* d = n->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(d)),
                                  static_cast<size_t>(ASN1_STRING_length(d)));
    } else if (n->type == GEN_IPADD) {
      char buf[64] = {0};
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      int af = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(af, ASN1_STRING_get0_data(ip), buf, sizeof(buf)) != nullptr) {
        info.ip_addresses.emplace_back(buf);
      }
    }
  }
  return info;
}

absl::StatusOr<std::vector<std::string>> SplitCerts(const std::string& pem) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ReadCerts(pem));
  std::vector<std::string> out;
  for (const auto& c : certs) {
    Bio bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), c.get());
    out.push_back(BioString(bio.get()));
  }
  return out;
}

absl::Status VerifyCert(const std::string& cert_pem, const std::string& trust_pem, int64_t at_ms) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ReadCerts(cert_pem));
  ASSIGN_OR_RETURN(std::vector<X509Ptr> trusted, ReadCerts(trust_pem));
  Store store(X509_STORE_new());
  for (const auto& t : trusted) X509_STORE_add_cert(store.get(), t.get());
  struct FreeStack {
    void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }  // not the certificates
  };
  std::unique_ptr<STACK_OF(X509), FreeStack> untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].get());
  StoreCtx ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get());
  if (at_ms == kAnyTime) {
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  } else if (at_ms > 0) {
    X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(at_ms / 1000));
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("certificate does not verify: ",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  }
  return absl::OkStatus();
}

absl::Status VerifyIssuedBy(const std::string& cert_pem, const std::string& issuer_pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  ASSIGN_OR_RETURN(X509Ptr issuer, ReadCert(issuer_pem));
  if (X509_check_issued(issuer.get(), cert.get()) != X509_V_OK ||
      X509_verify(cert.get(), X509_get0_pubkey(issuer.get())) != 1) {
    return absl::PermissionDeniedError("certificate was not issued by this server's CA");
  }
  return absl::OkStatus();
}

absl::Status CheckKeyMatchesCert(const std::string& key_pem, const std::string& cert_pem) {
  ASSIGN_OR_RETURN(Pkey key, ReadKey(key_pem));
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError("the private key is not the certificate's");
  }
  return absl::OkStatus();
}

}  // namespace purser
