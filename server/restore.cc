#include "server/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "shared/dir_lock.h"
#include "shared/files.h"
#include "shared/status_macros.h"

namespace purser::server {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Empty but for a lock file (a server's, or ours).
bool IsEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n != DirLock::kFileName) empty = false;
  }
  ::closedir(d);
  return empty;
}

std::string AsideName(const std::string& dir) {
  std::string base =
      absl::StrCat(dir, ".before-restore-",
                   absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  std::string name = base;
  for (int i = 2; PathExists(name); ++i) name = absl::StrCat(base, "-", i);
  return name;
}

// `tmp` becomes `dir`; the old `dir` (if any) becomes `aside` in the same
// instant (RENAME_EXCHANGE), so that `dir` is never missing nor half-restored.
absl::Status Swap(const std::string& tmp, const std::string& dir, bool exists,
                  const std::string& aside) {
  if (!exists) {
    if (::rename(tmp.c_str(), dir.c_str()) != 0) return Errno("cannot rename to", dir);
    return SyncParentDir(dir);
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) return Errno("cannot swap in", dir);
    // A file system without the exchange: two renames.
    if (::rename(dir.c_str(), aside.c_str()) != 0) return Errno("cannot rename to", aside);
    if (::rename(tmp.c_str(), dir.c_str()) != 0) return Errno("cannot rename to", dir);
    return SyncParentDir(dir);
  }
  if (::rename(tmp.c_str(), aside.c_str()) != 0) return Errno("cannot rename to", aside);
  return SyncParentDir(dir);
}

}  // namespace

absl::StatusOr<RestoreResult> RestoreDataDir(const std::string& from, const std::string& dir_arg,
                                             bool force) {
  std::string dir = dir_arg;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  RestoreResult result;
  // All of the backup is checked before anything is touched.
  ASSIGN_OR_RETURN(VerifiedBackup backup, VerifyBackup(from));
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
  // Beside the target: the same file system, so the swap is a rename.
  std::string tmp = absl::StrCat(dir, ".restore-tmp-", ::getpid());
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);  // ours by name: left by a crash of this very pid
  if (::mkdir(tmp.c_str(), 0700) != 0) return Errno("cannot create", tmp);
  absl::Status extracted = ExtractBackup(backup, tmp);
  if (!extracted.ok()) {
    std::filesystem::remove_all(tmp, ec);
    return absl::Status(extracted.code(),
                        absl::StrCat("restoring into ", tmp, ": ", extracted.message(),
                                     " (nothing was changed in ", dir, ")"));
  }
  RETURN_IF_ERROR(SyncParentDir(tmp));
  std::string aside = exists ? AsideName(dir) : "";
  RETURN_IF_ERROR(Swap(tmp, dir, exists, aside));
  if (exists && empty) {
    // Nothing of the operator's was in it: no need to keep it.
    std::filesystem::remove_all(aside, ec);
  } else {
    result.moved_aside = aside;
  }
  return result;
}

}  // namespace purser::server
