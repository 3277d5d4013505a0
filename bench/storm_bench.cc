// The bare boot storm: N fresh mTLS connections (ECDSA P-256), one echo call
// each, all at once, from 127.0.0.1..K, against the bare echo server in its
// own process. The limit a Purser boot storm of the same size compares with.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "bench/echo_server.h"
#include "fleetsim/rpc_stats.h"
#include "fleetsim/source_address.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "shared/grpc_options.h"

ABSL_FLAG(int, connections, 10'000, "fresh connections, one call each");
ABSL_FLAG(int, source_ips, 8, "spread over 127.0.0.1..N");

namespace purser::bench {
namespace {

double CpuOf(const rusage& ru) {
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The echo server in a child process: reports its port, serves until the
// parent closes `stop`, then reports its CPU seconds.
pid_t StartServer(const Pki& pki, int* port, int* stop_fd, int* cpu_fd) {
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    double cpu0;
    {
      EchoServer server(pki);
      int p = server.port();
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      cpu0 = CpuOf(ru);
      (void)!write(up[1], &p, sizeof(p));
      char c;
      (void)!read(down[0], &c, 1);  // EOF: the parent is done
      getrusage(RUSAGE_SELF, &ru);
      double cpu = CpuOf(ru) - cpu0;
      (void)!write(up[1], &cpu, sizeof(cpu));
    }
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  if (read(up[0], port, sizeof(*port)) != sizeof(*port)) return -1;
  *stop_fd = down[1];
  *cpu_fd = up[0];
  return pid;
}

int Main() {
  const int n = absl::GetFlag(FLAGS_connections), ips = absl::GetFlag(FLAGS_source_ips);
  Pki pki = MakePki();  // before fork: OpenSSL only, no gRPC yet
  int port = 0, stop_fd = -1, cpu_fd = -1;
  pid_t child = StartServer(pki, &port, &stop_fd, &cpu_fd);
  if (child < 0) {
    std::fprintf(stderr, "cannot start the echo server process\n");
    return 1;
  }
  std::string target = absl::StrCat("127.0.0.1:", port);
  std::vector<std::unique_ptr<Echo::Stub>> stubs;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args = ClientChannelArgs();
    fleetsim::BindSourceAddress(&args, absl::StrCat("127.0.0.", 1 + i % ips));
    grpc::SslCredentialsOptions o{pki.ca_pem, pki.client_key, pki.client_pem};
    stubs.push_back(
        Echo::NewStub(grpc::CreateCustomChannel(target, grpc::SslCredentials(o), args)));
  }
  struct Call {
    grpc::ClientContext ctx;
    EchoMessage req, resp;
  };
  std::vector<Call> calls(n);
  std::atomic<int> done{0}, errors{0};
  fleetsim::RateMeter rate;
  absl::Time t0 = absl::Now();
  rate.Start(t0);
  for (int i = 0; i < n; ++i) {
    calls[i].ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    calls[i].ctx.set_wait_for_ready(true);
    calls[i].req.set_payload("boot");
    stubs[i]->async()->Echo(&calls[i].ctx, &calls[i].req, &calls[i].resp, [&](grpc::Status st) {
      if (!st.ok()) ++errors;
      rate.Add(absl::Now());
      ++done;
    });
  }
  while (done < n) absl::SleepFor(absl::Milliseconds(10));
  double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  close(stop_fd);
  double server_cpu = 0;
  (void)!read(cpu_fd, &server_cpu, sizeof(server_cpu));
  waitpid(child, nullptr, 0);
  std::printf(
      "bare mTLS storm: %d fresh connections, one echo each, all done after %.2f s; peak %lld/s; "
      "%d errors; echo server CPU %.1f s (%.2f ms per handshake)\n",
      n, secs, static_cast<long long>(rate.PeakPerSecond()), errors.load(), server_cpu,
      1000 * server_cpu / n);
  std::printf("figure storm_seconds %.3f\nfigure storm_server_cpu_seconds %.3f\n", secs,
              server_cpu);
  std::fflush(stdout);
  std::_Exit(errors ? 1 : 0);  // thousands of channels: let the OS reclaim them
}

}  // namespace
}  // namespace purser::bench

int main(int argc, char** argv) {
  purser::bench::InitBenchmark(argc, argv);
  return purser::bench::Main();
}
