// The agent's journal (one small file, rewritten atomically): what it is
// doing with which (job, attempt), so a restart resumes instead of guessing.
#pragma once
#include <string>

#include "absl/status/statusor.h"
#include "purser/v1/agent_local.pb.h"

namespace purser::client {

class JournalFile {
 public:
  explicit JournalFile(std::string path) : path_(std::move(path)) {}
  // The journal, empty when there is none.
  absl::StatusOr<v1::Journal> Load() const;
  absl::Status Save(const v1::Journal& journal) const;
  absl::Status Clear() const;

 private:
  std::string path_;
};

}  // namespace purser::client
