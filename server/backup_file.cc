#include "server/backup_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "db/migrations.h"
#include "db/sqlite/connection.h"
#include "server/data_dir.h"
#include "server/secrets_key.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::server {
namespace {

using db::Connection;
using db::Stmt;

constexpr char kFormat[] = "purser-backup";
constexpr int64_t kFormatVersion = 1;
constexpr char kDb[] = "purser.db";
constexpr char kArtifacts[] = "artifacts";
constexpr char kSecretsKey[] = "secrets.key";
constexpr char kPendingSecretsKey[] = "secrets.key.new";
constexpr size_t kChunkBytes = 1 << 20;
// A restored data directory does not start without these.
const char* const kRequired[] = {"ca.pem", "ca.key", "server.pem", "server.key"};

class Sha256Stream {
 public:
  Sha256Stream() : md_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(md_.get(), EVP_sha256(), nullptr);
  }
  void Add(const std::string& data) { EVP_DigestUpdate(md_.get(), data.data(), data.size()); }
  std::string Hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md_.get(), out, &len);
    return HexEncode(std::string_view(reinterpret_cast<char*>(out), len));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md_;
};

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// What a data directory holds besides its database: top-level files (keys,
// certificates) and artifacts/<sha256>. The live database files, the lock and
// half-written temporary files are not part of it.
bool IsDataFileName(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) return false;
  if (absl::StartsWith(name, kDb) || absl::StrContains(name, ".tmp.")) return false;
  return true;
}

bool IsBackupPath(const std::string& path) {
  if (absl::StartsWith(path, "artifacts/")) return IsHex64(path.substr(10));
  return IsDataFileName(path);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) out.push_back(e->d_name);
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool IsRegular(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Copies one file into the backup, a chunk a row, hashing as it goes.
absl::Status AddFile(Connection& c, const std::string& data_dir, const std::string& rel) {
  std::string path = absl::StrCat(data_dir, "/", rel);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st;
  ::fstat(fd, &st);
  Sha256Stream sha;
  int64_t size = 0;
  absl::Status status;
  std::string buf(kChunkBytes, '\0');
  for (int64_t seq = 0;; ++seq) {
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) status = Errno("cannot read", path);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (!status.ok() || (got == 0 && seq > 0)) break;
    std::string chunk = buf.substr(0, got);
    sha.Add(chunk);
    size += static_cast<int64_t>(got);
    auto s = c.Prepare("INSERT INTO purser_backup_chunks(path, seq, data) VALUES (?, ?, ?)");
    status = s.ok() ? s->Bind(1, rel).Bind(2, seq).BindBlob(3, chunk).Exec() : s.status();
    if (!status.ok() || got < buf.size()) break;
  }
  ::close(fd);
  RETURN_IF_ERROR(status);
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO purser_backup_files(path, mode, size, sha256) "
                                     "VALUES (?, ?, ?, ?)"));
  return s.Bind(1, rel)
      .Bind(2, static_cast<int64_t>(st.st_mode & 0777))
      .Bind(3, size)
      .Bind(4, sha.Hex())
      .Exec();
}

absl::StatusOr<int64_t> QueryInt(Connection& c, const std::string& sql,
                                 const std::string& arg = "") {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare(sql));
  if (!arg.empty()) s.Bind(1, arg);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::Status PutMeta(Connection& c, const std::string& key, const std::string& value) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO purser_backup_meta(key, value) VALUES (?, ?)"));
  return s.Bind(1, key).Bind(2, value).Exec();
}

absl::Status FsyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("cannot fsync", path);
}

absl::StatusOr<int64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Errno("cannot stat", path);
  return static_cast<int64_t>(st.st_size);
}

