// purser-server's configuration file (/etc/purser/purser-server.conf): one
// `key = value` a line, the key being a flag's name, e.g.
//   listen = 0.0.0.0:7443   # a comment may follow after a space
// Lines starting with '#' and blank lines are ignored. Every flag of the
// program can be set there except `config` and Abseil's own (help, flagfile,
// ...); a flag given on the command line wins over the file.
#pragma once
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace purser::server {

struct ConfigEntry {
  std::string key;
  std::string value;
  int line = 0;
};

// Parses a file's text (no flag is touched). Errors name `path`:line: a line
// that is not `key = value`, a key that is not a flag's name or is set twice.
absl::StatusOr<std::vector<ConfigEntry>> ParseConfig(absl::string_view text,
                                                     const std::string& path);

// The names of the flags given in argv ("--name=v", "--name v", "-name",
// "--noname" for a bool), up to a lone "--".
absl::flat_hash_set<std::string> FlagsOnCommandLine(int argc, char** argv);

// Reads `path` and sets every flag it names, except those in `keep` (given on
// the command line); settable flags the file does not name (and not in keep)
// return to their defaults, so that reading an edited file again gives what a
// restart would. All or nothing: after an error (unreadable file, bad line,
// unknown key, bad value: each named by path:line and key) no flag has
// changed. Returns the names of the flags whose value changed.
absl::StatusOr<std::vector<std::string>> ApplyConfigFile(
    const std::string& path, const absl::flat_hash_set<std::string>& keep);

struct ConfigChanges {
  std::vector<std::string> applied;  // flags now set to a new value
  std::vector<std::string> pending;  // left as they are though the file now says otherwise
};

// Reads `path` again for a running server: sets the flags in `reloadable` as
// ApplyConfigFile does and leaves every other flag as it is, since the server
// uses the values it started with; those whose value in the file (or default,
// when the file no longer names them) differs from the value in use are
// returned in `pending`, at every reload until a restart. Errors as for
// ApplyConfigFile, and then no flag has changed.
absl::StatusOr<ConfigChanges> ReloadConfigFile(const std::string& path,
                                               const absl::flat_hash_set<std::string>& keep,
                                               const absl::flat_hash_set<std::string>& reloadable);

}  // namespace purser::server
