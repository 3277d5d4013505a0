// A request as a scraper (or anyone who reaches the metrics port) sends it:
// whatever the bytes, the answer is one well-formed HTTP response, and only
// GET or HEAD of /metrics is given the figures.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/metrics_http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string request(reinterpret_cast<const char*>(data), size);
  bool rendered = false;
  std::string answer = purser::server::MetricsHttpResponse(request, [&] {
    rendered = true;
    return std::string("purser_up 1\n");
  });
  if (answer.rfind("HTTP/1.1 ", 0) != 0) __builtin_trap();
  if (answer.find("\r\n\r\n") == std::string::npos) __builtin_trap();
  bool ok = answer.rfind("HTTP/1.1 200 ", 0) == 0;
  if (ok != rendered) __builtin_trap();  // figures only with a 200, and a 200 only with figures
  if (ok && request.rfind("GET /metrics", 0) != 0 && request.rfind("HEAD /metrics", 0) != 0) {
    __builtin_trap();
  }
  return 0;
}
