#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/metrics.h"
#include "shared/logging.h"

namespace purser::server {
namespace {

std::string Answer(const std::string& status, const std::string& extra_headers,
                   const std::string& content_type, const std::string& body, bool head) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
                      "Connection: close\r\n\r\n", head ? "" : body);
}

std::string Plain(const std::string& status, const std::string& body,
                  const std::string& extra_headers = "") {
  return Answer(status, extra_headers, "text/plain; charset=utf-8", body, false);
}

// "host:port" or "[v6]:port" into its parts; the host may be empty (every address).
absl::Status SplitAddress(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\": expected host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int n = 0;
  if (!absl::SimpleAtoi(*port, &n) || n < 0 || n > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\": port \"", *port, "\" is not 0-65535"));
  }
  return absl::OkStatus();
}

bool IsLoopback(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

// Milliseconds left until `deadline` (0 once passed).
int MsLeft(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

}  // namespace

std::string MetricsHttpResponse(const std::string& request,
                                const MetricsHttpServer::Render& render) {
  std::string line = request.substr(0, request.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[2].rfind("HTTP/1.", 0) != 0) {
    return Plain("400 Bad Request", "malformed request line\n");
  }
  const std::string& method = parts[0];
  std::string path = parts[1].substr(0, parts[1].find('?'));
  if (path != "/metrics") return Plain("404 Not Found", "not found: metrics are at /metrics\n");
  if (method != "GET" && method != "HEAD") {
    return Plain("405 Method Not Allowed", "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
  }
  return Answer("200 OK", "", metrics::kTextContentType, render(), method == "HEAD");
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, Render render, Options options) {
  std::string host, port;
  if (absl::Status st = SplitAddress(address, &host, &port); !st.ok()) return st;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0 || res == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\": ", ::gai_strerror(gai)));
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  bool ok = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            ::bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 16) == 0;
  int err = errno;
  ::freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", std::strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(fd);
    return absl::InternalError("cannot make the metrics server's wake-up pipe");
  }
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(fd, wake, bound_port, IsLoopback(bound), std::move(render), options));
}

MetricsHttpServer::MetricsHttpServer(int listen_fd, int wake_fd[2], int port, bool loopback,
                                     Render render, Options options)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_fd[0]),
      wake_write_fd_(wake_fd[1]),
      port_(port),
      loopback_(loopback),
      render_(std::move(render)),
      options_(options),
      thread_([this] { Loop(); }) {}

void MetricsHttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  char b = 1;
  (void)!::write(wake_write_fd_, &b, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_read_fd_);
  ::close(wake_write_fd_);
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Loop() {
  while (true) {
    pollfd fds[2] = {{wake_read_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("metrics server: poll: %s", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        LogWarning("metrics server: accept: %s", std::strerror(errno));
        ::poll(fds, 1, 100);  // out of descriptors, say: no busy loop, but Stop still wakes us
      }
      continue;
    }
    Serve(fd);
    ::close(fd);
  }
}

void MetricsHttpServer::Serve(int fd) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  // Waits until `fd` is ready for `events`; false on timeout, Stop or error.
  auto wait = [&](short events) {
    while (true) {
      pollfd fds[2] = {{wake_read_fd_, POLLIN, 0}, {fd, events, 0}};
      int n = ::poll(fds, 2, MsLeft(deadline));
      if (n < 0 && errno == EINTR) continue;
      return n > 0 && fds[0].revents == 0 && fds[1].revents != 0;
    }
  };
  std::string request;
  std::string response;
  while (response.empty()) {
    if (request.find("\r\n\r\n") != std::string::npos ||
        request.find("\n\n") != std::string::npos) {
      response = MetricsHttpResponse(request, render_);
      break;
    }
    if (request.size() > options_.max_request_bytes) {
      response = Plain("431 Request Header Fields Too Large",
                       absl::StrCat("request over ", options_.max_request_bytes, " bytes\n"));
      break;
    }
    if (!wait(POLLIN)) {
      if (MsLeft(deadline) == 0) response = Plain("408 Request Timeout", "request too slow\n");
      if (response.empty()) return;  // stopping, or the peer went away
      break;
    }
    char buf[2048];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return;  // closed before a whole request
    request.append(buf, static_cast<size_t>(n));
  }
  size_t sent = 0;
  while (sent < response.size()) {
    ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait(POLLOUT)) return;  // a client that does not read is let go
    } else {
      return;
    }
  }
  // Closing with unread input would reset the connection and could lose the
  // answer (a refused request may not have been read whole): read what the
  // peer still sends until it closes, for a little while.
  ::shutdown(fd, SHUT_WR);
  const absl::Time linger = std::min(deadline, absl::Now() + absl::Seconds(1));
  size_t drained = 0;
  while (drained < 65536) {
    pollfd fds[2] = {{wake_read_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    if (::poll(fds, 2, MsLeft(linger)) <= 0 || fds[0].revents != 0) return;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    drained += static_cast<size_t>(n);
  }
}

}  // namespace purser::server
