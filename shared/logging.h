// Minimal leveled logging to stderr. Every line passes through the secret
// redactor: values registered with RegisterSecret() never reach the log.
#pragma once
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace purser {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void SetLogLevel(LogLevel level);
void SetLogPrefix(std::string prefix);
void LogLine(LogLevel level, std::string_view message);

// Lines for journald: each starts with its syslog priority "<N>" (sd-daemon(3))
// instead of a level letter and time, which the journal records itself.
void SetLogToJournal(bool journal);
// True when stderr is the journal stream systemd passed (JOURNAL_STREAM names
// stderr's device and inode).
bool StderrIsJournal();

// "debug", "info", "warning" or "error", as a flag: --log_level=warning.
bool AbslParseFlag(absl::string_view text, LogLevel* level, std::string* error);
std::string AbslUnparseFlag(LogLevel level);

// Remembers a secret value (>= 6 chars) so that Redact() and logs mask it.
void RegisterSecret(std::string_view value);
// Replaces every registered secret in `text` with "[REDACTED]".
std::string Redact(std::string_view text);

template <typename... Args>
void LogInfo(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kInfo, absl::StrFormat(format, args...));
}
template <typename... Args>
void LogWarning(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kWarning, absl::StrFormat(format, args...));
}
template <typename... Args>
void LogError(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kError, absl::StrFormat(format, args...));
}
template <typename... Args>
void LogDebug(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kDebug, absl::StrFormat(format, args...));
}

}  // namespace purser
