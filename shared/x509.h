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
  int64_t now_ms = 0;  // the issuing time, from the caller's clock; 0: the system's
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
  bool is_ca = false;           // basicConstraints CA:TRUE
  bool can_sign_certs = false;  // keyUsage present with keyCertSign
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// The first certificate of `cert_pem`.
absl::StatusOr<CertInfo> ParseCert(const std::string& cert_pem);
// Every PEM certificate in `pem`, in order, each re-encoded as PEM.
absl::StatusOr<std::vector<std::string>> SplitCerts(const std::string& pem);
// OK when the first certificate of `cert_pem` chains to one in `trust_pem`
// (one or more certificates), through the certificates that follow it in
// `cert_pem` (its chain, as a server presents it), all within their validity
// (at `at_ms` when given, else now). The one check of "this certificate is
// ours" for everything that reads a data directory.
inline constexpr int64_t kAnyTime = -1;  // at_ms: dates not checked
absl::Status VerifyCert(const std::string& cert_pem, const std::string& trust_pem,
                        int64_t at_ms = 0);
// OK when the first certificate of `cert_pem` was signed by the key of
// `issuer_pem`'s first certificate, whose subject names it as issuer.
absl::Status VerifyIssuedBy(const std::string& cert_pem, const std::string& issuer_pem);
// OK when `key_pem` is the private key of `cert_pem`'s first certificate.
absl::Status CheckKeyMatchesCert(const std::string& key_pem, const std::string& cert_pem);

}  // namespace purser
