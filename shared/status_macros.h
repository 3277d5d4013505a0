// Small helpers Abseil 20220623 lacks: early return on error.
#pragma once
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PURSER_CONCAT_INNER(a, b) a##b
#define PURSER_CONCAT(a, b) PURSER_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status _purser_st = (expr);      \
    if (!_purser_st.ok()) return _purser_st; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from an OK StatusOr or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  PURSER_ASSIGN_OR_RETURN_IMPL(PURSER_CONCAT(_purser_sor_, __LINE__), lhs, expr)
#define PURSER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
