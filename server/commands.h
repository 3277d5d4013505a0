// purser-server's subcommands besides serving (`purser-server <command> --flags`).
// Each command parses its own flags and returns the process exit code.
#pragma once
#include <string>

namespace purser::server {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is the command's name
};

// Every command, for dispatch and for --help.
const Command* FindCommand(const char* name);
void PrintCommands();
// One line a command ("  name  summary"), for purser-server --help.
std::string CommandList();

}  // namespace purser::server
