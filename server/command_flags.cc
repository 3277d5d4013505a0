#include "server/command_flags.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace purser::server {

absl::StatusOr<std::map<std::string, std::string>> ParseCommandFlags(
    int argc, char** argv, const std::vector<FlagSpec>& specs) {
  std::map<std::string, std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help") {
      out["help"] = "true";
      continue;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (name == s.name) spec = &s;
    }
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (spec->boolean) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": true or false"));
      }
    } else if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("--", name, ": no value"));
      value = argv[++i];
    }
    out[name] = value;
  }
  return out;
}

void PrintCommandHelp(const std::string& usage, const std::vector<FlagSpec>& specs) {
  std::cerr << "usage: " << usage << "\n";
  for (const FlagSpec& s : specs) std::cerr << "  --" << s.name << "\t" << s.help << "\n";
}

int ParseCommand(int argc, char** argv, const std::string& usage,
                 const std::vector<FlagSpec>& specs, const std::vector<std::string>& required,
                 std::map<std::string, std::string>* flags) {
  auto parsed = ParseCommandFlags(argc, argv, specs);
  if (!parsed.ok()) {
    std::cerr << "purser-server " << argv[0] << ": " << parsed.status().message() << "\n";
    PrintCommandHelp(usage, specs);
    return 2;
  }
  if (parsed->count("help")) {
    PrintCommandHelp(usage, specs);
    return 0;
  }
  for (const auto& name : required) {
    if ((*parsed)[name].empty()) {
      std::cerr << "purser-server " << argv[0] << ": --" << name << " is required\n";
      PrintCommandHelp(usage, specs);
      return 2;
    }
  }
  *flags = std::move(*parsed);
  return -1;
}

}  // namespace purser::server
