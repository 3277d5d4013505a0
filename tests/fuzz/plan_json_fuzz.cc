// The plan loader, JSON: any bytes give a plan or an error that names the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "shared/plan/plan_loader.h"

// protobuf logs what it refuses; the fuzzer's output is for findings.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto plan = purser::ParsePlan(text, "fuzz.json");
  if (!plan.ok() && plan.status().message().find("fuzz.json") == std::string::npos) {
    __builtin_trap();
  }
  return 0;
}
