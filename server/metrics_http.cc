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
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, rounded up so that poll does not wake
// just before it (0 once passed).
int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60 * 60 * 1000));
}

Clock::duration ToClock(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(d));
}

// One client connection, from accept to close.
struct Connection {
  enum Phase { kReading, kWriting, kDraining };
  int fd = -1;
  Phase phase = kReading;
  Clock::time_point deadline;  // of the current phase
  std::string request;
  std::string response;
  size_t sent = 0;
  size_t drained = 0;
};

}  // namespace

void MetricsHttpServer::Loop() {
  std::vector<Connection> conns;  // oldest first
  auto close_at = [&](size_t i) {
    ::close(conns[i].fd);
    conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
  };
  auto answer = [&](Connection& c, std::string response) {
    c.phase = Connection::kWriting;
    c.response = std::move(response);
    c.deadline = Clock::now() + ToClock(options_.write_timeout);
  };
  // Moves `c` on as far as it goes without blocking; false once it is done with.
  auto advance = [&](Connection& c) {
    char buf[4096];
    while (c.phase == Connection::kReading) {
      const size_t end = std::min(c.request.find("\r\n\r\n"), c.request.find("\n\n"));
      if ((end == std::string::npos ? c.request.size() : end) > options_.max_request_bytes) {
        answer(c, Plain("431 Request Header Fields Too Large",
                        absl::StrCat("request over ", options_.max_request_bytes, " bytes\n")));
      } else if (end != std::string::npos) {
        answer(c, MetricsHttpResponse(c.request, render_));
      } else {
        ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
          // Out of time only with nothing waiting: a request that arrived
          // while another scrape was rendered is read and answered.
          if (Clock::now() < c.deadline) return true;
          answer(c, Plain("408 Request Timeout", "request too slow\n"));
          continue;
        }
        if (n <= 0) return false;  // closed before a whole request
        c.request.append(buf, static_cast<size_t>(n));
      }
    }
    while (c.phase == Connection::kWriting) {
      if (c.sent == c.response.size()) {
        // Closing with unread input would reset the connection and could lose
        // the answer (a refused request may not have been read whole): read
        // what the peer still sends until it closes, for a little while.
        ::shutdown(c.fd, SHUT_WR);
        c.phase = Connection::kDraining;
        c.deadline = std::min(c.deadline, Clock::now() + std::chrono::seconds(1));
        break;
      }
      if (Clock::now() >= c.deadline) return false;  // a client that does not read is let go
      ssize_t n =
          ::send(c.fd, c.response.data() + c.sent, c.response.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        return true;
      } else if (!(n < 0 && errno == EINTR)) {
        return false;
      }
    }
    while (c.drained < 65536 && Clock::now() < c.deadline) {
      ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0) return false;
      c.drained += static_cast<size_t>(n);
    }
    return false;
  };

  std::vector<pollfd> fds;
  while (true) {
    fds.assign({{wake_read_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    int timeout = -1;
    for (const Connection& c : conns) {
      fds.push_back(
          {c.fd, static_cast<short>(c.phase == Connection::kWriting ? POLLOUT : POLLIN), 0});
      int left = MsLeft(c.deadline);
      timeout = timeout < 0 ? left : std::min(timeout, left);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      LogError("metrics server: poll: %s", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;  // Stop
    // The connections that are ready or out of time (pollfds in the same
    // order); backwards, so that closing one leaves the indexes still to visit.
    const Clock::time_point now = Clock::now();
    for (size_t i = conns.size(); i-- > 0;) {
      if (fds[i + 2].revents == 0 && now < conns[i].deadline) continue;
      if (!advance(conns[i])) close_at(i);
    }
    if (fds[1].revents == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        LogWarning("metrics server: accept: %s", std::strerror(errno));
        // Out of descriptors, say: no busy loop, but Stop still wakes us.
        ::poll(fds.data(), 1, 100);
      }
      continue;
    }
    if (conns.size() >= options_.max_connections) {
      // Full: the oldest connection already answered (only being drained)
      // makes room, else the oldest still sending its request, so that idle
      // clients cannot keep a scraper out.
      auto oldest = std::find_if(conns.begin(), conns.end(), [](const Connection& c) {
        return c.phase == Connection::kDraining;
      });
      if (oldest == conns.end()) {
        oldest = std::find_if(conns.begin(), conns.end(),
                              [](const Connection& c) { return c.phase == Connection::kReading; });
      }
      if (oldest == conns.end()) {
        std::string busy = Plain("503 Service Unavailable", "too many connections\n");
        (void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);  // a FIN, not a reset, so the answer is not lost
        ::close(fd);
        continue;
      }
      close_at(static_cast<size_t>(oldest - conns.begin()));
    }
    Connection c;
    c.fd = fd;
    c.deadline = Clock::now() + ToClock(options_.request_timeout);
    conns.push_back(std::move(c));
    if (!advance(conns.back())) close_at(conns.size() - 1);
  }
  for (const Connection& c : conns) ::close(c.fd);
}

}  // namespace purser::server
