// `purser-server init` and `purser-server rotate-secrets-key` (see commands.h
// and docs/key-custody.md).
#pragma once

namespace purser::server {

int RunInitCommand(int argc, char** argv);
int RunRotateSecretsKeyCommand(int argc, char** argv);

}  // namespace purser::server
