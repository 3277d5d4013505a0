#include "server/rpc_metrics.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace purser::server {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;
using grpc::experimental::ServerRpcInfo;

constexpr int kCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED
const char* const kCodeNames[kCodes] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

const char* KindName(RpcMetrics::Kind k) {
  switch (k) {
    case RpcMetrics::Kind::UNARY:
      return "unary";
    case RpcMetrics::Kind::CLIENT_STREAMING:
      return "client_stream";
    case RpcMetrics::Kind::SERVER_STREAMING:
      return "server_stream";
    case RpcMetrics::Kind::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

// Answering a call: milliseconds are common, seconds are slow.
const std::vector<double> kHandlingBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};
// Long polls end within --max_wait_seconds; streams (downloads, watches) may last hours.
const std::vector<double> kLongCallBuckets = {0.1, 0.5, 1,   5,   10,   30,
                                              60,  120, 300, 600, 1800, 3600};

template <typename T, typename Make>
T* Lazy(std::atomic<T*>& slot, Make make) {
  T* p = slot.load(std::memory_order_acquire);
  if (p == nullptr) {  // Family::With gives every racer the same child
    p = make();
    slot.store(p, std::memory_order_release);
  }
  return p;
}

class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(RpcMetrics* metrics, RpcMetrics::Entry* entry)
      : metrics_(metrics), entry_(entry), start_(std::chrono::steady_clock::now()) {
    metrics_->Started(entry_);
  }
  // A call that never sent a status (the server stopped under it) ends as cancelled.
  ~RpcInterceptor() override {
    if (!done_) Done(grpc::StatusCode::CANCELLED);
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && !done_) {
      Done(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Done(grpc::StatusCode code) {
    done_ = true;
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
    metrics_->Handled(entry_, code, took.count());
  }

  RpcMetrics* const metrics_;
  RpcMetrics::Entry* const entry_;
  const std::chrono::steady_clock::time_point start_;
  bool done_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    RpcMetrics::Entry* e = metrics_->Find(info->method(), info->type());
    if (RpcMetrics::Direct(e)) return nullptr;  // no interceptor at all on that call
    return new RpcInterceptor(metrics_, e);
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

struct RpcMetrics::Entry {
  Entry(std::string service_name, std::string method_name, Kind kind, bool long_poll,
        bool timed_by_handler)
      : service(std::move(service_name)),
        method(std::move(method_name)),
        type(KindName(kind)),
        long_call(long_poll || kind != Kind::UNARY),
        direct(timed_by_handler) {
    for (auto& h : handled) h.store(nullptr, std::memory_order_relaxed);
  }
  const std::string service;
  const std::string method;
  const std::string type;
  const bool long_call;  // its duration is the peer's, not the server's
  const bool direct;     // timed by its handler (Call), not the interceptor
  std::atomic<metrics::Counter*> started{nullptr};
  std::atomic<metrics::Counter*> handled[kCodes];
  std::atomic<metrics::Histogram*> seconds{nullptr};
};

std::vector<RpcMetrics::Method> RpcMetrics::MethodsOf(
    const google::protobuf::ServiceDescriptor* service) {
  std::vector<Method> out;
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    Kind kind = m->client_streaming()
                    ? (m->server_streaming() ? Kind::BIDI_STREAMING : Kind::CLIENT_STREAMING)
                    : (m->server_streaming() ? Kind::SERVER_STREAMING : Kind::UNARY);
    out.push_back({absl::StrCat("/", service->full_name(), "/", m->name()), kind});
  }
  return out;
}

RpcMetrics::RpcMetrics(metrics::Registry* registry, const std::vector<Method>& methods,
                       const std::vector<std::string>& long_polls,
                       const std::vector<std::string>& direct) {
  const std::vector<std::string> method_labels = {"grpc_service", "grpc_method", "grpc_type"};
  started_ = registry->AddCounter("purser_grpc_server_started_total", "RPCs started on the server",
                                  method_labels);
  handled_ = registry->AddCounter("purser_grpc_server_handled_total",
                                  "RPCs completed on the server, by status code",
                                  {"grpc_service", "grpc_method", "grpc_type", "grpc_code"});
  handling_seconds_ = registry->AddHistogram(
      "purser_grpc_server_handling_seconds",
      "Time from the start of an RPC to its status, for calls answered at once (not long polls "
      "or streams)",
      kHandlingBuckets, {"grpc_service", "grpc_method"});
  long_call_seconds_ = registry->AddHistogram(
      "purser_grpc_server_long_call_seconds",
      "Duration of long polls (WaitForWork) and streams: how long the peer held the call",
      kLongCallBuckets, {"grpc_service", "grpc_method"});
  for (const auto& m : methods) {
    std::string name = m.full_name.substr(1);
    size_t slash = name.find('/');
    bool long_poll = false, timed_by_handler = false;
    for (const auto& l : long_polls) long_poll = long_poll || l == m.full_name;
    for (const auto& d : direct) timed_by_handler = timed_by_handler || d == m.full_name;
    by_name_[m.full_name] = std::make_unique<Entry>(name.substr(0, slash), name.substr(slash + 1),
                                                    m.kind, long_poll, timed_by_handler);
  }
  for (Kind k :
       {Kind::UNARY, Kind::CLIENT_STREAMING, Kind::SERVER_STREAMING, Kind::BIDI_STREAMING}) {
    unknown_[static_cast<int>(k)] = std::make_unique<Entry>("unknown", "unknown", k, false, false);
  }
}

RpcMetrics::~RpcMetrics() = default;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<Factory>(this);
}

RpcMetrics::Entry* RpcMetrics::Find(const char* full_name, Kind kind) {
  auto it = full_name ? by_name_.find(full_name) : by_name_.end();
  if (it != by_name_.end()) return it->second.get();
  int k = static_cast<int>(kind);
  return unknown_[k >= 0 && k < 4 ? k : 0].get();
}

bool RpcMetrics::Direct(const Entry* e) { return e->direct; }

RpcMetrics::Call RpcMetrics::Call::Start(RpcMetrics* metrics, const std::string& full_method) {
  Call c;
  if (metrics == nullptr) return c;
  c.metrics_ = metrics;
  c.entry_ = metrics->Find(full_method.c_str(), Kind::UNARY);
  c.start_ = std::chrono::steady_clock::now();
  metrics->Started(c.entry_);
  return c;
}

void RpcMetrics::Call::End(grpc::StatusCode code) {
  if (metrics_ == nullptr) return;
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
  metrics_->Handled(entry_, code, took.count());
  metrics_ = nullptr;  // once
}

void RpcMetrics::Started(Entry* e) {
  Lazy(e->started, [&] { return started_->With({e->service, e->method, e->type}); })->Inc();
}

void RpcMetrics::Handled(Entry* e, grpc::StatusCode code, double seconds) {
  int c = static_cast<int>(code);
  if (c < 0 || c >= kCodes) c = static_cast<int>(grpc::StatusCode::UNKNOWN);
  Lazy(e->handled[c], [&] {
    return handled_->With({e->service, e->method, e->type, kCodeNames[c]});
  })->Inc();
  Lazy(e->seconds, [&] {
    return (e->long_call ? long_call_seconds_ : handling_seconds_)->With({e->service, e->method});
  })->Observe(seconds);
}

}  // namespace purser::server
