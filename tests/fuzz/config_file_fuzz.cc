// The server's configuration file, whatever an administrator (or a broken
// editor) left in it: parsed without crashing, and every refusal names the
// file and the line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "server/config_file.h"

// Two flags the file may set, so that both known and unknown keys are parsed.
ABSL_FLAG(std::string, listen, "127.0.0.1:7443", "fuzzed");
ABSL_FLAG(int, workers, 16, "fuzzed");

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto entries = purser::server::ParseConfig(text, "/etc/purser/purser-server.conf");
  if (!entries.ok()) {
    if (entries.status().message().find("/etc/purser/purser-server.conf:") == std::string::npos) {
      __builtin_trap();  // a refusal says where
    }
    return 0;
  }
  for (const auto& e : *entries) {
    if (e.key != "listen" && e.key != "workers") __builtin_trap();  // only known keys pass
    if (e.line < 1) __builtin_trap();
  }
  return 0;
}
