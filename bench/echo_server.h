// The bare mTLS echo server (callback API), the baseline for RPC paths.
#pragma once
#include <memory>

#include "bench/bench_util.h"
#include "echo.grpc.pb.h"
#include "grpcpp/server.h"

namespace purser::bench {

class EchoServer {
 public:
  explicit EchoServer(const Pki& pki);
  ~EchoServer();
  int port() const { return port_; }

 private:
  class Impl : public Echo::CallbackService {
    grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const EchoMessage* req,
                                   EchoMessage* resp) override {
      resp->set_payload(req->payload());
      auto* r = ctx->DefaultReactor();
      r->Finish(grpc::Status::OK);
      return r;
    }
  };
  Impl impl_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Runs `workers` closed-loop echo callers over `channels` mTLS channels.
LoadResult RunEcho(const Pki& pki, int port, int channels, int workers, absl::Duration d);

}  // namespace purser::bench
