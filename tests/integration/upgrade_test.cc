// Upgrades end to end: this server starts on the data directory of every
// released schema (tests/upgrade/fixtures/schema-NNN, made by that release's
// own server, purserctl and agents), migrates it to the newest schema, shows
// operators everything the old version held, and goes on working with it: a
// new agent enrolls with a token the old version made and onboards with the
// secret the old version sealed, and an agent enrolled before the upgrade
// carries on with its key and state directory. A database newer than the
// server is refused, untouched.
//
// The fixtures were made on one day, and some of what they hold expires; the
// test must pass on any day. In its own copy (never the fixture), each is
// brought to the day the test runs, as if the upgrade came soon after the old
// version made it (ExtendToken, ReissueFromNow):
// - the unused token (old versions capped tokens at 90 days): its expiry is
//   moved on by as long as it had, as for a token made today;
// - admin.pem (1 year) and the old agent's cert.pem (30 days): issued again by
//   the fixture's own CA for the same key and subject, as long as before, from
//   now (what the TLS layer sees from then on is the new certificate; the
//   old one is still checked to be the CA's and the key's, dates aside);
// - server.pem (2 years): left as it is; the server renews its certificate at
//   start when it is due, expired or not (server/server_cert.h);
// - ca.pem: ten years, until 2036 (tests/upgrade/README.md).
// Keys, subjects, the CA, the token's secret and row, sealed secrets and every
// other row stay the old version's.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/migrations.h"
#include "grpcpp/client_context.h"
#include "shared/files.h"
#include "shared/plan/plan_loader.h"
#include "shared/status_macros.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<int> kReleasedSchemas = {1, 2, 3, 4, 5, 6, 9};

std::string FixtureDir(int schema) {
  char name[32];
  std::snprintf(name, sizeof name, "schema-%03d", schema);
  return std::string(PURSER_UPGRADE_FIXTURES_DIR) + "/" + name;
}

// A fixture's manifest.txt (tests/upgrade/manifest.sh).
struct Manifest {
  int schema = 0;
  std::map<std::string, int64_t> tables;         // name -> rows
  std::map<std::string, std::string> hostnames;  // endpoint id -> hostname
  std::map<std::string, int> endpoint_states;    // endpoint id -> EndpointState
  std::map<std::string, int> campaign_states;    // campaign id -> CampaignState
  std::multiset<std::string> certs;              // "role subject valid|revoked"
  std::set<std::string> secrets;
};

Manifest ReadManifest(const std::string& path) {
  Manifest m;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f[0] == "schema" && f.size() == 2) m.schema = std::stoi(f[1]);
    if (f[0] == "table" && f.size() == 3) m.tables[f[1]] = std::stoll(f[2]);
    if (f[0] == "endpoint" && f.size() == 4) {
      m.hostnames[f[1]] = f[2];
      m.endpoint_states[f[1]] = std::stoi(f[3]);
    }
    if (f[0] == "campaign" && f.size() == 3) m.campaign_states[f[1]] = std::stoi(f[2]);
    if (f[0] == "cert" && f.size() == 4) m.certs.insert(absl::StrCat(f[1], " ", f[2], " ", f[3]));
    if (f[0] == "secret" && f.size() == 2) m.secrets.insert(f[1]);
  }
  return m;
}

// Copies a fixture tree; files owner-only, as the server and agents demand
// of their keys (git keeps no modes).
void CopyPrivate(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  fs::permissions(to, fs::perms::owner_all);
  for (const auto& e : fs::directory_iterator(from)) {
    std::string dst = to + "/" + e.path().filename().string();
    if (e.is_directory()) {
      CopyPrivate(e.path().string(), dst);
    } else {
      fs::copy_file(e.path(), dst, fs::copy_options::overwrite_existing);
      fs::permissions(dst, fs::perms::owner_read | fs::perms::owner_write);
    }
  }
}

int64_t Sql(const std::string& db, const std::string& query) {
  sqlite3* h = nullptr;
  int64_t out = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, query.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return out;
}

