// RPC counts and latencies. Two hooks, one set of figures:
//  - unary calls of the Purser services are timed by their call wrapper
//    (ServeUnary in call.h, and the long poll's reactor) through Call;
//  - every other call (streams, health checks, reflection, unknown methods)
//    by a gRPC server interceptor. With an interceptor, gRPC finishes each
//    batch of a call with an extra round through the completion queue; the
//    hot path (reports, long polls) does not pay it: the interceptor is not
//    even created for the calls timed by their handler.
//
// A long poll (WaitForWork) and a stream last as long as their peer wants,
// not as long as the server works on them: their durations go to a histogram
// of their own (purser_grpc_server_long_call_seconds) so that the handling
// histogram shows only the time the server took to answer.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/metrics.h"

namespace purser::server {

class RpcMetrics {
 public:
  using Kind = grpc::experimental::ServerRpcInfo::Type;
  struct Method {
    std::string full_name;  // "/package.Service/Method"
    Kind kind = Kind::UNARY;
  };
  // The methods of `service`.
  static std::vector<Method> MethodsOf(const google::protobuf::ServiceDescriptor* service);

  // `methods`: what the server serves; calls of any other name are counted
  // under "unknown" (names come from clients: they must not grow the label
  // set). `long_polls`: unary methods that wait for work. `direct`: methods
  // whose handlers time themselves with Call (the interceptor skips them).
  RpcMetrics(metrics::Registry* registry, const std::vector<Method>& methods,
             const std::vector<std::string>& long_polls, const std::vector<std::string>& direct);
  ~RpcMetrics();

  struct Entry;
  // One call, timed from Start to End. A null `metrics` records nothing.
  class Call {
   public:
    Call() = default;
    static Call Start(RpcMetrics* metrics, const std::string& full_method);
    void End(grpc::StatusCode code);

   private:
    RpcMetrics* metrics_ = nullptr;
    Entry* entry_ = nullptr;
    std::chrono::steady_clock::time_point start_;
  };

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // The figures of one method; children are made on first use, so that only
  // codes that happened are exposed.
  Entry* Find(const char* full_name, Kind kind);
  // Whether calls of `e` are timed by their handler (Call), not the interceptor.
  static bool Direct(const Entry* e);
  void Started(Entry* e);
  void Handled(Entry* e, grpc::StatusCode code, double seconds);

 private:
  metrics::Family<metrics::Counter>* started_;
  metrics::Family<metrics::Counter>* handled_;
  metrics::Family<metrics::Histogram>* handling_seconds_;
  metrics::Family<metrics::Histogram>* long_call_seconds_;
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> by_name_;  // fixed after construction
  std::unique_ptr<Entry> unknown_[4];                                 // by Kind
};

}  // namespace purser::server
