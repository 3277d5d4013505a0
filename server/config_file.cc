#include "server/config_file.h"

#include <functional>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shared/files.h"
#include "shared/status_macros.h"

namespace purser::server {
namespace {

// The program's own flags: not Abseil's (help, flagfile, fromenv, ...), and
// not `config`, which names the file.
bool Settable(const absl::CommandLineFlag& flag) {
  return !flag.IsRetired() && flag.Name() != "config" &&
         !absl::StrContains(flag.Filename(), "absl/flags/");
}

bool IsKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string Quote(absl::string_view text) {
  constexpr size_t kMax = 80;
  std::string out = absl::CHexEscape(text.substr(0, kMax));
  return absl::StrCat("\"", out, text.size() > kMax ? "...\"" : "\"");
}

}  // namespace

absl::StatusOr<std::vector<ConfigEntry>> ParseConfig(absl::string_view text,
                                                     const std::string& path) {
  std::vector<ConfigEntry> entries;
  absl::flat_hash_map<std::string, int> line_of;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    auto where = [&] { return absl::StrCat(path, ":", number, ": "); };
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    // A comment may end a line after whitespace; values never hold " #".
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '#' && absl::ascii_isspace(static_cast<unsigned char>(line[i - 1]))) {
        line = absl::StripTrailingAsciiWhitespace(line.substr(0, i));
        break;
      }
    }
    size_t eq = line.find('=');
    absl::string_view key =
        absl::StripAsciiWhitespace(line.substr(0, eq == absl::string_view::npos ? 0 : eq));
    if (eq == absl::string_view::npos || !IsKey(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "expected `key = value`, got ", Quote(line)));
    }
    std::string name(key);
    if (name == "config") {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "config: names this file; it cannot be set in it"));
    }
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || !Settable(*flag)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "unknown key \"", name, "\" (purser-server --help lists them)"));
    }
    auto [it, added] = line_of.emplace(name, number);
    if (!added) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), name, ": set twice (also on line ", it->second, ")"));
    }
    entries.push_back({name, std::string(absl::StripAsciiWhitespace(line.substr(eq + 1))), number});
  }
  return entries;
}

absl::flat_hash_set<std::string> FlagsOnCommandLine(int argc, char** argv) {
  absl::flat_hash_set<std::string> names;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;  // a value, or a positional argument
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string name(arg.substr(0, arg.find('=')));
    // "--noflag" sets a bool flag "flag" to false.
    if (absl::StartsWith(name, "no") && absl::FindCommandLineFlag(name) == nullptr) {
      name = name.substr(2);
    }
    names.insert(std::move(name));
  }
  return names;
}

namespace {

// Sets the flags from the file at `path` (all or nothing, see ApplyConfigFile);
// those `apply` rejects are only tried, then set back, and named in `pending`
// when the file's value differs from theirs.
absl::Status SetFlagsFromFile(const std::string& path, const absl::flat_hash_set<std::string>& keep,
                              const std::function<bool(const std::string&)>& apply,
                              ConfigChanges* changes) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(std::vector<ConfigEntry> entries, ParseConfig(text, path));
  struct Wanted {
    absl::CommandLineFlag* flag;
    std::string before;
    std::string value;
    int line;  // 0: the default
  };
  std::map<std::string, Wanted> wanted;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (Settable(*flag) && !keep.contains(name)) {
      wanted[std::string(name)] = {flag, flag->CurrentValue(), flag->DefaultValue(), 0};
    }
  }
  for (const ConfigEntry& e : entries) {
    auto it = wanted.find(e.key);
    if (it == wanted.end()) continue;  // given on the command line: that wins
    it->second.value = e.value;
    it->second.line = e.line;
  }
  for (auto it = wanted.begin(); it != wanted.end(); ++it) {
    std::string error;
    if (!it->second.flag->ParseFrom(it->second.value, &error)) {
      for (auto back = wanted.begin(); back != it; ++back) {  // all or nothing
        std::string ignored;
        back->second.flag->ParseFrom(back->second.before, &ignored);
      }
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", it->second.line, ": ", it->first, ": ", error));
    }
  }
  for (auto& [name, w] : wanted) {
    if (w.flag->CurrentValue() == w.before) continue;
    if (apply(name)) {
      changes->applied.push_back(name);
    } else {
      changes->pending.push_back(name);
      std::string ignored;
      w.flag->ParseFrom(w.before, &ignored);  // parsed before: cannot fail
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ApplyConfigFile(
    const std::string& path, const absl::flat_hash_set<std::string>& keep) {
  ConfigChanges changes;
  RETURN_IF_ERROR(SetFlagsFromFile(
      path, keep, [](const std::string&) { return true; }, &changes));
  return changes.applied;
}

absl::StatusOr<ConfigChanges> ReloadConfigFile(const std::string& path,
                                               const absl::flat_hash_set<std::string>& keep,
                                               const absl::flat_hash_set<std::string>& reloadable) {
  ConfigChanges changes;
  RETURN_IF_ERROR(SetFlagsFromFile(
      path, keep, [&](const std::string& name) { return reloadable.contains(name); }, &changes));
  return changes;
}

}  // namespace purser::server
