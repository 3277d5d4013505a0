#include "server/ca.h"

#include "shared/crypto.h"

namespace purser::server {

std::string EndpointIdForKey(const std::string& public_key_der) {
  return Sha256Hex(public_key_der).substr(0, 32);
}

absl::StatusOr<IssuedCert> CertificateAuthority::IssueAgent(const std::string& csr_pem,
                                                            const std::string& endpoint_id,
                                                            int64_t validity_seconds) const {
  auto der = CsrPublicKeyDer(csr_pem);
  if (!der.ok()) return der.status();
  CertSpec spec;
  spec.common_name = endpoint_id;
  spec.organizational_unit = "agent";
  spec.validity_seconds = validity_seconds;
  auto cert = IssueCert(key_pem_, cert_pem_, *der, spec);
  if (cert.ok()) cert->pem += chain_pem_;
  return cert;
}

absl::StatusOr<IssuedCert> CertificateAuthority::IssueOperator(const std::string& public_key_der,
                                                               const std::string& name,
                                                               const std::string& role,
                                                               int64_t validity_seconds) const {
  CertSpec spec;
  spec.common_name = name;
  spec.organizational_unit = role;
  spec.validity_seconds = validity_seconds;
  auto cert = IssueCert(key_pem_, cert_pem_, public_key_der, spec);
  if (cert.ok()) cert->pem += chain_pem_;
  return cert;
}

}  // namespace purser::server
