#include "server/backup_commands.h"

#include <iostream>

#include "server/backup_file.h"
#include "server/command_flags.h"
#include "server/restore.h"

namespace purser::server {
int RunBackupCommand(int argc, char** argv) {
  const std::vector<FlagSpec> specs = {
      {"data_dir", "the server's data directory (the server may be running)"},
      {"out", "the backup file to write (mode 0600)"},
      {"force", "replace --out if it exists", true},
      {"secrets_key_file",
       "the server's secrets key when not DATA_DIR/secrets.key: the secrets are checked against "
       "it, and it is not carried (keep it apart)"},
  };
  std::map<std::string, std::string> flags;
  int code = ParseCommand(
      argc, argv,
      "purser-server backup --data_dir=DIR --out=FILE [--force] [--secrets_key_file=FILE]", specs,
      {"data_dir", "out"}, &flags);
  if (code >= 0) return code;
  auto sum = WriteBackup(flags["data_dir"], flags["out"], flags["force"] == "true",
                         flags["secrets_key_file"]);
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
      {"secrets_key_file",
       "for a backup without secrets.key: the key its secrets must open with (checked first)"},
  };
  std::map<std::string, std::string> flags;
  int code = ParseCommand(
      argc, argv,
      "purser-server restore --from=FILE --data_dir=DIR [--force] [--secrets_key_file=FILE]", specs,
      {"from", "data_dir"}, &flags);
  if (code >= 0) return code;
  auto result = RestoreDataDir(flags["from"], flags["data_dir"], flags["force"] == "true",
                               flags["secrets_key_file"]);
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