// Builds the backup in `tmp` (an empty 0600 file). Without
// `carry_secrets_key`, secrets.key{,.new} stay out of it.
absl::StatusOr<BackupSummary> Build(const std::string& data_dir, const std::string& tmp,
                                    bool carry_secrets_key) {
  BackupSummary sum;
  {
    // A read transaction on the live database: a consistent snapshot while
    // the server goes on writing (WAL).
    ASSIGN_OR_RETURN(auto live,
                     Connection::OpenFile(absl::StrCat(data_dir, "/", kDb), SQLITE_OPEN_READWRITE));
    ASSIGN_OR_RETURN(Stmt s, live->Prepare("VACUUM INTO ?"));
    RETURN_IF_ERROR(s.Bind(1, tmp).Exec());
  }
  ASSIGN_OR_RETURN(auto c, Connection::OpenFile(tmp, SQLITE_OPEN_READWRITE));
  // One self-contained file: no -wal beside it.
  RETURN_IF_ERROR(c->ExecScript("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL"));
  ASSIGN_OR_RETURN(sum.schema_version,
                   QueryInt(*c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  ASSIGN_OR_RETURN(sum.endpoints, QueryInt(*c, "SELECT count(*) FROM endpoints"));
  RETURN_IF_ERROR(c->ExecScript(
      "BEGIN IMMEDIATE;"
      "CREATE TABLE purser_backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE purser_backup_files (path TEXT PRIMARY KEY, mode INTEGER NOT NULL, "
      "size INTEGER NOT NULL, sha256 TEXT NOT NULL);"
      "CREATE TABLE purser_backup_chunks (path TEXT NOT NULL, seq INTEGER NOT NULL, "
      "data BLOB NOT NULL, PRIMARY KEY (path, seq));"));
  for (const std::string& name : ListDir(data_dir)) {
    if (!IsDataFileName(name) || !IsRegular(absl::StrCat(data_dir, "/", name))) continue;
    if (!carry_secrets_key && (name == kSecretsKey || name == kPendingSecretsKey)) continue;
    RETURN_IF_ERROR(AddFile(*c, data_dir, name));
    sum.files++;
    sum.secrets_key_included |= name == kSecretsKey;
  }
  // Artifacts are stored before the database lists them: every one the
  // snapshot names is here.
  for (const std::string& name : ListDir(absl::StrCat(data_dir, "/", kArtifacts))) {
    std::string rel = absl::StrCat(kArtifacts, "/", name);
    if (!IsHex64(name) || !IsRegular(absl::StrCat(data_dir, "/", rel))) continue;
    RETURN_IF_ERROR(AddFile(*c, data_dir, rel));
    sum.files++;
    sum.artifacts++;
  }
  RETURN_IF_ERROR(PutMeta(*c, "format", kFormat));
  RETURN_IF_ERROR(PutMeta(*c, "format_version", absl::StrCat(kFormatVersion)));
  RETURN_IF_ERROR(PutMeta(*c, "schema_version", absl::StrCat(sum.schema_version)));
  RETURN_IF_ERROR(PutMeta(*c, "created_unix_ms", absl::StrCat(absl::ToUnixMillis(absl::Now()))));
  RETURN_IF_ERROR(PutMeta(*c, "endpoints", absl::StrCat(sum.endpoints)));
  RETURN_IF_ERROR(
      PutMeta(*c, "secrets_key", sum.secrets_key_included ? "included" : "not included"));
  RETURN_IF_ERROR(c->ExecScript("COMMIT"));
  return sum;
}

// The whole content of one stored file, checked against its row.
absl::Status ForEachChunk(Connection& c, const BackupEntry& f,
                          const std::function<absl::Status(const std::string&)>& fn) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT seq, data FROM purser_backup_chunks WHERE path = ? "
                                     "ORDER BY seq"));
  s.Bind(1, f.path);
  Sha256Stream sha;
  int64_t size = 0, next = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (s.Int(0) != next++) {
      return absl::DataLossError(absl::StrCat(f.path, ": a chunk is missing"));
    }
    std::string data = s.Text(1);
    sha.Add(data);
    size += static_cast<int64_t>(data.size());
    RETURN_IF_ERROR(fn(data));
  }
  if (size != f.size) {
    return absl::DataLossError(
        absl::StrCat(f.path, ": holds ", size, " bytes, its entry says ", f.size));
  }
  if (sha.Hex() != f.sha256) {
    return absl::DataLossError(
        absl::StrCat(f.path, ": content does not match its SHA-256 (damaged or altered)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Content(Connection& c, const BackupEntry& f) {
  std::string out;
  RETURN_IF_ERROR(ForEachChunk(c, f, [&](const std::string& d) {
    out += d;
    return absl::OkStatus();
  }));
  return out;
}

absl::Status CheckKeys(Connection& c, const std::map<std::string, BackupEntry>& files,
                       bool secrets_key_included) {
  std::map<std::string, std::string> pem;
  for (const char* name : {"ca.pem", "ca-chain.pem", "ca.key", "server.pem", "server.key",
                           "admin.pem", "admin.key", kSecretsKey}) {
    auto it = files.find(name);
    if (it == files.end()) continue;
    ASSIGN_OR_RETURN(pem[name], Content(c, it->second));
  }
  if (!ParseCert(pem["ca.pem"]).ok()) return absl::DataLossError("ca.pem: not a certificate");
  if (!ParseCert(pem["server.pem"]).ok()) {
    return absl::DataLossError("server.pem: not a certificate");
  }
  // The checks a server makes at start: server.pem signed by ca.pem, ca.key the issuer's key.
  if (absl::Status st =
          CheckDataDirCerts(pem["ca.pem"], pem["ca-chain.pem"], pem["ca.key"], pem["server.pem"]);
      !st.ok()) {
    return absl::DataLossError(st.message());
  }
  if (!CheckKeyMatchesCert(pem["server.key"], pem["server.pem"]).ok()) {
    return absl::DataLossError("server.key is not the key of server.pem");
  }
  if (files.count("admin.pem") && files.count("admin.key") &&
      !CheckKeyMatchesCert(pem["admin.key"], pem["admin.pem"]).ok()) {
    return absl::DataLossError("admin.key is not the key of admin.pem");
  }
  if (secrets_key_included && pem[kSecretsKey].size() != 32) {
    return absl::DataLossError(
        absl::StrCat("secrets.key must hold 32 bytes, has ", pem[kSecretsKey].size()));
  }
  return absl::OkStatus();
}

// Every sealed secret of the backup's database opens with `key`, or with
// `pending` if given: the rule a server follows at start (RecoverSecretsKey).
absl::Status CheckSecretsOpen(Connection& c, const std::string& key, const std::string& pending,
                              const std::string& key_name) {
  ASSIGN_OR_RETURN(int64_t has_table, QueryInt(c,
                                               "SELECT count(*) FROM sqlite_master WHERE "
                                               "type = 'table' AND name = 'secrets'"));
  if (has_table == 0) return absl::OkStatus();
  std::vector<std::pair<std::string, std::string>> sealed;
  {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT name, sealed FROM secrets ORDER BY name"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      sealed.emplace_back(s.Text(0), s.Text(1));
    }
  }
  // The first secret `k` does not open, or "" if it opens them all.
  auto first_closed = [&](const std::string& k) -> std::string {
    for (const auto& [name, value] : sealed) {
      if (!Open(k, value, name).ok()) return name;
    }
    return "";
  };
  if (!pending.empty() && first_closed(pending).empty()) return absl::OkStatus();
  std::string closed = first_closed(key);
  if (closed.empty()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "secret \"", closed, "\" does not open with ", key_name,
      pending.empty() ? "" : " (nor with its .new)",
      ": the key does not go with this database (a secrets key rotation while the backup was "
      "taken, or the wrong key file)"));
}

