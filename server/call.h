// How a unary RPC is served: on the work pool (reactions must not block),
// authorised by its method's rule and audited by it (access.h, audit.h), and
// counted and timed (rpc_metrics.h), in one place, so no handler can skip
// any of them.
#pragma once
#include <string>
#include <utility>

#include "google/protobuf/message.h"
#include "grpcpp/support/server_callback.h"
#include "server/audit.h"
#include "server/core.h"
#include "server/rpc_metrics.h"

namespace purser::server {

// `fn(const Caller&) -> absl::Status` runs once the caller passed the rule of
// `full_method`; the call finishes with its status.
template <typename Fn>
grpc::ServerUnaryReactor* ServeUnary(ServerCore* core, grpc::CallbackServerContext* ctx,
                                     std::string full_method, const google::protobuf::Message* req,
                                     Fn fn) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  RpcMetrics::Call call = RpcMetrics::Call::Start(core->rpc_metrics, full_method);
  bool queued = core->pool->TrySubmit(
      [core, ctx, r, call, method = std::move(full_method), req, fn = std::move(fn)]() mutable {
        CallAudit audit(core, method, *ctx->auth_context(), *req);
        auto caller = core->authz.Authorize(*ctx->auth_context(), method);
        absl::Status st;
        if (!caller.ok()) {
          st = caller.status();
          audit.Refused(st);
        } else {
          st = fn(*caller);
          audit.Done(st);
        }
        grpc::Status status = ToGrpc(st);
        call.End(status.error_code());
        r->Finish(std::move(status));
      });
  if (!queued) {
    call.End(grpc::StatusCode::RESOURCE_EXHAUSTED);
    r->Finish(ServerBusy());
  }
  return r;
}

}  // namespace purser::server
