#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"

namespace purser::server {
namespace {

// A client on a real socket: connects, sends `request` (all of it), reads
// the answer until the server closes.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& data) { (void)!::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Ask(int port, const std::string& request) {
  Client c(port);
  EXPECT_TRUE(c.connected());
  c.Send(request);
  return c.ReadAll();
}

std::unique_ptr<MetricsHttpServer> StartOrDie(MetricsHttpServer::Render render,
                                              MetricsHttpServer::Options o = {}) {
  auto s = MetricsHttpServer::Start("127.0.0.1:0", std::move(render), o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(MetricsHttp, ServesMetricsOnGet) {
  std::atomic<int> renders{0};
  auto s = StartOrDie([&] {
    renders++;
    return std::string("up 1\n");
  });
  ASSERT_NE(s, nullptr);
  EXPECT_GT(s->port(), 0);
  EXPECT_TRUE(s->loopback());
  std::string got = Ask(s->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(
      absl::StrContains(got, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
      << got;
  EXPECT_TRUE(absl::StrContains(got, "\r\nContent-Length: 5\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "\r\nConnection: close\r\n")) << got;
  EXPECT_TRUE(absl::EndsWith(got, "\r\n\r\nup 1\n")) << got;
  // A query string is allowed (some scrapers add one); so is HTTP/1.0 with bare newlines.
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), "GET /metrics?x=1 HTTP/1.0\n\n"), "HTTP/1.1 200"));
  EXPECT_EQ(renders.load(), 2);
}

TEST(MetricsHttp, HeadHasTheHeadersOnly) {
  auto s = StartOrDie([] { return std::string("up 1\n"); });
  std::string got = Ask(s->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "Content-Length: 5\r\n")) << got;
  EXPECT_TRUE(absl::EndsWith(got, "\r\n\r\n")) << got;
}

TEST(MetricsHttp, OtherPathsMethodsAndGarbageAreRefused) {
  std::atomic<int> renders{0};
  auto s = StartOrDie([&] {
    renders++;
    return std::string("up 1\n");
  });
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), "GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 "));
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), "GET /metricsx HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 "));
  std::string post = Ask(s->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(post, "HTTP/1.1 405 ")) << post;
  EXPECT_TRUE(absl::StrContains(post, "\r\nAllow: GET, HEAD\r\n")) << post;
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), "hello\r\n\r\n"), "HTTP/1.1 400 "));
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), "GET /metrics SPDY/3\r\n\r\n"), "HTTP/1.1 400 "));
  EXPECT_EQ(renders.load(), 0);
}

TEST(MetricsHttp, AnOversizedRequestIsRefused) {
  MetricsHttpServer::Options o;
  o.max_request_bytes = 1024;
  auto s = StartOrDie([] { return std::string("up 1\n"); }, o);
  std::string big = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(4000, 'a') + "\r\n\r\n";
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), big), "HTTP/1.1 431 "));
  // The endpoint still serves afterwards.
  EXPECT_TRUE(absl::StartsWith(Ask(s->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200"));
}

TEST(MetricsHttp, ASlowClientTimesOutAndTheNextIsServed) {
  MetricsHttpServer::Options o;
  o.request_timeout = absl::Milliseconds(300);
  auto s = StartOrDie([] { return std::string("up 1\n"); }, o);
  Client slow(s->port());
  ASSERT_TRUE(slow.connected());
  slow.Send("GET /metr");  // and nothing more
  absl::Time start = absl::Now();
  std::string next = Ask(s->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(next, "HTTP/1.1 200")) << next;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(absl::StartsWith(slow.ReadAll(), "HTTP/1.1 408 "));
}

TEST(MetricsHttp, IdleConnectionsDoNotKeepAScrapeWaiting) {
  // Defaults, as the server runs it: a port scanner or a stuck probe holds
  // connections open without sending anything.
  auto s = StartOrDie([] { return std::string("up 1\n"); });
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(std::make_unique<Client>(s->port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  idle[0]->Send("GET /metr");  // one of them partway through a request
  absl::SleepFor(absl::Milliseconds(100));
  absl::Time start = absl::Now();
  std::string got = Ask(s->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(MetricsHttp, WhenFullTheOldestIdleConnectionMakesRoom) {
  MetricsHttpServer::Options o;
  o.max_connections = 3;
  o.request_timeout = absl::Seconds(60);
  auto s = StartOrDie([] { return std::string("up 1\n"); }, o);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<Client>(s->port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  absl::Time start = absl::Now();
  std::string got = Ask(s->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  // The first ones were closed, without an answer, to make room.
  EXPECT_EQ(idle[0]->ReadAll(), "");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// Two scrapers at once, each answer taking longer than the request deadline
// to render: the second request arrived in time and is answered, not 408.
TEST(MetricsHttp, ARequestWaitingWhileAnotherIsRenderedIsAnswered) {
  MetricsHttpServer::Options o;
  o.request_timeout = absl::Seconds(1);
  auto s = StartOrDie(
      [] {
        absl::SleepFor(absl::Milliseconds(1500));
        return std::string("up 1\n");
      },
      o);
  ASSERT_NE(s, nullptr);
  Client a(s->port()), b(s->port());
  ASSERT_TRUE(a.connected() && b.connected());
  absl::SleepFor(absl::Milliseconds(100));  // both accepted: their deadlines run
  a.Send("GET /metrics HTTP/1.1\r\n\r\n");
  b.Send("GET /metrics HTTP/1.1\r\n\r\n");
  std::string got_a = a.ReadAll(), got_b = b.ReadAll();
  EXPECT_TRUE(absl::StartsWith(got_a, "HTTP/1.1 200 OK\r\n")) << got_a;
  EXPECT_TRUE(absl::StartsWith(got_b, "HTTP/1.1 200 OK\r\n")) << got_b;
}

TEST(MetricsHttp, StopEndsAConnectionInProgressAtOnce) {
  MetricsHttpServer::Options o;
  o.request_timeout = absl::Seconds(60);
  auto s = StartOrDie([] { return std::string("up 1\n"); }, o);
  Client idle(s->port());
  ASSERT_TRUE(idle.connected());
  idle.Send("GET");
  absl::SleepFor(absl::Milliseconds(100));  // being served
  absl::Time start = absl::Now();
  s->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(idle.ReadAll(), "");  // closed without an answer
  EXPECT_FALSE(Client(s->port()).connected());
}

TEST(MetricsHttp, BadAndBusyAddressesAreNamed) {
  auto bad = MetricsHttpServer::Start("127.0.0.1", [] { return std::string(); });
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "\"127.0.0.1\": expected host:port"))
      << bad.status();
  auto port = MetricsHttpServer::Start("127.0.0.1:99999", [] { return std::string(); });
  ASSERT_FALSE(port.ok());
  EXPECT_TRUE(absl::StrContains(port.status().message(), "99999")) << port.status();
  auto first = StartOrDie([] { return std::string(); });
  std::string taken = "127.0.0.1:" + std::to_string(first->port());
  auto second = MetricsHttpServer::Start(taken, [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::StrContains(second.status().message(), taken)) << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(), "in use")) << second.status();
}

TEST(MetricsHttp, TellsLoopbackFromOtherAddresses) {
  auto any = MetricsHttpServer::Start("0.0.0.0:0", [] { return std::string(); });
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_FALSE((*any)->loopback());
  auto v6 = MetricsHttpServer::Start("[::1]:0", [] { return std::string(); });
  if (v6.ok()) {  // where the host has IPv6
    EXPECT_TRUE((*v6)->loopback());
  }
}

}  // namespace
}  // namespace purser::server
