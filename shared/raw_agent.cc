#include "shared/raw_agent.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "purser/v1/agent.grpc.pb.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/status_macros.h"
#include "shared/x509.h"

namespace purser {
namespace {

// The content of state_dir/name, made by `make` the first time.
absl::StatusOr<std::string> Kept(const std::string& path,
                                 const std::function<absl::StatusOr<std::string>()>& make) {
  if (PathExists(path)) return ReadFile(path);
  ASSIGN_OR_RETURN(std::string value, make());
  RETURN_IF_ERROR(WriteFileAtomic(path, value, 0600));
  return value;
}

}  // namespace

absl::StatusOr<RawIdentity> EnrollRawIdentity(const std::string& server, const std::string& ca_pem,
                                              const std::string& token,
                                              const v1::Inventory& inventory,
                                              const std::string& state_dir) {
  RETURN_IF_ERROR(MakeDirs(state_dir, 0700));
  RawIdentity id;
  id.ca_pem = ca_pem;
  ASSIGN_OR_RETURN(id.key_pem, Kept(state_dir + "/key.pem", GenerateKeyPem));
  ASSIGN_OR_RETURN(id.nonce, Kept(state_dir + "/nonce", [] { return RandomHex(16); }));
  ASSIGN_OR_RETURN(std::string csr, MakeCsr(id.key_pem, inventory.hostname()));
  auto stub = v1::AgentService::NewStub(MakeTlsChannel(server, TlsFiles{ca_pem, "", ""}));
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
  return id;
}

std::shared_ptr<grpc::Channel> RawAgentChannel(const std::string& server, const RawIdentity& id) {
  return MakeTlsChannel(server, TlsFiles{id.ca_pem, id.cert_pem, id.key_pem});
}

}  // namespace purser
