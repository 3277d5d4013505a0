#include "db/audit_scope.h"

namespace purser::db {
namespace {
thread_local AuditScope* current = nullptr;
}  // namespace

AuditScope::AuditScope(v1::AuditEntry entry) : entry_(std::move(entry)), outer_(current) {
  current = this;
}

AuditScope::~AuditScope() { current = outer_; }

AuditScope* AuditScope::Current() { return current; }

}  // namespace purser::db
