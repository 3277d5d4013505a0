#include "client/journal.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "shared/files.h"

namespace purser::client {

absl::StatusOr<v1::Journal> JournalFile::Load() const {
  v1::Journal j;
  if (!PathExists(path_)) return j;
  auto data = ReadFile(path_);
  if (!data.ok()) return data.status();
  if (!j.ParseFromString(*data)) {
    return absl::DataLossError(absl::StrCat("journal ", path_, " is corrupt"));
  }
  return j;
}

absl::Status JournalFile::Save(const v1::Journal& journal) const {
  return WriteFileAtomic(path_, journal.SerializeAsString(), 0600);
}

absl::Status JournalFile::Clear() const {
  if (::unlink(path_.c_str()) != 0 && PathExists(path_)) {
    return absl::InternalError(absl::StrCat("cannot remove ", path_));
  }
  return absl::OkStatus();
}

}  // namespace purser::client
