// The single writer with group commit: many callers' writes run in one
// transaction on one thread, and each caller returns only after that
// transaction committed. A failing write is rolled back alone (savepoint);
// a failing commit fails every write of its group. A full disk fails writes
// with RESOURCE_EXHAUSTED and is logged once (see shared/disk_full.h).
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/sqlite/connection.h"
#include "shared/disk_full.h"

namespace purser::db {

class Writer {
 public:
  using WriteFn = std::function<absl::Status(Connection&)>;

  // Told how long each group's transaction took and how many writes it held
  // (on the writer thread, after the commit).
  using CommitObserver = std::function<void(double seconds, int writes)>;

  static constexpr int kDefaultMaxGroup = 512;

  explicit Writer(std::unique_ptr<Connection> conn, int max_group = kDefaultMaxGroup,
                  CommitObserver on_commit = nullptr);
  // Finishes every queued write, then stops.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Runs `fn` inside a write transaction; blocks until it is durable.
  absl::Status Run(WriteFn fn);

  struct Stats {
    int64_t transactions = 0;
    int64_t writes = 0;
  };
  Stats stats() const;

 private:
  struct Pending {
    WriteFn fn;
    absl::Status result;
    bool done = false;
  };
  void Loop();
  void CommitGroup(std::vector<Pending*>& group);
  // Tells the log about a full disk (once), and about space coming back.
  void NoteSpace(const std::vector<Pending*>& group, bool wrote);

  std::unique_ptr<Connection> conn_;
  const int max_group_;
  const CommitObserver on_commit_;
  DiskFullLog disk_log_;
  mutable absl::Mutex mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace purser::db
