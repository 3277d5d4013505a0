#include "shared/process_stats.h"

#include <sys/resource.h>

#include <fstream>
#include <string>

namespace purser {

ProcessStats ReadProcessStats() {
  ProcessStats out;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    out.cpu_seconds =
        ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  // /proc/self/status lines: "VmRSS:     12345 kB", "Threads:   17".
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      int64_t kb = 0;
      status >> kb;
      out.rss_bytes = kb * 1024;
    } else if (key == "Threads:") {
      status >> out.threads;
    }
    status.ignore(1 << 20, '\n');
  }
  return out;
}

}  // namespace purser