absl::Status Verify(Connection& c, VerifiedBackup& out, const std::string& secrets_key_file) {
  // The whole file, every page: a truncated or damaged copy stops here.
  {
    auto s = c.Prepare("PRAGMA integrity_check(20)");
    if (!s.ok()) return absl::DataLossError(absl::StrCat("damaged: ", s.status().message()));
    std::vector<std::string> problems;
    while (true) {
      auto row = s->Step();
      if (!row.ok()) return absl::DataLossError(absl::StrCat("damaged: ", row.status().message()));
      if (!*row) break;
      if (s->Text(0) != "ok") problems.push_back(s->Text(0));
    }
    if (!problems.empty()) {
      return absl::DataLossError(
          absl::StrCat("damaged: integrity_check: ", absl::StrJoin(problems, "; ")));
    }
  }
  ASSIGN_OR_RETURN(int64_t tables,
                   QueryInt(c,
                            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                            "name IN ('purser_backup_meta', 'purser_backup_files', "
                            "'purser_backup_chunks', 'schema_migrations')"));
  if (tables != 4) {
    return absl::InvalidArgumentError(
        "not a Purser backup: a SQLite database without the backup tables "
        "(purser_backup_meta, purser_backup_files, purser_backup_chunks, schema_migrations)");
  }
  std::map<std::string, std::string> meta;
  {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT key, value FROM purser_backup_meta"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      meta[s.Text(0)] = s.Text(1);
    }
  }
  if (meta["format"] != kFormat) {
    return absl::InvalidArgumentError("not a Purser backup: its format is not purser-backup");
  }
  int64_t format_version = std::atoll(meta["format_version"].c_str());
  if (format_version < 1 || format_version > kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("backup format version ", meta["format_version"], ", this server reads up to ",
                     kFormatVersion, ": install a newer purser-server"));
  }
  ASSIGN_OR_RETURN(int64_t schema,
                   QueryInt(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  const auto& migrations = db::Migrations();
  int64_t known = migrations.empty() ? 0 : migrations.back().version;
  if (schema > known) {
    return absl::FailedPreconditionError(absl::StrCat("backup has schema version ", schema,
                                                      ", this server knows up to ", known,
                                                      ": install a newer purser-server"));
  }
  if (meta["schema_version"] != absl::StrCat(schema)) {
    return absl::DataLossError(absl::StrCat("altered: its database has schema version ", schema,
                                            ", its metadata says ", meta["schema_version"]));
  }
  out.summary.schema_version = schema;
  ASSIGN_OR_RETURN(out.summary.endpoints, QueryInt(c, "SELECT count(*) FROM endpoints"));
  out.summary.secrets_key_included = meta["secrets_key"] == "included";

  std::map<std::string, BackupEntry> files;
  {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT path, mode, size, sha256 FROM purser_backup_files"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      BackupEntry f{s.Text(0), static_cast<int>(s.Int(1)), s.Int(2), s.Text(3)};
      if (!IsBackupPath(f.path)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "holds a file with a path a data directory does not have: \"", f.path, "\""));
      }
      files[f.path] = f;
    }
  }
  for (const char* name : kRequired) {
    if (!files.count(name)) {
      return absl::DataLossError(
          absl::StrCat("has no ", name, ": the data directory it would restore could not start"));
    }
  }
  if (out.summary.secrets_key_included != (files.count(kSecretsKey) == 1)) {
    return absl::DataLossError(absl::StrCat("its metadata says secrets.key is ",
                                            meta["secrets_key"], ", its files say otherwise"));
  }
  // Every file against its hash (artifacts too: a restored server serves them).
  for (const auto& [path, f] : files) {
    RETURN_IF_ERROR(ForEachChunk(c, f, [](const std::string&) { return absl::OkStatus(); }));
    out.files.push_back(f);
    out.summary.artifacts += absl::StartsWith(path, "artifacts/");
  }
  out.summary.files = static_cast<int64_t>(out.files.size());
  RETURN_IF_ERROR(CheckKeys(c, files, out.summary.secrets_key_included));
  if (out.summary.secrets_key_included) {
    ASSIGN_OR_RETURN(std::string key, Content(c, files[kSecretsKey]));
    std::string pending;
    if (auto it = files.find(kPendingSecretsKey); it != files.end()) {
      ASSIGN_OR_RETURN(pending, Content(c, it->second));
    }
    RETURN_IF_ERROR(CheckSecretsOpen(c, key, pending, "its secrets.key"));
  } else if (!secrets_key_file.empty()) {
    ASSIGN_OR_RETURN(std::string key, ReadSecretsKey(secrets_key_file));
    std::string pending;
    if (PathExists(PendingKeyPath(secrets_key_file))) {
      ASSIGN_OR_RETURN(pending, ReadSecretsKey(PendingKeyPath(secrets_key_file)));
    }
    RETURN_IF_ERROR(CheckSecretsOpen(c, key, pending, secrets_key_file));
  }
  {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("SELECT sha256, name FROM artifacts"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      if (!files.count(absl::StrCat("artifacts/", s.Text(0)))) {
        return absl::DataLossError(absl::StrCat("lacks artifact ", s.Text(1), " (sha256 ",
                                                s.Text(0), ") that its database lists"));
      }
    }
  }
  return absl::OkStatus();
}

