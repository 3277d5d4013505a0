#include "db/sqlite/writer.h"

#include <chrono>

#include "shared/disk_full.h"

namespace purser::db {

Writer::Writer(std::unique_ptr<Connection> conn, int max_group, CommitObserver on_commit)
    : conn_(std::move(conn)),
      max_group_(max_group),
      on_commit_(std::move(on_commit)),
      disk_log_(DirOf(conn_->path())),
      thread_([this] { Loop(); }) {}

Writer::~Writer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status Writer::Run(WriteFn fn) {
  Pending p;
  p.fn = std::move(fn);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("database writer is shutting down");
  queue_.push_back(&p);
  mu_.Await(absl::Condition(
      +[](Pending* p) { return p->done; }, &p));
  return p.result;
}

Writer::Stats Writer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Writer::Loop() {
  std::vector<Pending*> group;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Writer* w)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->stopping_ || !w->queue_.empty(); },
          this));
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && static_cast<int>(group.size()) < max_group_) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    const auto begin = std::chrono::steady_clock::now();
    CommitGroup(group);
    if (on_commit_) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - begin;
      on_commit_(took.count(), static_cast<int>(group.size()));
    }
    absl::MutexLock lock(&mu_);
    stats_.transactions++;
    stats_.writes += static_cast<int64_t>(group.size());
    for (Pending* p : group) p->done = true;
    group.clear();
  }
}

void Writer::CommitGroup(std::vector<Pending*>& group) {
  const int64_t changes_before = sqlite3_total_changes64(conn_->raw());
  absl::Status begin = conn_->ExecScript("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (Pending* p : group) p->result = begin;
    NoteSpace(group, false);
    return;
  }
  absl::Status aborted;  // SQLite rolled the whole transaction back by itself
  for (Pending* p : group) {
    if (!aborted.ok()) {
      p->result = aborted;
      continue;
    }
    absl::Status st = conn_->ExecScript("SAVEPOINT w");
    if (st.ok()) st = p->fn(*conn_);
    if (st.ok()) {
      st = conn_->ExecScript("RELEASE w");
    } else if (sqlite3_get_autocommit(conn_->raw())) {
      // A full disk or an I/O error may end the transaction: the group's
      // earlier writes are gone with it, and the later ones must not run
      // outside a transaction.
      aborted = st;
      for (Pending* q : group) {
        if (q != p && q->result.ok()) q->result = st;
        if (q == p) break;
      }
    } else {
      conn_->ExecScript("ROLLBACK TO w; RELEASE w").IgnoreError();
    }
    p->result = st;
  }
  absl::Status commit = aborted.ok() ? conn_->ExecScript("COMMIT") : aborted;
  if (!commit.ok()) {
    if (!sqlite3_get_autocommit(conn_->raw())) conn_->ExecScript("ROLLBACK").IgnoreError();
    for (Pending* p : group) {
      if (p->result.ok()) p->result = commit;
    }
  }
  NoteSpace(group, commit.ok() && sqlite3_total_changes64(conn_->raw()) != changes_before);
}

void Writer::NoteSpace(const std::vector<Pending*>& group, bool wrote) {
  int refused = 0;
  for (const Pending* p : group) refused += IsDiskFull(p->result);
  if (refused > 0) {
    disk_log_.Refused(refused);
  } else if (wrote) {
    disk_log_.Succeeded();
  }
}

}  // namespace purser::db
