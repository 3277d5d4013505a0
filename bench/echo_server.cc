#include "bench/echo_server.h"

#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "shared/grpc_options.h"

namespace purser::bench {

EchoServer::EchoServer(const Pki& pki) {
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = pki.ca_pem;
  ssl.pem_key_cert_pairs.push_back({pki.server_key, pki.server_pem});
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
  b.RegisterService(&impl_);
  server_ = b.BuildAndStart();
}

EchoServer::~EchoServer() { server_->Shutdown(); }

LoadResult RunEcho(const Pki& pki, int port, int channels, int workers, absl::Duration d) {
  std::vector<std::unique_ptr<Echo::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    // Distinct channel args keep gRPC from sharing one connection.
    grpc::ChannelArguments args = ClientChannelArgs();
    args.SetInt("purser.bench.channel", c);
    grpc::SslCredentialsOptions o{pki.ca_pem, pki.client_key, pki.client_pem};
    stubs.push_back(Echo::NewStub(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                            grpc::SslCredentials(o), args)));
  }
  EchoMessage msg;
  msg.set_payload(std::string(64, 'x'));
  return RunLoad(workers, d, [&](int w) {
    EchoMessage out;
    grpc::ClientContext ctx;
    return stubs[w % channels]->Echo(&ctx, msg, &out).ok();
  });
}

}  // namespace purser::bench