// The artifact files and key files, written as the data directory had them.
absl::Status WriteEntry(Connection& c, const BackupEntry& f, const std::string& dir) {
  std::string path = absl::StrCat(dir, "/", f.path);
  // Keys (a pending secrets.key.new too) stay their owner's alone, whatever
  // the entry says.
  bool key = absl::StrContains(f.path, ".key");
  int mode = key ? (f.mode & 0600) | 0400 : (f.mode & 0777) | 0400;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create", path);
  ::fchmod(fd, mode);
  absl::Status st = ForEachChunk(c, f, [&](const std::string& data) -> absl::Status {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write", path);
      off += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  });
  if (st.ok() && ::fsync(fd) != 0) st = Errno("cannot fsync", path);
  ::close(fd);
  return st;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// One attempt: builds the backup in a new temporary file beside `out`,
// verifies all of it, then renames it into place.
absl::StatusOr<BackupSummary> BuildChecked(const std::string& data_dir, const std::string& out,
                                           bool force, bool carry_secrets_key,
                                           const std::string& secrets_key_file) {
  // A unique name created by this run (mkstemp: O_EXCL, 0600) before SQLite
  // writes a byte of it; nothing an earlier run left is touched.
  std::string tmp = absl::StrCat(out, ".tmp.XXXXXX");
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Errno("cannot create", tmp);
  ::fchmod(fd, 0600);
  ::close(fd);
  auto sum = Build(data_dir, tmp, carry_secrets_key);
  absl::Status st = sum.status();
  if (st.ok()) st = FsyncFile(tmp);
  if (st.ok()) st = VerifyBackup(tmp, secrets_key_file).status();
  if (st.ok()) {
    // Without --force, a file that appeared meanwhile is not replaced either.
    int rc = force ? ::rename(tmp.c_str(), out.c_str())
                   : ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out.c_str(), RENAME_NOREPLACE);
    if (rc != 0) {
      st = errno == EEXIST ? absl::AlreadyExistsError(absl::StrCat(
                                 out, " exists: refusing to overwrite it (--force replaces it)"))
                           : Errno("cannot rename to", out);
    }
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    ::unlink(absl::StrCat(tmp, "-journal").c_str());
    return st;
  }
  return sum;
}

}  // namespace

