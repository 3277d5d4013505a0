// The HTTP endpoint Prometheus scrapes: GET /metrics on its own port, plain
// HTTP/1.1 without authentication (it serves figures, never secrets). One
// thread, one connection at a time, each closed after its answer: a scraper
// calls every few seconds, and a slow or stuck client is cut off after
// `timeout` so that it cannot hold the endpoint.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace purser::server {

class MetricsHttpServer {
 public:
  struct Options {
    size_t max_request_bytes = 8192;             // request line and headers
    absl::Duration timeout = absl::Seconds(10);  // to read the request and write the answer
  };
  // The answer to GET /metrics: the body, in the text exposition format.
  using Render = std::function<std::string()>;

  // Binds `address` ("host:port", "[v6]:port"; port 0 picks one) now, then
  // serves on a thread of its own until Stop.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  Render render, Options options);
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  Render render) {
    return Start(address, std::move(render), Options());
  }
  // Ends the connection being served, if any, and the thread.
  void Stop();
  ~MetricsHttpServer();
  int port() const { return port_; }
  // Whether the bound address is a loopback one (127.0.0.0/8, ::1).
  bool loopback() const { return loopback_; }

 private:
  MetricsHttpServer(int listen_fd, int wake_fd[2], int port, bool loopback, Render render,
                    Options options);
  void Loop();
  void Serve(int fd);

  const int listen_fd_;
  const int wake_read_fd_;
  const int wake_write_fd_;
  const int port_;
  const bool loopback_;
  const Render render_;
  const Options options_;
  std::thread thread_;
  bool stopped_ = false;
};

// The answer to one request, given its request line and headers: the whole
// HTTP response (status line, headers, body). Apart for tests.
std::string MetricsHttpResponse(const std::string& request,
                                const MetricsHttpServer::Render& render);

}  // namespace purser::server
