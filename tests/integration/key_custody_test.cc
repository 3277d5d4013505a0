// Key custody end to end (docs/key-custody.md): the server renews its own
// certificate while agents stay connected; a data directory issues with an
// intermediate whose root stays offline; the secrets key lives apart and is
// rotated, online or offline, without losing a secret.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <future>

#include "absl/strings/str_replace.h"
#include "db/sqlite/sqlite_store.h"
#include "grpcpp/client_context.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/x509.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

constexpr char kKey[] = "wk-rotated-5ecret-never-shown-77b1";

// The certificate chain the server presents to a new connection, as PEM.
std::string ServedChain(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    static const unsigned char kAlpn[] = "\x02h2";
    SSL_set_alpn_protos(ssl, kAlpn, 3);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
      BIO* bio = BIO_new(BIO_s_mem());
      for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
        PEM_write_bio_X509(bio, sk_X509_value(chain, i));
      }
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      out.assign(data, static_cast<size_t>(n));
      BIO_free(bio);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ::close(fd);
  return out;
}

std::string ServedSerial(const TestServer& server, int port) {
  auto info = ParseCert(ServedChain(port));
  (void)server;
  return info.ok() ? info->serial_hex : "";
}

int PortOf(const TestServer& server) {
  return std::atoi(server.address().substr(server.address().rfind(':') + 1).c_str());
}

grpc::ClientContext* Ctx(grpc::ClientContext* ctx, int seconds = 20) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Polls for work (stepping through whatever comes) until a job carries a
// secret; returns its value, or "" when none comes.
std::string SecretDelivered(RawAgent& agent) {
  for (int polls = 0; polls < 40; ++polls) {
    v1::WaitForWorkRequest req;
    req.set_wait_seconds(3);
    v1::WaitForWorkResponse resp;
    grpc::ClientContext ctx;
    if (!agent.stub->WaitForWork(Ctx(&ctx), req, &resp).ok() || !resp.has_job()) continue;
    for (const auto& [k, v] : resp.job().params()) {
      if (k.rfind("secret:", 0) == 0) return v;
    }
    v1::ReportResultRequest report;
    report.set_job_id(resp.job().job_id());
    report.set_attempt(resp.job().attempt());
    report.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
    v1::ReportResultResponse ack;
    grpc::ClientContext c2;
    agent.stub->ReportResult(Ctx(&c2), report, &ack);
  }
  return "";
}

int Shell(const std::string& cmd, std::string* out) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  out->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The server's certificate is short-lived here: renewed while an agent's
// long poll is open on a connection made before. The poll goes on and gets
// its job; new connections get the new certificate, under the same CA.
TEST(KeyCustody, ServerCertificateRenewsWhileAgentsStayConnected) {
  TempDir dir;
  TestServer server(dir.path(), {"--server_cert_seconds=75", "--server_cert_renew_before=60",
                                 "--max_wait_seconds=45"});
  ASSERT_TRUE(server.Start().ok());
  const int port = PortOf(server);
  const std::string first = ServedSerial(server, port);
  ASSERT_FALSE(first.empty());
  auto params = server.OnboardParams(kKey);
  ASSERT_TRUE(params.ok()) << params.status();
  auto token = server.Token(2);
  ASSERT_TRUE(token.ok());
  auto agent = EnrollRaw(server, *token, Win7Inventory("early"), dir.Sub("early"));
  ASSERT_TRUE(agent.ok()) << agent.status();
  // Its long poll starts now, on a connection made with the first certificate.
  auto poll = std::async(std::launch::async, [&] {
    v1::WaitForWorkRequest req;
    req.set_wait_seconds(45);
    v1::WaitForWorkResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = agent->stub->WaitForWork(Ctx(&ctx, 60), req, &resp);
    return std::make_pair(st, resp);
  });

  std::string renewed;
  ASSERT_TRUE(WaitUntil(
      [&] {
        renewed = ServedSerial(server, port);
        return !renewed.empty() && renewed != first;
      },
      absl::Seconds(40)))
      << server.Log();
  EXPECT_NE(server.Log().find("renewed the server certificate"), std::string::npos);
  EXPECT_TRUE(VerifyCert(ServedChain(port), server.ca_pem()).ok());
  EXPECT_EQ(ParseCert(Slurp(server.data_dir() + "/server.pem"))->serial_hex, renewed);
  EXPECT_NE(poll.wait_for(std::chrono::seconds(0)), std::future_status::ready);

  // The early agent's poll, still open, gets the run started now.
  auto run = server.StartRun("mde-downlevel-onboard", {agent->identity.endpoint_id}, *params);
  ASSERT_TRUE(run.ok()) << run.status();
  auto [st, resp] = poll.get();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(resp.has_job());

  // A real agent enrolling now verifies the new certificate under the same CA.
  auto token_file = server.TokenFile(1);
  ASSERT_TRUE(token_file.ok());
  auto go = StartAgent(server, dir.Sub("late"), *token_file, "win7-sp1-x64-ent");
  ASSERT_TRUE(go.ok());
  EXPECT_TRUE(WaitUntil([&] {
    auto list = server.List();
    return list.ok() && list->size() == 2;
  })) << Slurp(dir.Sub("late") + ".log");
}