std::string BackupSummary::Line() const {
  return absl::StrCat(
      "backup ", path, ": schema version ", schema_version, ", ", endpoints, " endpoints, ",
      artifacts, " artifacts, ", files, " files, ", bytes, " bytes, sha256 ", sha256, "; ",
      secrets_key_included ? "secrets.key included"
                           : "secrets.key NOT included (it is not in the data directory): keep "
                             "the server's secrets key file, the restored server needs it");
}

absl::StatusOr<BackupSummary> WriteBackup(const std::string& data_dir, const std::string& out,
                                          bool force, const std::string& secrets_key_file) {
  std::string db_path = absl::StrCat(data_dir, "/", kDb);
  if (!PathExists(db_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", data_dir, " has no database ", kDb, ": nothing to back up"));
  }
  if (PathExists(out) && !force) {
    return absl::AlreadyExistsError(
        absl::StrCat(out, " exists: refusing to overwrite it (--force replaces it)"));
  }
  // Which key the server uses: DATA_DIR/secrets.key unless told otherwise.
  bool carry_secrets_key = secrets_key_file.empty() ||
                           SameFile(secrets_key_file, absl::StrCat(data_dir, "/", kSecretsKey));
  absl::StatusOr<BackupSummary> sum;
  for (int attempt = 1;; ++attempt) {
    sum = BuildChecked(data_dir, out, force, carry_secrets_key,
                       carry_secrets_key ? "" : secrets_key_file);
    // A secrets key rotation between the snapshot and the key copy: once more.
    if (sum.ok() || attempt == 2 || !absl::IsDataLoss(sum.status()) ||
        !absl::StrContains(sum.status().message(), "does not open with")) {
      break;
    }
  }
  if (!sum.ok()) return sum.status();
  RETURN_IF_ERROR(SyncParentDir(out));
  sum->path = out;
  ASSIGN_OR_RETURN(sum->bytes, FileSize(out));
  ASSIGN_OR_RETURN(sum->sha256, Sha256HexOfFile(out));
  return sum;
}

absl::StatusOr<VerifiedBackup> VerifyBackup(const std::string& path,
                                            const std::string& secrets_key_file) {
  auto fail = [&](const absl::Status& st) {
    return absl::Status(st.code(), absl::StrCat("backup ", path, ": ", st.message()));
  };
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errno("cannot open", path));
    char head[16];
    ssize_t n = ::read(fd, head, sizeof(head));
    ::close(fd);
    if (n == 0) return fail(absl::DataLossError("empty (0 bytes)"));
    if (n != 16 || std::memcmp(head, "SQLite format 3", 16) != 0) {
      return fail(absl::InvalidArgumentError("not a Purser backup: not a SQLite database"));
    }
  }
  auto c = Connection::OpenFile(path, SQLITE_OPEN_READONLY);
  if (!c.ok()) return fail(c.status());
  VerifiedBackup out;
  if (absl::Status st = Verify(**c, out, secrets_key_file); !st.ok()) return fail(st);
  out.summary.path = path;
  ASSIGN_OR_RETURN(out.summary.bytes, FileSize(path));
  ASSIGN_OR_RETURN(out.summary.sha256, Sha256HexOfFile(path));
  return out;
}