// Moves the expiry of token `token_id` in the database at `db` to as long
// from now as it had from its making: the old version made it to be used
// within its lifetime, and an upgrade that came within it would find it valid.
absl::Status ExtendToken(const std::string& db, const std::string& token_id) {
  sqlite3* h = nullptr;
  absl::Status st;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    st = absl::InternalError(absl::StrCat(db, ": ", sqlite3_errmsg(h)));
  } else {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h,
                           "UPDATE tokens SET expires_ms = ? + (expires_ms - created_ms) "
                           "WHERE id = ?",
                           -1, &s, nullptr) != SQLITE_OK) {
      st = absl::InternalError(absl::StrCat(db, ": ", sqlite3_errmsg(h)));
    } else {
      sqlite3_bind_int64(s, 1, absl::ToUnixMillis(absl::Now()));
      sqlite3_bind_text(s, 2, token_id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(s) != SQLITE_DONE) {
        st = absl::InternalError(absl::StrCat(db, ": ", sqlite3_errmsg(h)));
      } else if (sqlite3_changes(h) != 1) {
        st = absl::NotFoundError(absl::StrCat(db, ": no token ", token_id));
      }
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return st;
}

// Issues the certificate at `cert_path` again, by the CA of `data_dir`
// (ca.key, ca.pem), for the key at `key_path` (left untouched): the same
// subject, as long as before, from now. The old certificate must be that CA's
// and that key's, dates aside.
absl::Status ReissueFromNow(const std::string& data_dir, const std::string& cert_path,
                            const std::string& key_path) {
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(data_dir + "/ca.pem"));
  ASSIGN_OR_RETURN(std::string ca_key, ReadFile(data_dir + "/ca.key"));
  ASSIGN_OR_RETURN(std::string old_pem, ReadFile(cert_path));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path));
  ASSIGN_OR_RETURN(CertInfo old, ParseCert(old_pem));
  ASSIGN_OR_RETURN(std::string public_key, PublicKeyDerOfKey(key_pem));
  if (public_key != old.public_key_der) {
    return absl::FailedPreconditionError(absl::StrCat(key_path, " is not the key of ", cert_path));
  }
  if (auto st = VerifyCert(old_pem, ca_pem, kAnyTime); !st.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(cert_path, ": ", st.message()));
  }
  CertSpec spec;
  spec.common_name = old.common_name;
  spec.organizational_unit = old.organizational_unit;
  spec.validity_seconds = (old.not_after_ms - old.not_before_ms) / 1000;
  ASSIGN_OR_RETURN(IssuedCert issued, IssueCert(ca_key, ca_pem, public_key, spec));
  return WriteFileAtomic(cert_path, issued.pem, 0600);
}

// "subject (role): not_before .. not_after" of the certificate at `path`.
std::string Validity(const std::string& path) {
  auto pem = ReadFile(path);
  auto info = pem.ok() ? ParseCert(*pem) : absl::StatusOr<CertInfo>(pem.status());
  if (!info.ok()) return absl::StrCat(path, ": ", info.status().ToString());
  return absl::StrCat(info->common_name, " (", info->organizational_unit,
                      "): ", absl::FormatTime(absl::FromUnixMillis(info->not_before_ms)), " .. ",
                      absl::FormatTime(absl::FromUnixMillis(info->not_after_ms)));
}

