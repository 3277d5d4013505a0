// An agent's report and inventory as they arrive on the wire: parsed, checked
// against the limits, and summarised for the log, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "purser/v1/agent.pb.h"
#include "shared/limits.h"
#include "shared/logging.h"
#include "shared/plan/platform.h"

// protobuf logs what it refuses; the fuzzer's output is for findings.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  purser::v1::ReportResultRequest report;
  if (!report.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::Status st = purser::CheckReport(report);
  if (st.ok()) {
    // What the server does with an accepted one: names the OS, logs a line.
    (void)purser::UnsupportedReason(report.inventory().os());
    (void)purser::OsDisplayName(report.inventory().os());
    (void)purser::Redact(report.message());
  } else if (st.message().empty()) {
    __builtin_trap();  // a refusal says what is wrong
  }
  return 0;
}