absl::Status ExtractBackup(const VerifiedBackup& backup, const std::string& dir) {
  const std::string& from = backup.summary.path;
  ASSIGN_OR_RETURN(auto src, Connection::OpenFile(from, SQLITE_OPEN_READONLY));
  std::string db_path = absl::StrCat(dir, "/", kDb);
  {
    int fd = ::open(db_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("cannot create", db_path);
    ::fchmod(fd, 0600);
    ::close(fd);
    ASSIGN_OR_RETURN(auto dst, Connection::OpenFile(db_path, SQLITE_OPEN_READWRITE));
    sqlite3_backup* b = sqlite3_backup_init(dst->raw(), "main", src->raw(), "main");
    if (b == nullptr)
      return dst->Error("copying the backup's database", sqlite3_errcode(dst->raw()));
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) return dst->Error("copying the backup's database", rc);
    // The fleet database alone: the backup's own tables go, and their pages.
    RETURN_IF_ERROR(
        dst->ExecScript("PRAGMA journal_mode=DELETE; DROP TABLE purser_backup_chunks; "
                        "DROP TABLE purser_backup_files; DROP TABLE purser_backup_meta; VACUUM;"));
  }
  RETURN_IF_ERROR(FsyncFile(db_path));
  bool artifacts = false;
  for (const BackupEntry& f : backup.files) {
    if (!artifacts && absl::StartsWith(f.path, "artifacts/")) {
      RETURN_IF_ERROR(MakeDirs(absl::StrCat(dir, "/", kArtifacts), 0700));
      artifacts = true;
    }
    RETURN_IF_ERROR(WriteEntry(*src, f, dir));
  }
  if (artifacts) RETURN_IF_ERROR(SyncParentDir(absl::StrCat(dir, "/", kArtifacts, "/x")));
  return SyncParentDir(absl::StrCat(dir, "/", kDb));
}

}  // namespace purser::server
