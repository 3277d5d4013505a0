// The server's certificate authority (ECDSA P-256): issues agent, operator and
// server certificates. The role goes in the subject's OU, the identity in CN.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "shared/x509.h"

namespace purser::server {

inline constexpr int64_t kAgentCertSeconds = 30LL * 24 * 3600;
inline constexpr int64_t kOperatorCertSeconds = 365LL * 24 * 3600;

class CertificateAuthority {
 public:
  // Above an intermediate CA: `trust_pem` is what peers trust (the root),
  // and `chain_pem` (the intermediates) follows every certificate issued, so
  // that it verifies under the root alone. Empty: a self-signed CA.
  CertificateAuthority(std::string ca_cert_pem, std::string ca_key_pem, std::string trust_pem = "",
                       std::string chain_pem = "")
      : cert_pem_(std::move(ca_cert_pem)),
        key_pem_(std::move(ca_key_pem)),
        trust_pem_(trust_pem.empty() ? cert_pem_ : std::move(trust_pem)),
        chain_pem_(std::move(chain_pem)) {}

  // A certificate naming `endpoint_id` for the CSR's key (checked: P-256, self-signed).
  absl::StatusOr<IssuedCert> IssueAgent(const std::string& csr_pem, const std::string& endpoint_id,
                                        int64_t validity_seconds) const;
  // A certificate for an operator `name` with `role` (admin, operator, viewer).
  absl::StatusOr<IssuedCert> IssueOperator(const std::string& public_key_der,
                                           const std::string& name, const std::string& role,
                                           int64_t validity_seconds) const;
  const std::string& cert_pem() const { return cert_pem_; }
  const std::string& key_pem() const { return key_pem_; }
  // The CA bundle agents and operators trust (ca.pem).
  const std::string& trust_pem() const { return trust_pem_; }

 private:
  std::string cert_pem_;
  std::string key_pem_;
  std::string trust_pem_;
  std::string chain_pem_;
};

// The endpoint id for an agent's public key: the first 16 bytes of its SHA-256, hex.
std::string EndpointIdForKey(const std::string& public_key_der);

}  // namespace purser::server
