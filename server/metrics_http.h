// The HTTP endpoint Prometheus scrapes: GET /metrics on its own port, plain
// HTTP/1.1 without authentication (it serves figures, never secrets). One
// thread serves up to `max_connections` connections at once from a poll
// loop, each closed after its answer; when full, the oldest connection not
// being answered is closed to make room, so that idle or slow clients (a port
// scanner, a stuck probe) cannot keep a scraper out. Each connection has
// `request_timeout` to send its request and `write_timeout` to take the answer.
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
    size_t max_request_bytes = 8192;                    // request line and headers
    size_t max_connections = 16;                        // served at once
    absl::Duration request_timeout = absl::Seconds(2);  // to receive the request line and headers
    absl::Duration write_timeout = absl::Seconds(10);   // for the client to take the answer
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
  // Closes the connections being served, if any, and ends the thread.
  void Stop();
  ~MetricsHttpServer();
  int port() const { return port_; }
  // Whether the bound address is a loopback one (127.0.0.0/8, ::1).
  bool loopback() const { return loopback_; }

 private:
  MetricsHttpServer(int listen_fd, int wake_fd[2], int port, bool loopback, Render render,
                    Options options);
  void Loop();

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