grpc::ClientContext* Ctx(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

std::string Trimmed(const std::string& s) {
  return std::string(absl::StripTrailingAsciiWhitespace(s));
}

class UpgradeTest : public ::testing::TestWithParam<int> {};

TEST_P(UpgradeTest, ServerTakesOverAReleasedDataDirectory) {
  const std::string fixture = FixtureDir(GetParam());
  ASSERT_TRUE(fs::exists(fixture + "/server/purser.db"))
      << fixture << " is missing: make it with tests/upgrade/make_fixture.sh";
  Manifest m = ReadManifest(fixture + "/manifest.txt");
  ASSERT_EQ(m.schema, GetParam());
  ASSERT_FALSE(m.hostnames.empty());

  TempDir dir;
  // Re-verification off: endpoints onboarded before schema 4 were never
  // verified and would be queued for it at once, moving their states on.
  TestServer server(dir.path(), {"--reverify_every_ms=0"});
  CopyPrivate(fixture + "/server", server.data_dir());
  if (fs::exists(fixture + "/plans")) {  // plans operators uploaded to the old server
    for (const auto& e : fs::directory_iterator(fixture + "/plans")) {
      fs::copy_file(e.path(), dir.Sub("plans/" + e.path().filename().string()),
                    fs::copy_options::skip_existing);
    }
  }
  // What expires in the fixture, brought to today (see the top of this file).
  const std::string token = Trimmed(Slurp(fixture + "/token-unused"));
  ASSERT_NE(token.find('.'), std::string::npos) << "token-unused: not <id>.<secret>";
  const std::string token_id = token.substr(0, token.find('.'));
  const std::string db = server.data_dir() + "/purser.db";
  auto extended = ExtendToken(db, token_id);
  ASSERT_TRUE(extended.ok()) << extended;
  const std::string admin_pem = server.data_dir() + "/admin.pem";
  auto reissued = ReissueFromNow(server.data_dir(), admin_pem, server.data_dir() + "/admin.key");
  ASSERT_TRUE(reissued.ok()) << reissued;
  std::cerr << "schema " << GetParam() << ": token " << token_id << " expires "
            << absl::FormatTime(absl::FromUnixMillis(
                   Sql(db, "SELECT expires_ms FROM tokens WHERE id = '" + token_id + "'")))
            << "; " << Validity(admin_pem) << "\n";
  absl::Time start = absl::Now();
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  std::cerr << "schema " << GetParam() << ": migrated and serving in "
            << absl::ToInt64Milliseconds(absl::Now() - start) << " ms\n";
  EXPECT_EQ(Sql(db, "SELECT MAX(version) FROM schema_migrations"), db::Migrations().back().version);
  auto admin = server.Admin();

  // Every endpoint, as an operator sees it: same id, hostname and state (the
  // run in flight may have moved on if its lease ran out meanwhile).
  auto listed = server.List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::map<std::string, v1::Endpoint> by_id;
  for (const auto& e : *listed) by_id[e.id()] = e;
  ASSERT_EQ(by_id.size(), m.hostnames.size());
  for (const auto& [id, host] : m.hostnames) {
    ASSERT_EQ(by_id.count(id), 1u) << host;
    EXPECT_EQ(by_id[id].hostname(), host);
    if (host != "win7-lyon-hung") {
      EXPECT_EQ(static_cast<int>(by_id[id].state()), m.endpoint_states[id]) << host;
    } else {  // still running its step, or queued again if the lease ran out
      EXPECT_TRUE(by_id[id].state() == v1::ENDPOINT_STATE_IN_PROGRESS ||
                  by_id[id].state() == v1::ENDPOINT_STATE_QUEUED)
          << by_id[id].ShortDebugString();
    }
    auto got = server.Get(id);
    ASSERT_TRUE(got.ok()) << host << ": " << got.status();
    if (host != "win10-paris-01") {
      EXPECT_FALSE(got->jobs().empty()) << host << " lost its run";
    }
  }
  std::string out;
  ASSERT_EQ(RunCtl(server, "endpoints list", &out), 0) << out;
  for (const auto& [id, host] : m.hostnames) EXPECT_NE(out.find(host), std::string::npos) << out;

  if (!m.campaign_states.empty()) {
    v1::ListCampaignsResponse campaigns;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->ListCampaigns(Ctx(&ctx), {}, &campaigns).ok());
    std::map<std::string, int> states;
    for (const auto& c : campaigns.campaigns()) states[c.id()] = c.state();
    EXPECT_EQ(states, m.campaign_states);
  }
  {
    v1::ListCertificatesResponse certs;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->ListCertificates(Ctx(&ctx), {}, &certs).ok());
    std::multiset<std::string> seen;
    for (const auto& c : certs.certificates()) {
      seen.insert(absl::StrCat(c.role(), " ", c.subject(), " ",
                               c.revoked_unix_ms() > 0 ? "revoked" : "valid"));
    }
    EXPECT_EQ(seen, m.certs);
  }
  if (m.tables.count("audit")) {
    v1::ListAuditRequest req;
    req.set_page_size(1000);
    v1::ListAuditResponse audit;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->ListAudit(Ctx(&ctx), req, &audit).ok());
    EXPECT_GE(static_cast<int64_t>(audit.entries_size()), m.tables["audit"]);
  }

  // Artifacts the old version stored stay; the current plan's others are added.
  std::set<std::string> have;
  {
    v1::ListArtifactsResponse arts;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->ListArtifacts(Ctx(&ctx), {}, &arts).ok());
    for (const auto& a : arts.artifacts()) have.insert(a.name());
    EXPECT_EQ(static_cast<int64_t>(have.size()),
              m.tables.count("artifacts") ? m.tables["artifacts"] : 0);
  }
  auto plan = LoadPlanFile(std::string(PURSER_PLANS_DIR) + "/mde-downlevel-onboard.textproto");
  ASSERT_TRUE(plan.ok());
  for (const auto& a : plan->artifacts()) {
    if (!have.count(a.name())) {
      ASSERT_TRUE(server.Upload(a.name(), "stand-in " + a.name()).ok());
    }
  }
  const std::map<std::string, std::string> params = {{"workspace_id", "upgraded-workspace"},
                                                     {"workspace_key", "mde-workspace-key"}};
  const std::string key = Trimmed(Slurp(fixture + "/workspace.key"));
  ASSERT_FALSE(key.empty());
  std::string token_file = dir.Sub("token");
  ASSERT_TRUE(WriteFileAtomic(token_file, token, 0600).ok());

  // The secret the old version sealed reaches the steps that use it.
  auto raw = EnrollRaw(server, token, Win7Inventory("raw-after-upgrade"), dir.Sub("raw"));
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_TRUE(server.StartRun("mde-downlevel-onboard", {raw->identity.endpoint_id}, params).ok());
  bool key_seen = false;
  for (int polls = 0; polls < 60 && !key_seen; ++polls) {
    v1::WaitForWorkRequest req;
    req.set_wait_seconds(3);
    v1::WaitForWorkResponse resp;
    grpc::ClientContext ctx;
    if (!raw->stub->WaitForWork(Ctx(&ctx), req, &resp).ok()) continue;
    if (resp.reboot()) {
      v1::CheckInRequest in;
      *in.mutable_inventory() = Win7Inventory("raw-after-upgrade");
      v1::CheckInResponse ack;
      grpc::ClientContext c2;
      raw->stub->CheckIn(Ctx(&c2), in, &ack);
      continue;
    }
    if (!resp.has_job()) continue;
    for (const auto& [k, v] : resp.job().params()) key_seen |= Trimmed(v) == key;
    v1::ReportResultRequest report;
    report.set_job_id(resp.job().job_id());
    report.set_attempt(resp.job().attempt());
    report.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
    v1::ReportResultResponse ack;
    grpc::ClientContext c3;
    raw->stub->ReportResult(Ctx(&c3), report, &ack);
  }
  EXPECT_TRUE(key_seen) << "the workspace key sealed before the upgrade did not reach a job";

  // A new agent enrolls with a token made before the upgrade and onboards.
  auto agent = StartAgent(server, dir.Sub("new-agent"), token_file, "win81-x64-ent");
  ASSERT_TRUE(agent.ok());
  std::string new_id;
  ASSERT_TRUE(WaitUntil([&] {
    auto l = server.List();
    for (const auto& e : l.ok() ? *l : std::vector<v1::Endpoint>{}) {
      if (e.hostname() == "win81-x64-ent") new_id = e.id();
    }
    return !new_id.empty();
  })) << (*agent)->Log();
  auto run = server.StartRun("mde-downlevel-onboard", {new_id}, params);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto e = server.Get(new_id);
        return e.ok() && e->endpoint().state() == v1::ENDPOINT_STATE_ONBOARDED;
      },
      absl::Seconds(60)))
      << server.Get(new_id)->endpoint().ShortDebugString() << "\n"
      << (*agent)->Log();

  // An agent enrolled by the old version carries on with its state directory
  // (its certificate issued again, see the top): the same endpoint checks in,
  // nothing enrolls anew.
  if (fs::exists(fixture + "/agents/win81-lyon-01")) {
    std::string old_id;
    for (const auto& [id, host] : m.hostnames) {
      if (host == "win81-lyon-01") old_id = id;
    }
    int64_t seen_before = by_id[old_id].last_seen_unix_ms();
    CopyPrivate(fixture + "/agents/win81-lyon-01", dir.Sub("old-agent"));
    const std::string cert = dir.Sub("old-agent/cert.pem");
    auto reissued = ReissueFromNow(server.data_dir(), cert, dir.Sub("old-agent/key.pem"));
    ASSERT_TRUE(reissued.ok()) << reissued;
    std::cerr << "schema " << GetParam() << ": old agent " << Validity(cert) << "\n";
    auto old_agent = StartAgent(server, dir.Sub("old-agent"), dir.Sub("no-token"), "win81-x64-ent",
                                {"--sim_hostname=win81-lyon-01"});
    ASSERT_TRUE(old_agent.ok());
    EXPECT_TRUE(WaitUntil([&] {
      auto e = server.Get(old_id);
      return e.ok() && e->endpoint().last_seen_unix_ms() > seen_before;
    })) << (*old_agent)->Log();
    auto l = server.List();
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->size(), m.hostnames.size() + 2) << "only the two new agents enrolled";
  }

  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << server.Log();
  // No row of the old version is lost (new ones were added above).
  for (const auto& [table, rows] : m.tables) {
    int64_t now = Sql(db, "SELECT COUNT(*) FROM \"" + table + "\"");
    if (now < 0) continue;  // a table a later migration replaced
    EXPECT_GE(now, rows) << table;
  }
  EXPECT_GE(Sql(db, "SELECT COUNT(*) FROM schema_migrations"),
            static_cast<int64_t>(db::Migrations().size()));
}

