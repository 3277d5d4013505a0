#include "server/backup_commands.h"

#include <iostream>

#include "server/backup_file.h"
#include "server/command_flags.h"
#include "server/restore.h"

namespace purser::server {
namespace {

// Parses; prints help or the error. Returns -1 to go on, else the exit code.
int Parse(int argc, char** argv, const std::string& usage, const std::vector<FlagSpec>& specs,
          const std::vector<std::string>& required, std::map<std::string, std::string>* flags) {
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

}  // namespace

int RunBackupCommand(int argc, char** argv) {
  const std::vector<FlagSpec> specs = {
      {"data_dir", "the server's data directory (the server may be running)"},
      {"out", "the backup file to write (mode 0600)"},
      {"force", "replace --out if it exists", true},
  };
  std::map<std::string, std::string> flags;
  int code = Parse(argc, argv, "purser-server backup --data_dir=DIR --out=FILE [--force]", specs,
                   {"data_dir", "out"}, &flags);
  if (code >= 0) return code;
  auto sum = WriteBackup(flags["data_dir"], flags["out"], flags["force"] == "true");
  if (!sum.ok()) {
    std::cerr << "purser-server backup: " << sum.status().message() << "\n";
    return 1;
  }
  std::cout << sum->Line() << "\n";
  return 0;
}

int RunRestoreCommand(int argc, char** argv) {
  const std::vector<FlagSpec> specs = {
      {"from", "the backup file (checked in full before anything changes)"},
      {"data_dir", "the data directory to restore (no server may be running on it)"},
      {"force", "replace a data directory that is not empty (it is kept, renamed)", true},
  };
  std::map<std::string, std::string> flags;
  int code = Parse(argc, argv, "purser-server restore --from=FILE --data_dir=DIR [--force]", specs,
                   {"from", "data_dir"}, &flags);
  if (code >= 0) return code;
  auto result = RestoreDataDir(flags["from"], flags["data_dir"], flags["force"] == "true");
  if (!result.ok()) {
    std::cerr << "purser-server restore: " << result.status().message() << "\n";
    return 1;
  }
  std::cout << "restored " << flags["data_dir"] << " from " << result->backup.Line() << "\n";
  if (!result->moved_aside.empty()) {
    std::cout << "the previous data directory is kept as " << result->moved_aside << "\n";
  }
  return 0;
}

}  // namespace purser::server
