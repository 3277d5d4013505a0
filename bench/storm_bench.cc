// The bare boot storm: N fresh mTLS connections (ECDSA P-256), one echo call
// each, all at once, from 127.0.0.1..K, against the bare echo server in its
// own process. The limit a Purser boot storm of the same size compares with;
// the client is purser-fleetsim's, the agents' own gRPC stack.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "bench/echo_server.h"
#include "shared/files.h"

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
  char dir_template[] = "/tmp/purser-storm-XXXXXX";
  std::string dir = mkdtemp(dir_template) ? dir_template : "";
  if (dir.empty() || !WriteFileAtomic(dir + "/ca.pem", pki.ca_pem).ok() ||
      !WriteFileAtomic(dir + "/client.pem", pki.client_pem).ok() ||
      !WriteFileAtomic(dir + "/client.key", pki.client_key, 0600).ok()) {
    std::fprintf(stderr, "cannot write the storm's certificates to /tmp\n");
    return 1;
  }
  int port = 0, stop_fd = -1, cpu_fd = -1;
  pid_t child = StartServer(pki, &port, &stop_fd, &cpu_fd);
  if (child < 0) {
    std::fprintf(stderr, "cannot start the echo server process\n");
    return 1;
  }
  // The fleet simulator's bare storm prints the figures; the echo server's
  // CPU it reads from /proc.
  std::string cmd =
      absl::StrCat(PURSER_FLEETSIM_BIN, " --phases=bare-storm --echo_server=127.0.0.1:", port,
                   " --echo_server_pid=", child, " --ca=", dir, "/ca.pem --cert=", dir,
                   "/client.pem --key=", dir, "/client.key --agents=", n, " --source_ips=", ips);
  int status = std::system(cmd.c_str());
  close(stop_fd);
  double server_cpu = 0;
  (void)!read(cpu_fd, &server_cpu, sizeof(server_cpu));
  waitpid(child, nullptr, 0);
  std::filesystem::remove_all(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace
}  // namespace purser::bench

int main(int argc, char** argv) {
  purser::bench::InitBenchmark(argc, argv);
  return purser::bench::Main();
}
