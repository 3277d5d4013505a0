// This process's CPU time, resident memory and threads, from the kernel.
#pragma once
#include <cstdint>

namespace purser {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  int64_t rss_bytes = 0;
  int threads = 0;
};

ProcessStats ReadProcessStats();

}  // namespace purser
