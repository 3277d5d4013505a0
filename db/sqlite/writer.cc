#include "db/sqlite/writer.h"

namespace purser::db {

Writer::Writer(std::unique_ptr<Connection> conn, int max_group)
    : conn_(std::move(conn)), max_group_(max_group), thread_([this] { Loop(); }) {}

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
    CommitGroup(group);
    absl::MutexLock lock(&mu_);
    stats_.transactions++;
    stats_.writes += static_cast<int64_t>(group.size());
    for (Pending* p : group) p->done = true;
    group.clear();
  }
}

void Writer::CommitGroup(std::vector<Pending*>& group) {
  absl::Status begin = conn_->ExecScript("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (Pending* p : group) p->result = begin;
    return;
  }
  for (Pending* p : group) {
    absl::Status st = conn_->ExecScript("SAVEPOINT w");
    if (st.ok()) st = p->fn(*conn_);
    if (st.ok()) {
      st = conn_->ExecScript("RELEASE w");
    } else {
      conn_->ExecScript("ROLLBACK TO w; RELEASE w").IgnoreError();
    }
    p->result = st;
  }
  absl::Status commit = conn_->ExecScript("COMMIT");
  if (!commit.ok()) {
    conn_->ExecScript("ROLLBACK").IgnoreError();
    for (Pending* p : group) {
      if (p->result.ok()) p->result = commit;
    }
  }
}

}  // namespace purser::db
