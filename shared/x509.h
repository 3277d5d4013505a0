// X.509 and keys over OpenSSL 3: ECDSA P-256 keys, CSRs, certificates.
// All inputs and outputs are PEM strings; nothing here touches files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace purser {

// A fresh ECDSA P-256 private key, PKCS#8 PEM.
absl::StatusOr<std::string> GenerateKeyPem();
// A CSR for `key_pem` with subject CN=`common_name`.
absl::StatusOr<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name);
// Checks a CSR's self-signature and that its key is ECDSA P-256; returns the
// public key in DER (SubjectPublicKeyInfo).
absl::StatusOr<std::string> CsrPublicKeyDer(const std::string& csr_pem);

struct CertSpec {
  std::string common_name;
  std::string organizational_unit;  // the role: agent, admin, operator, viewer, server
  int64_t validity_seconds = 0;
  bool is_ca = false;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

struct IssuedCert {
  std::string pem;
  std::string serial_hex;
  int64_t not_after_ms = 0;
};

// A self-signed CA certificate for `key_pem`.
absl::StatusOr<IssuedCert> MakeSelfSignedCa(const std::string& key_pem, const CertSpec& spec);
// A certificate for `subject_public_key_der`, signed by the CA.
absl::StatusOr<IssuedCert> IssueCert(const std::string& ca_key_pem, const std::string& ca_cert_pem,
                                     const std::string& subject_public_key_der,
                                     const CertSpec& spec);
// The public key of a private key, DER.
absl::StatusOr<std::string> PublicKeyDerOfKey(const std::string& key_pem);

struct CertInfo {
  std::string common_name;
  std::string organizational_unit;
  std::string serial_hex;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  std::string public_key_der;
};

absl::StatusOr<CertInfo> ParseCert(const std::string& cert_pem);
// OK when `cert_pem` is signed by `ca_cert_pem` and within its validity.
absl::Status VerifyCert(const std::string& cert_pem, const std::string& ca_cert_pem);

}  // namespace purser
