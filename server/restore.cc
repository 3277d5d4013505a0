#include "server/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/data_dir.h"
#include "shared/dir_lock.h"
#include "shared/files.h"
#include "shared/status_macros.h"

namespace purser::server {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// A new directory beside `dir` (the same file system, so the swap is a
// rename), unique by mkdtemp: no name an earlier run may have used.
absl::StatusOr<std::string> MakeUniqueDir(const std::string& prefix) {
  std::string tmpl = absl::StrCat(prefix, "-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) return Errno("cannot create", tmpl);
  return tmpl;
}

// Only for a directory this run created with MakeUniqueDir and that holds
// nothing but what this run extracted.
void RemoveOurs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

absl::StatusOr<RestoreResult> RestoreDataDir(const std::string& from, const std::string& dir_arg,
                                             bool force, const std::string& secrets_key_file) {
  std::string dir = dir_arg;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  RestoreResult result;
  // All of the backup is checked before anything is touched.
  ASSIGN_OR_RETURN(VerifiedBackup backup, VerifyBackup(from, secrets_key_file));
  result.backup = backup.summary;

  struct stat st;
  bool exists = ::stat(dir.c_str(), &st) == 0;
  if (exists && !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
  }
  std::unique_ptr<DirLock> lock;
  bool empty = true;
  if (exists) {
    auto locked = DirLock::Acquire(dir);
    if (!locked.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot restore: ", locked.status().message(), "; stop it first"));
    }
    lock = std::move(*locked);
    empty = IsEmptyDir(dir);
    if (!empty && !force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " is not empty: refusing to replace it (--force keeps it as ",
          dir, ".before-restore-<time> and restores into a new one)"));
    }
  } else {
    size_t slash = dir.find_last_of('/');
    if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash)));
  }
  // Where the backup is extracted. With a data directory to replace, it is
  // the name the old one is kept under: after the exchange below, the old
  // data is already there, and a kill at any point leaves the old data under
  // a name nothing removes. Without one (or without RENAME_EXCHANGE), a
  // `<dir>.restore-tmp-*` left by a kill makes the server refuse to create a
  // new data directory at `dir` (server/data_dir.cc).
  std::string stamp = absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
  ASSIGN_OR_RETURN(std::string tmp,
                   MakeUniqueDir(exists ? absl::StrCat(dir, ".before-restore-", stamp)
                                        : absl::StrCat(dir, ".restore-tmp")));
  absl::Status extracted = ExtractBackup(backup, tmp);
  if (!extracted.ok()) {
    RemoveOurs(tmp);  // created by this run, holding only what it extracted
    return absl::Status(extracted.code(),
                        absl::StrCat("restoring into ", tmp, ": ", extracted.message(),
                                     " (nothing was changed in ", dir, ")"));
  }
  RETURN_IF_ERROR(SyncParentDir(tmp));
  if (!exists) {
    if (::rename(tmp.c_str(), dir.c_str()) != 0) return Errno("cannot rename to", dir);
    RETURN_IF_ERROR(SyncParentDir(dir));
    return result;
  }
  std::string aside = tmp;
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) {
      absl::Status st = Errno("cannot swap in", dir);
      RemoveOurs(tmp);
      return st;
    }
    // A file system without the exchange: two renames. The extracted copy
    // first takes a restore-tmp name, so that while `dir` is missing the
    // server refuses to create a new one there.
    ASSIGN_OR_RETURN(std::string staged, MakeUniqueDir(absl::StrCat(dir, ".restore-tmp")));
    if (::rename(tmp.c_str(), staged.c_str()) != 0) return Errno("cannot rename to", staged);
    RETURN_IF_ERROR(SyncParentDir(staged));
    if (::rename(dir.c_str(), aside.c_str()) != 0) return Errno("cannot rename to", aside);
    if (::rename(staged.c_str(), dir.c_str()) != 0) return Errno("cannot rename to", dir);
  }
  RETURN_IF_ERROR(SyncParentDir(dir));
  if (empty) {
    // Nothing of the operator's was in it (at most a lock file): no need to
    // keep it. rmdir, not remove_all: anything else in it stays.
    ::unlink(absl::StrCat(aside, "/", DirLock::kFileName).c_str());
    if (::rmdir(aside.c_str()) != 0) result.moved_aside = aside;
  } else {
    result.moved_aside = aside;
  }
  return result;
}

}  // namespace purser::server
