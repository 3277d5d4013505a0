#include "client/connection.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "purser/v1/agent.grpc.pb.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser::client {
namespace {

std::string P(const std::string& dir, const char* name) { return absl::StrCat(dir, "/", name); }

absl::StatusOr<std::string> Nonce(const std::string& state_dir) {
  std::string path = P(state_dir, "nonce");
  if (PathExists(path)) return ReadFile(path);
  std::string nonce = RandomHex(16);
  RETURN_IF_ERROR(WriteFileAtomic(path, nonce, 0600));
  return nonce;
}

}  // namespace

absl::StatusOr<Identity> LoadIdentity(const std::string& state_dir) {
  if (!PathExists(P(state_dir, "cert.pem"))) {
    return absl::NotFoundError(absl::StrCat("no agent identity in ", state_dir));
  }
  Identity id;
  ASSIGN_OR_RETURN(id.key_pem, ReadFile(P(state_dir, "key.pem")));
  ASSIGN_OR_RETURN(id.cert_pem, ReadFile(P(state_dir, "cert.pem")));
  ASSIGN_OR_RETURN(id.ca_pem, ReadFile(P(state_dir, "ca.pem")));
  ASSIGN_OR_RETURN(id.nonce, Nonce(state_dir));
  ASSIGN_OR_RETURN(CertInfo info, ParseCert(id.cert_pem));
  // Written one after the other: a crash between two renewals could pair a
  // certificate with a key that is not its own. Refused here, by name.
  auto pub = PublicKeyDerOfKey(id.key_pem);
  if (!pub.ok() || *pub != info.public_key_der) {
    return absl::FailedPreconditionError(
        absl::StrCat(P(state_dir, "key.pem"), " is not the key of ", P(state_dir, "cert.pem"),
                     ": enroll again with a token (purser-agent --reenroll)"));
  }
  id.endpoint_id = info.common_name;
  return id;
}

absl::StatusOr<Identity> Enroll(const std::string& server, const std::string& ca_pem,
                                const std::string& token, const v1::Inventory& inventory,
                                const std::string& state_dir) {
  RETURN_IF_ERROR(MakeDirs(state_dir, 0700));
  Identity id;
  id.ca_pem = ca_pem;
  ASSIGN_OR_RETURN(id.nonce, Nonce(state_dir));
  // A machine enrolling again keeps its key, and so its endpoint id and history.
  std::string key_path = P(state_dir, "key.pem");
  if (PathExists(key_path)) {
    ASSIGN_OR_RETURN(id.key_pem, ReadFile(key_path));
  } else {
    ASSIGN_OR_RETURN(id.key_pem, GenerateKeyPem());
  }
  ASSIGN_OR_RETURN(std::string csr, MakeCsr(id.key_pem, inventory.hostname()));
  auto channel = MakeTlsChannel(server, TlsFiles{ca_pem, "", ""});
  auto stub = v1::AgentService::NewStub(channel);
  v1::EnrollRequest req;
  req.set_token(token);
  req.set_csr_pem(csr);
  *req.mutable_inventory() = inventory;
  req.mutable_inventory()->set_agent_nonce(id.nonce);
  v1::EnrollResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status st = stub->Enroll(&ctx, req, &resp);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("enrollment failed: ", st.error_message()));
  }
  id.cert_pem = resp.certificate_pem();
  id.endpoint_id = resp.endpoint_id();
  RETURN_IF_ERROR(WriteFileAtomic(P(state_dir, "ca.pem"), ca_pem, 0644));
  RETURN_IF_ERROR(SaveCertificate(state_dir, id.key_pem, id.cert_pem));
  return id;
}

absl::Status SaveCertificate(const std::string& state_dir, const std::string& key_pem,
                             const std::string& cert_pem) {
  // Key first (unchanged by renewals): a crash between the two leaves no
  // certificate, or the old one for the same key.
  RETURN_IF_ERROR(WriteFileAtomic(P(state_dir, "key.pem"), key_pem, 0600));
  return WriteFileAtomic(P(state_dir, "cert.pem"), cert_pem, 0600);
}

std::shared_ptr<grpc::Channel> AgentChannel(const std::string& server, const Identity& id) {
  return MakeTlsChannel(server, TlsFiles{id.ca_pem, id.cert_pem, id.key_pem});
}

}  // namespace purser::client
