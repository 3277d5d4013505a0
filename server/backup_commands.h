// `purser-server backup` and `purser-server restore` (see commands.h).
#pragma once

namespace purser::server {

int RunBackupCommand(int argc, char** argv);
int RunRestoreCommand(int argc, char** argv);

}  // namespace purser::server
