#include "server/server_cert.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "shared/files.h"
#include "tests/test_util.h"

namespace purser::server {
namespace {

constexpr int64_t kHour = 3600;

TEST(ServerCertificate, RenewsForTheSameNamesAndKeyOnceAThirdIsLeft) {
  testing::ScratchDir scratch;
  DataDirOptions options;
  options.extra_names = {"purser.example.org", "10.1.2.3"};
  options.server_cert_seconds = 3 * kHour;
  auto dir = OpenOrInitDataDir(scratch.Sub("data"), options);
  ASSERT_TRUE(dir.ok()) << dir.status();
  FakeClock clock(absl::ToUnixMillis(absl::Now()));
  ServerCertificate cert(*dir, 3 * kHour, 0, {"added.example.org"}, &clock);
  CertInfo before = cert.current();
  EXPECT_EQ(cert.check_every_seconds(), 60);

  EXPECT_FALSE(*cert.RenewIfDue());
  clock.AdvanceMs(110 * 60 * 1000);  // 70 minutes left: more than a third
  EXPECT_FALSE(*cert.RenewIfDue());
  clock.AdvanceMs(20 * 60 * 1000);  // 50 minutes left
  ASSERT_TRUE(*cert.RenewIfDue());

  CertInfo after = cert.current();
  EXPECT_NE(after.serial_hex, before.serial_hex);
  EXPECT_EQ(after.public_key_der, before.public_key_der);  // the same key
  EXPECT_NEAR(after.not_after_ms, clock.NowMs() + 3 * kHour * 1000, 2000);
  for (const auto& n : before.dns_names) {
    EXPECT_NE(std::find(after.dns_names.begin(), after.dns_names.end(), n), after.dns_names.end());
  }
  EXPECT_NE(std::find(after.dns_names.begin(), after.dns_names.end(), "added.example.org"),
            after.dns_names.end());
  EXPECT_EQ(after.ip_addresses, before.ip_addresses);
  // Written in place, and still the directory's: it verifies under ca.pem
  // at the clock's time and goes with server.key.
  std::string on_file = *ReadFile(dir->server_cert_path());
  EXPECT_EQ(ParseCert(on_file)->serial_hex, after.serial_hex);
  EXPECT_TRUE(VerifyCert(on_file, dir->ca_cert_pem, clock.NowMs()).ok());
  EXPECT_TRUE(CheckKeyMatchesCert(dir->server_key_pem, on_file).ok());
  EXPECT_FALSE(*cert.RenewIfDue());  // not due again for two hours
  ASSERT_TRUE(WriteFileAtomic(dir->db_path, "").ok());
  EXPECT_TRUE(OpenOrInitDataDir(scratch.Sub("data"), options).ok());
}

TEST(ServerCertificate, AnExpiredCertificateIsRenewedNotRefused) {
  testing::ScratchDir scratch;
  DataDirOptions options;
  options.server_cert_seconds = kHour;
  auto dir = OpenOrInitDataDir(scratch.Sub("data"), options);
  ASSERT_TRUE(dir.ok());
  FakeClock clock(absl::ToUnixMillis(absl::Now()) + 5 * kHour * 1000);  // down for hours
  ServerCertificate cert(*dir, kHour, 10 * 60, {}, &clock);
  ASSERT_TRUE(*cert.RenewIfDue());
  EXPECT_TRUE(VerifyCert(*ReadFile(dir->server_cert_path()), dir->ca_cert_pem, clock.NowMs()).ok());
}

TEST(ServerCertificate, RenewalMarginMustLeaveARenewedCertificateNotDue) {
  EXPECT_TRUE(ServerCertificate::CheckLifetime(kHour, 0).ok());
  EXPECT_TRUE(ServerCertificate::CheckLifetime(kHour, kHour - 1).ok());
  EXPECT_FALSE(ServerCertificate::CheckLifetime(kHour, kHour).ok());
  EXPECT_FALSE(ServerCertificate::CheckLifetime(kHour, -1).ok());
  EXPECT_FALSE(ServerCertificate::CheckLifetime(10, 0).ok());
}

}  // namespace
}  // namespace purser::server
