// The server's own TLS certificate, renewed by the server before it expires:
// for the same names, by the same CA, for the same key. The TLS layer reads
// server.pem again on its own (server.cc), so new connections get the new
// certificate while those made before keep going.
//
// The key stays: the TLS layer reads server.key and server.pem as two files,
// with no check that they match, so a new key would open a window in which a
// handshake pairs the new key with the old certificate and fails. Keeping
// the key makes a renewal one atomic rename of server.pem. (A new key is a
// new data directory's, or restore's, business.)
#pragma once
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/data_dir.h"
#include "shared/clock.h"
#include "shared/x509.h"

namespace purser::server {

class ServerCertificate {
 public:
  // Renews when less than `renew_before_seconds` of the certificate is left;
  // new certificates live `lifetime_seconds`. `extra_names` are added to the
  // names the certificate already has.
  ServerCertificate(DataDir dir, int64_t lifetime_seconds, int64_t renew_before_seconds,
                    std::vector<std::string> extra_names, const Clock* clock);
  // Checks the flags: renewing must leave a certificate that is not due at once.
  static absl::Status CheckLifetime(int64_t lifetime_seconds, int64_t renew_before_seconds);

  // Renews server.pem when it is due, or when the chain it carries is not the
  // data directory's (the intermediate was renewed). True when it renewed.
  absl::StatusOr<bool> RenewIfDue();
  // The certificate being served (the one on file after the last renewal).
  CertInfo current() const;
  // How often RenewIfDue is worth calling, and how soon the TLS layer must see
  // a new file: a tenth of the renewal margin, between 1 s and 60 s.
  int64_t check_every_seconds() const;

 private:
  const DataDir dir_;
  const int64_t lifetime_seconds_;
  const int64_t renew_before_seconds_;
  const std::vector<std::string> extra_names_;
  const Clock* clock_;
  mutable absl::Mutex mu_;
  std::string pem_ ABSL_GUARDED_BY(mu_);
  CertInfo info_ ABSL_GUARDED_BY(mu_);
};

}  // namespace purser::server
