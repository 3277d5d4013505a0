#include "shared/logging.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace purser {
namespace {

struct LogState {
  absl::Mutex mu;
  LogLevel level = LogLevel::kInfo;
  bool journal = false;
  std::string prefix;
  std::vector<std::string> secrets;
};

LogState& State() {
  static LogState* state = new LogState();
  return *state;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "D";
    case LogLevel::kInfo:
      return "I";
    case LogLevel::kWarning:
      return "W";
    case LogLevel::kError:
      return "E";
  }
  return "?";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 7;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kError:
      return 3;
  }
  return 6;
}

// One record per line: control characters from callers (a hostname, a
// token id, a plan name) are escaped so they cannot forge or hide lines.
std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char u = static_cast<unsigned char>(text[i]);
    unsigned char next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    unsigned char third = i + 2 < text.size() ? static_cast<unsigned char>(text[i + 2]) : 0;
    if (u == '\\') {
      out += "\\\\";  // so that an escape in the text is told from ours
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrFormat("\\x%02x", u);
    } else if (u == 0xc2 && next >= 0x80 && next <= 0x9f) {  // C1 controls
      out += absl::StrFormat("\\u%04x", next);
      ++i;
    } else if (u == 0xe2 && next == 0x80 && (third == 0xa8 || third == 0xa9)) {  // U+2028/9
      out += absl::StrFormat("\\u%04x", 0x2000 + third - 0x80);
      i += 2;
    } else {
      out += static_cast<char>(u);
    }
  }
  return out;
}

}  // namespace

void SetLogLevel(LogLevel level) {
  absl::MutexLock lock(&State().mu);
  State().level = level;
}

void SetLogToJournal(bool journal) {
  absl::MutexLock lock(&State().mu);
  State().journal = journal;
}

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  unsigned long long dev = 0, ino = 0;
  if (stream == nullptr || std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st;
  if (::fstat(2, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

bool AbslParseFlag(absl::string_view text, LogLevel* level, std::string* error) {
  if (text == "debug") {
    *level = LogLevel::kDebug;
  } else if (text == "info") {
    *level = LogLevel::kInfo;
  } else if (text == "warning") {
    *level = LogLevel::kWarning;
  } else if (text == "error") {
    *level = LogLevel::kError;
  } else {
    *error = "must be debug, info, warning or error";
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void SetLogPrefix(std::string prefix) {
  absl::MutexLock lock(&State().mu);
  State().prefix = std::move(prefix);
}

void RegisterSecret(std::string_view value) {
  if (value.size() < 6) return;  // too short to mask without mangling ordinary text
  absl::MutexLock lock(&State().mu);
  for (const auto& s : State().secrets) {
    if (s == value) return;
  }
  State().secrets.emplace_back(value);
}

std::string Redact(std::string_view text) {
  std::vector<std::string> secrets;
  {
    absl::MutexLock lock(&State().mu);
    secrets = State().secrets;
  }
  std::string out(text);
  for (const auto& s : secrets) {
    out = absl::StrReplaceAll(out, {{s, "[REDACTED]"}});
  }
  return out;
}

void LogLine(LogLevel level, std::string_view message) {
  std::string prefix;
  bool journal = false;
  {
    absl::MutexLock lock(&State().mu);
    if (level < State().level) return;
    prefix = State().prefix;
    journal = State().journal;
  }
  std::string text = EscapeControl(Redact(message));
  std::string line = journal ? absl::StrFormat("<%d>%s%s\n", SyslogPriority(level), prefix, text)
                             : absl::StrFormat("%s %s %s%s\n", LevelName(level),
                                               absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                                                absl::UTCTimeZone()),
                                               prefix, text);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace purser
