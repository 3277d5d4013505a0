// An audit row that rides with the change it records. While an AuditScope is
// open on a thread, the first write that thread makes through a Store also
// inserts the row, in the same transaction: a crash can never leave a change
// without its audit row. Whoever opened the scope appends the row itself when
// nothing was written (a refusal, a read).
#pragma once
#include <cstdint>

#include "purser/v1/operator.pb.h"

namespace purser::db {

class AuditScope {
 public:
  explicit AuditScope(v1::AuditEntry entry);
  ~AuditScope();
  AuditScope(const AuditScope&) = delete;
  AuditScope& operator=(const AuditScope&) = delete;

  // The scope open on the calling thread, or nullptr.
  static AuditScope* Current();
  const v1::AuditEntry& entry() const { return entry_; }
  // Set by the store once the row has committed with a change.
  bool written() const { return written_; }
  int64_t row_id() const { return row_id_; }
  void MarkWritten(int64_t row_id) {
    written_ = true;
    row_id_ = row_id;
  }

 private:
  v1::AuditEntry entry_;
  AuditScope* outer_;
  bool written_ = false;
  int64_t row_id_ = 0;
};

}  // namespace purser::db