INSTANTIATE_TEST_SUITE_P(ReleasedSchemas, UpgradeTest, ::testing::ValuesIn(kReleasedSchemas),
                         [](const auto& info) { return absl::StrCat("Schema", info.param); });

// A database written by a newer server: this one refuses to start, says why,
// and leaves the file exactly as it was.
TEST(UpgradeRefusalTest, DatabaseNewerThanTheServerIsRefusedUntouched) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  server.Kill(SIGTERM);
  ASSERT_EQ(server.Wait(), 0) << server.Log();
  const std::string db = server.data_dir() + "/purser.db";
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "INSERT INTO schema_migrations VALUES (999, 'future', 0)", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  ASSERT_FALSE(fs::exists(db + "-wal") && fs::file_size(db + "-wal") > 0);
  std::string before = Slurp(db);
  ASSERT_FALSE(before.empty());
  EXPECT_FALSE(server.Start().ok());
  EXPECT_NE(server.Wait(), 0);
  EXPECT_NE(server.Log().find(absl::StrCat(
                "database ", db, " has schema version 999, newer than this server knows (",
                db::Migrations().back().version, "): upgrade the server")),
            std::string::npos)
      << server.Log();
  EXPECT_EQ(Slurp(db), before);
  EXPECT_FALSE(fs::exists(db + "-wal") && fs::file_size(db + "-wal") > 0);
}

}  // namespace
}  // namespace purser::testing
