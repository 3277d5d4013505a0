#include "server/commands.h"

#include <algorithm>
#include <cstring>
#include <iostream>

#include "server/backup_commands.h"
#include "server/key_commands.h"

namespace purser::server {
namespace {

// One row per command; the functions live in the file that does the work.
const Command kCommands[] = {
    {"backup", "write a consistent backup of a data directory, also while the server runs",
     RunBackupCommand},
    {"restore", "restore a data directory from a backup (the server must be stopped)",
     RunRestoreCommand},
    {"init", "make a new data directory, optionally with an intermediate CA (--ca-from)",
     RunInitCommand},
    {"rotate-secrets-key", "re-seal every secret under a new key file (the server must be stopped)",
     RunRotateSecretsKeyCommand},
};

}  // namespace

const Command* FindCommand(const char* name) {
  for (const Command& c : kCommands) {
    if (c.name != nullptr && std::strcmp(c.name, name) == 0) return &c;
  }
  return nullptr;
}

std::string CommandList() {
  std::string out;
  for (const Command& c : kCommands) {
    if (c.name == nullptr) continue;
    out += "  " + std::string(c.name);
    out += std::string(std::max<size_t>(2, 20 - std::strlen(c.name)), ' ') + c.summary + "\n";
  }
  return out;
}

void PrintCommands() {
  std::cerr << "commands (purser-server COMMAND --help for each):\n";
  for (const Command& c : kCommands) {
    if (c.name != nullptr) std::cerr << "  " << c.name << "\t" << c.summary << "\n";
  }
}

}  // namespace purser::server
