// Small helpers for unit tests.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

#define PURSER_ASSERT_OK(expr)    \
  do {                            \
    const auto& _st = (expr);     \
    ASSERT_TRUE(_st.ok()) << _st; \
  } while (0)

namespace purser::testing {

// A temporary directory for one test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "purser-unit-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace purser::testing