// An offline root and intermediates made with openssl, the way
// docs/key-custody.md tells; the root's key never reaches the server.
void Sh(const std::string& dir, const std::string& script) {
  std::string out;
  std::string quoted = absl::StrReplaceAll(script, {{"'", "'\\''"}});
  ASSERT_EQ(Shell("cd " + dir + " && sh -ec '" + quoted + "'", &out), 0) << out;
}

void MakeRoot(const std::string& dir) {
  Sh(dir, R"(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out root.key
openssl req -x509 -new -key root.key -sha256 -days 3650 -subj "/O=Example/CN=Example Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out root.pem
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' > ca.ext
chmod 600 root.key)");
}

void MakeIntermediate(const std::string& dir, const std::string& name) {
  Sh(dir, "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + name +
              ".key && chmod 600 " + name + ".key\n" + "openssl req -new -key " + name +
              ".key -subj \"/O=Example/CN=Purser " + name + "\" -out " + name + ".csr\n" +
              "openssl x509 -req -in " + name +
              ".csr -CA root.pem -CAkey root.key -CAcreateserial -days 1095 -sha256 "
              "-extfile ca.ext -out " +
              name + ".pem");
}

TEST(KeyCustody, IntermediateCaWithAnOfflineRoot) {
  TempDir dir;
  std::string ceremony = dir.Sub("ceremony");
  ASSERT_TRUE(MakeDirs(ceremony, 0700).ok());
  MakeRoot(ceremony);
  MakeIntermediate(ceremony, "intermediate");
  // What goes to the server: the intermediate, its key, and the root's certificate.
  std::string transfer = dir.Sub("transfer");
  ASSERT_TRUE(MakeDirs(transfer, 0700).ok());
  for (const char* f : {"intermediate.pem", "intermediate.key", "root.pem"}) {
    ASSERT_TRUE(WriteFileAtomic(transfer + "/" + f, Slurp(ceremony + "/" + f),
                                std::string(f).find(".key") != std::string::npos ? 0600 : 0644)
                    .ok());
  }
  TestServer server(dir.path());
  std::string out;
  ASSERT_EQ(Shell(std::string(PURSER_SERVER_BIN) + " init --data_dir=" + server.data_dir() +
                      " --ca-from=" + transfer,
                  &out),
            0)
      << out;
  EXPECT_EQ(server.ca_pem(), Slurp(ceremony + "/root.pem"));  // agents trust the root
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.Log().find("initialised data directory"), std::string::npos);  // done before

  // The server presents its certificate and the intermediate: it verifies
  // under the root alone, and the intermediate issued it.
  std::string served = ServedChain(PortOf(server));
  EXPECT_EQ(SplitCerts(served)->size(), 2u);
  EXPECT_TRUE(VerifyCert(served, Slurp(ceremony + "/root.pem")).ok());
  EXPECT_TRUE(VerifyIssuedBy(served, Slurp(ceremony + "/intermediate.pem")).ok());

  // purserctl with the first admin's certificate (issued by the intermediate).
  ASSERT_EQ(RunCtl(server, "endpoints list", &out), 0) << out;
  // A real agent that trusts only the root enrolls and onboards.
  auto token_file = server.TokenFile(1);
  ASSERT_TRUE(token_file.ok()) << token_file.status();
  auto agent = StartAgent(server, dir.Sub("pc"), *token_file, "win7-sp1-x64-ent");
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto list = server.List();
    return list.ok() && list->size() == 1;
  })) << Slurp(dir.Sub("pc") + ".log");
  EXPECT_TRUE(
      VerifyIssuedBy(Slurp(dir.Sub("pc") + "/cert.pem"), Slurp(ceremony + "/intermediate.pem"))
          .ok());
  auto params = server.OnboardParams(kKey);
  ASSERT_TRUE(params.ok());
  ASSERT_TRUE(server.StartRun("mde-downlevel-onboard", {}, *params).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto list = server.List();
        return list.ok() && list->size() == 1 && (*list)[0].state() == v1::ENDPOINT_STATE_ONBOARDED;
      },
      absl::Seconds(60)))
      << server.Log();
  ASSERT_EQ(RunCtl(server, "endpoints list", &out), 0) << out;
  EXPECT_NE(out.find("win7-sp1-x64-ent"), std::string::npos) << out;

  // Another intermediate under the same root is not this server's: TLS
  // accepts the chain it presents, the server does not.
  MakeIntermediate(ceremony, "sibling");
  std::string mallory_key = *GenerateKeyPem();
  auto mallory =
      IssueCert(Slurp(ceremony + "/sibling.key"), Slurp(ceremony + "/sibling.pem"),
                *PublicKeyDerOfKey(mallory_key), {"mallory", "admin", 3600, false, {}, {}});
  ASSERT_TRUE(mallory.ok());
  TlsFiles tls{server.ca_pem(), mallory->pem + Slurp(ceremony + "/sibling.pem"), mallory_key};
  auto stub = v1::OperatorService::NewStub(MakeTlsChannel(server.address(), tls));
  grpc::ClientContext ctx;
  v1::ListEndpointsResponse list;
  grpc::Status refused = stub->ListEndpoints(Ctx(&ctx), v1::ListEndpointsRequest(), &list);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("not issued by this server's CA"), std::string::npos);
}

