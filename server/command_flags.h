// Flags of one purser-server command (backup, restore, ...): each command
// takes only its own, so a typo is an error naming the flag, not a default.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace purser::server {

struct FlagSpec {
  const char* name;  // without "--"
  const char* help;
  bool boolean = false;  // given bare (--force) or as --force=true|false
};

// Parses argv[1..]: --name=value or --name value; --help is always known.
// Returns name -> value ("true" for a bare boolean).
absl::StatusOr<std::map<std::string, std::string>> ParseCommandFlags(
    int argc, char** argv, const std::vector<FlagSpec>& specs);
void PrintCommandHelp(const std::string& usage, const std::vector<FlagSpec>& specs);

// Parses argv into *flags, printing help or the error (naming argv[0]) to
// stderr. Returns -1 to go on, else the exit code (0 after --help, 2 on error).
int ParseCommand(int argc, char** argv, const std::string& usage,
                 const std::vector<FlagSpec>& specs, const std::vector<std::string>& required,
                 std::map<std::string, std::string>* flags);

}  // namespace purser::server
