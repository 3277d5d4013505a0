// What a peer sends for the CA to read: a CSR at enrollment and renewal, a
// certificate in files and on connections. Any bytes are refused or parsed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string pem(reinterpret_cast<const char*>(data), size);
  auto key = purser::CsrPublicKeyDer(pem);
  if (key.ok() && key->empty()) __builtin_trap();
  auto cert = purser::ParseCert(pem);
  if (cert.ok()) (void)purser::VerifyCert(pem, pem);
  return 0;
}