// The secrets key lives on another volume; rotated by an admin, every
// secret put before still reaches the agent, and the old key opens none.
TEST(KeyCustody, SecretsKeyRotatesWithoutLosingASecret) {
  TempDir dir;
  std::string creds = dir.Sub("creds");
  ASSERT_TRUE(MakeDirs(creds, 0700).ok());
  std::string key_file = creds + "/secrets-key";
  TestServer server(dir.path(), {"--secrets_key_file=" + key_file});
  ASSERT_TRUE(server.Start().ok());
  EXPECT_FALSE(PathExists(server.data_dir() + "/secrets.key"));
  const std::string old_key = Slurp(key_file);
  ASSERT_EQ(old_key.size(), 32u);
  auto params = server.OnboardParams(kKey);
  ASSERT_TRUE(params.ok());

  std::string out;
  ASSERT_EQ(RunCtl(server, "admin rotate-secrets-key", &out), 0) << out;
  EXPECT_NE(out.find("1 secrets re-sealed"), std::string::npos) << out;
  const std::string new_key = Slurp(key_file);
  ASSERT_EQ(new_key.size(), 32u);
  EXPECT_NE(new_key, old_key);
  for (const auto& k : {old_key, new_key}) {
    EXPECT_EQ(out.find(k), std::string::npos);
    EXPECT_EQ(out.find(HexEncode(k)), std::string::npos);
    EXPECT_EQ(server.Log().find(HexEncode(k)), std::string::npos);
  }

  auto token = server.Token(1);
  auto agent = EnrollRaw(server, *token, Win7Inventory("pc"), dir.Sub("a"));
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(
      server.StartRun("mde-downlevel-onboard", {agent->identity.endpoint_id}, *params).ok());
  EXPECT_EQ(SecretDelivered(*agent), kKey);

  // One audit row, with neither key in it.
  ASSERT_EQ(RunCtl(server, "audit --method RotateSecretsKey -o json", &out), 0) << out;
  EXPECT_NE(out.find("RotateSecretsKey"), std::string::npos) << out;
  EXPECT_EQ(out.find(HexEncode(new_key)), std::string::npos);

  // A read-only key (a systemd credential) cannot be rotated in place.
  ASSERT_EQ(::chmod(key_file.c_str(), 0400), 0);
  EXPECT_EQ(RunCtl(server, "admin rotate-secrets-key", &out), 1) << out;
  EXPECT_NE(out.find(key_file + " is read-only"), std::string::npos) << out;
  EXPECT_NE(out.find("purser-server rotate-secrets-key"), std::string::npos) << out;
  EXPECT_EQ(Slurp(key_file), new_key);

  // So offline: the server stopped, a new key file, the secrets re-sealed.
  server.Kill(SIGTERM);
  ASSERT_EQ(server.Wait(), 0);
  std::string offline_key_file = creds + "/secrets-key-2";
  ASSERT_EQ(
      Shell(std::string(PURSER_SERVER_BIN) + " rotate-secrets-key --data_dir=" + server.data_dir() +
                " --secrets_key_file=" + key_file + " --new_key_file=" + offline_key_file,
            &out),
      0)
      << out;
  EXPECT_NE(out.find("re-sealed 1 secrets"), std::string::npos) << out;
  const std::string offline_key = Slurp(offline_key_file);
  EXPECT_EQ(*FileMode(offline_key_file), 0600);
  EXPECT_EQ(out.find(HexEncode(offline_key)), std::string::npos);
  {
    auto store = db::SqliteStore::Open(server.data_dir() + "/purser.db", false);
    ASSERT_TRUE(store.ok());
    auto sealed = (*store)->GetSealedSecret("test-workspace-key");
    ASSERT_TRUE(sealed.ok());
    EXPECT_FALSE(Open(old_key, *sealed, "test-workspace-key").ok());
    EXPECT_FALSE(Open(new_key, *sealed, "test-workspace-key").ok());
    EXPECT_EQ(*Open(offline_key, *sealed, "test-workspace-key"), kKey);
  }
  // The old key no longer opens them: a server given it refuses to start, saying so.
  TestServer stale(dir.path(), {"--secrets_key_file=" + key_file});
  absl::Status st = stale.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(stale.Log().find("does not open the stored secrets"), std::string::npos) << stale.Log();
  TestServer rotated(dir.path(), {"--secrets_key_file=" + offline_key_file});
  ASSERT_TRUE(rotated.Start().ok()) << rotated.Log();  // it opened every secret
}

TEST(KeyCustody, KeyFilesReadableByOthersAreRefusedAtStart) {
  TempDir dir;
  std::string creds = dir.Sub("creds");
  ASSERT_TRUE(MakeDirs(creds, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(creds + "/secrets-key", RandomBytes(32), 0644).ok());
  TestServer server(dir.path(), {"--secrets_key_file=" + creds + "/secrets-key"});
  EXPECT_FALSE(server.Start().ok());
  EXPECT_NE(server.Log().find(creds + "/secrets-key has mode 0644"), std::string::npos)
      << server.Log();
  EXPECT_FALSE(PathExists(server.data_dir() + "/ca.pem"));  // refused before anything is made
}

}  // namespace
}  // namespace purser::testing
