#include "server/server_metrics.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "purser/v1/agent.grpc.pb.h"
#include "purser/v1/operator.grpc.pb.h"
#include "shared/files.h"
#include "shared/logging.h"
#include "shared/plan/platform.h"
#include "shared/process_stats.h"
#include "shared/x509.h"

namespace purser::server {
namespace {

using metrics::Labels;
using metrics::MetricFamily;
using metrics::Type;

MetricFamily Gauge(const std::string& name, const std::string& help) {
  return {name, help, Type::kGauge, {}};
}

std::string StateName(v1::EndpointState s) {
  return ShortEnumName(v1::EndpointState_Name(s), "ENDPOINT_STATE_");
}

std::string OsName(v1::OsProduct p) {
  std::string name = v1::OsProduct_Name(p);
  return name.empty() ? absl::StrCat(static_cast<int>(p)) : ShortEnumName(name, "OS_PRODUCT_");
}

bool Finished(v1::CampaignState s) {
  return s == v1::CAMPAIGN_STATE_COMPLETED || s == v1::CAMPAIGN_STATE_CANCELLED ||
         s == v1::CAMPAIGN_STATE_EXPIRED;
}

// A group commit holds one write or hundreds (--workers bounds it in practice).
const std::vector<double> kCommitSecondsBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
const std::vector<double> kCommitWritesBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

}  // namespace

std::vector<MetricFamily> ServerMetrics::Cache::Get(int64_t now_ms, int64_t ttl_ms,
                                                    const Compute& compute) {
  {
    absl::MutexLock lock(&mu_);
    if (valid_ && now_ms - at_ms_ < ttl_ms && now_ms >= at_ms_) return families_;
  }
  std::vector<MetricFamily> fresh = compute();
  absl::MutexLock lock(&mu_);
  valid_ = true;
  at_ms_ = now_ms;
  families_ = fresh;
  return fresh;
}

ServerMetrics::ServerMetrics(Options options) : options_(options) {
  std::vector<RpcMetrics::Method> methods;
  std::vector<std::string> direct;  // unary: timed by ServeUnary or the long poll's reactor
  for (const char* service :
       {v1::AgentService::service_full_name(), v1::OperatorService::service_full_name()}) {
    const auto* d = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    if (d == nullptr) continue;
    for (const auto& m : RpcMetrics::MethodsOf(d)) {
      methods.push_back(m);
      if (m.kind == RpcMetrics::Kind::UNARY) direct.push_back(m.full_name);
    }
  }
  // What gRPC serves beside them (health checking, reflection).
  methods.push_back({"/grpc.health.v1.Health/Check", RpcMetrics::Kind::UNARY});
  methods.push_back({"/grpc.health.v1.Health/Watch", RpcMetrics::Kind::SERVER_STREAMING});
  methods.push_back({"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                     RpcMetrics::Kind::BIDI_STREAMING});
  rpc_ =
      std::make_unique<RpcMetrics>(&registry_, methods,
                                   std::vector<std::string>{absl::StrCat(
                                       "/", v1::AgentService::service_full_name(), "/WaitForWork")},
                                   direct);
  leases_expired_ =
      registry_
          .AddCounter("purser_leases_expired_total",
                      "Job leases that expired without a report (the attempt TIMED_OUT)")
          ->With();
  commit_seconds_ = registry_
                        .AddHistogram("purser_sqlite_group_commit_seconds",
                                      "Time of one group transaction of the SQLite writer, from "
                                      "BEGIN to durable COMMIT",
                                      kCommitSecondsBuckets)
                        ->With();
  commit_writes_ = registry_
                       .AddHistogram("purser_sqlite_group_commit_writes",
                                     "Writes (callers) committed together in one group transaction",
                                     kCommitWritesBuckets)
                       ->With();
  store_read_errors_ = registry_
                           .AddCounter("purser_metrics_store_errors_total",
                                       "Scrapes whose figures from the store could not be read "
                                       "(the server log says why)")
                           ->With();
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::ObserveCommit(double seconds, int writes) {
  commit_seconds_->Observe(seconds);
  commit_writes_->Observe(writes);
}

void ServerMetrics::Watch(ServerCore* core) {
  registry_.AddCollector([this, core](std::vector<MetricFamily>* out) {
    auto add = [out](std::vector<MetricFamily> got) {
      for (auto& f : got) out->push_back(std::move(f));
    };
    const int64_t now = core->clock->NowMs();
    add(endpoints_cache_.Get(now, options_.store_cache_ms, [&] { return EndpointFigures(core); }));
    add(campaigns_cache_.Get(now, options_.store_cache_ms, [&] { return CampaignFigures(core); }));
    add(certificates_cache_.Get(now, options_.certificate_cache_ms,
                                [&] { return CertificateFigures(core); }));
    add(LiveFigures(core));
  });
}

std::vector<MetricFamily> ServerMetrics::EndpointFigures(ServerCore* core) {
  auto counts = core->store->CountEndpointsByStateAndOs();
  if (!counts.ok()) {
    store_read_errors_->Inc();
    LogWarning("metrics: counting endpoints: %s", counts.status().ToString());
    return {};
  }
  MetricFamily f = Gauge("purser_endpoints", "Endpoints per state and OS product");
  // Every state of every OS present, zeros included: a state that empties
  // shows 0 rather than vanishing.
  std::set<v1::OsProduct> products;
  for (const auto& [key, n] : *counts) products.insert(key.second);
  for (v1::OsProduct p : products) {
    const auto* states = v1::EndpointState_descriptor();
    for (int i = 0; i < states->value_count(); ++i) {
      auto s = static_cast<v1::EndpointState>(states->value(i)->number());
      if (s == v1::ENDPOINT_STATE_UNSPECIFIED) continue;
      auto it = counts->find({s, p});
      f.Add({{"state", StateName(s)}, {"os", OsName(p)}},
            it == counts->end() ? 0 : static_cast<double>(it->second));
    }
  }
  return {std::move(f)};
}

std::vector<MetricFamily> ServerMetrics::CampaignFigures(ServerCore* core) {
  auto all = core->store->ListCampaigns();
  if (!all.ok()) {
    store_read_errors_->Inc();
    LogWarning("metrics: listing campaigns: %s", all.status().ToString());
    return {};
  }
  MetricFamily by_state = Gauge("purser_campaigns", "Campaigns per state");
  std::map<v1::CampaignState, int> per_state;
  for (const auto& c : *all) per_state[c.state()]++;
  const auto* states = v1::CampaignState_descriptor();
  for (int i = 0; i < states->value_count(); ++i) {
    auto s = static_cast<v1::CampaignState>(states->value(i)->number());
    if (s == v1::CAMPAIGN_STATE_UNSPECIFIED) continue;
    by_state.Add({{"state", ShortEnumName(v1::CampaignState_Name(s), "CAMPAIGN_STATE_")}},
                 per_state[s]);
  }
  // Bounded: the active campaigns, and the most recent finished ones (the
  // store lists them oldest first).
  std::vector<const v1::Campaign*> shown;
  int finished = 0;
  for (auto it = all->rbegin(); it != all->rend(); ++it) {
    if (!Finished(it->state())) {
      shown.push_back(&*it);
    } else if (finished < options_.recent_finished_campaigns) {
      shown.push_back(&*it);
      ++finished;
    }
  }
  MetricFamily info = Gauge("purser_campaign_info",
                            "A campaign's name, plan and state (value 1); active campaigns and "
                            "the most recent finished ones");
  MetricFamily members = Gauge("purser_campaign_members", "Members of a campaign per member state");
  MetricFamily wave =
      Gauge("purser_campaign_current_wave", "The wave a campaign is at (0: canary)");
  const auto* member_states = v1::MemberState_descriptor();
  for (const v1::Campaign* c : shown) {
    auto list = core->store->ListMembers(c->id());
    if (!list.ok()) {
      store_read_errors_->Inc();
      LogWarning("metrics: members of campaign %s: %s", c->id(), list.status().ToString());
      continue;
    }
    info.Add({{"campaign", c->id()},
              {"name", c->name()},
              {"plan", c->plan_name()},
              {"state", ShortEnumName(v1::CampaignState_Name(c->state()), "CAMPAIGN_STATE_")}},
             1);
    wave.Add({{"campaign", c->id()}}, c->current_wave());
    std::map<v1::MemberState, int> count;
    for (const auto& m : *list) count[m.state()]++;
    for (int i = 0; i < member_states->value_count(); ++i) {
      auto s = static_cast<v1::MemberState>(member_states->value(i)->number());
      if (s == v1::MEMBER_STATE_UNSPECIFIED) continue;
      members.Add({{"campaign", c->id()},
                   {"state", ShortEnumName(v1::MemberState_Name(s), "MEMBER_STATE_")}},
                  count[s]);
    }
  }
  return {std::move(by_state), std::move(info), std::move(members), std::move(wave)};
}

std::vector<MetricFamily> ServerMetrics::CertificateFigures(ServerCore* core) {
  std::vector<MetricFamily> out;
  MetricFamily own = Gauge("purser_certificate_expiry_timestamp_seconds",
                           "When the server's own certificates expire (Unix time): the CA "
                           "agents and operators trust, and the server's TLS certificate");
  for (const auto& [label, file] : {std::pair<std::string, std::string>{"ca", "ca.pem"},
                                    std::pair<std::string, std::string>{"server", "server.pem"}}) {
    std::string path = core->options.data_dir + "/" + file;
    auto pem = ReadFile(path);
    auto cert = pem.ok() ? ParseCert(*pem) : absl::StatusOr<CertInfo>(pem.status());
    if (!cert.ok()) {
      LogWarning("metrics: %s: %s", path, cert.status().ToString());
      continue;
    }
    own.Add({{"certificate", label}}, static_cast<double>(cert->not_after_ms / 1000));
  }
  out.push_back(std::move(own));

  auto certs = core->store->ListCerts();
  if (!certs.ok()) {
    store_read_errors_->Inc();
    LogWarning("metrics: listing certificates: %s", certs.status().ToString());
    return out;
  }
  // The certificate in use by each holder is its latest; a renewed one leaves
  // its predecessor behind, unrevoked, to expire unused.
  std::map<std::pair<std::string, std::string>, int64_t> latest;  // (kind, subject) -> not_after
  for (const auto& c : *certs) {
    if (c.revoked_ms != 0) continue;
    auto key = std::make_pair(std::string(c.role == "agent" ? "agent" : "operator"), c.subject);
    latest[key] = std::max(latest[key], c.not_after_ms);
  }
  const int64_t now = core->clock->NowMs();
  std::map<std::string, int64_t> earliest;
  std::map<std::pair<std::string, std::string>, int> validity;
  for (const std::string kind : {"agent", "operator"}) {
    for (const std::string v : {"valid", "expiring_soon", "expired"}) validity[{kind, v}] = 0;
  }
  for (const auto& [key, not_after] : latest) {
    const std::string& kind = key.first;
    if (not_after <= now) {
      validity[{kind, "expired"}]++;
      continue;
    }
    validity[{kind, not_after - now <= options_.expiring_soon_ms ? "expiring_soon" : "valid"}]++;
    auto it = earliest.find(kind);
    if (it == earliest.end() || not_after < it->second) earliest[kind] = not_after;
  }
  MetricFamily first = Gauge("purser_client_certificate_earliest_expiry_timestamp_seconds",
                             "The earliest expiry (Unix time) among the agent or operator "
                             "certificates in use: each holder's latest, unrevoked, unexpired");
  for (const auto& [kind, ms] : earliest) {
    first.Add({{"kind", kind}}, static_cast<double>(ms / 1000));
  }
  out.push_back(std::move(first));
  MetricFamily counts = Gauge("purser_client_certificates",
                              "Holders (agents, operators) of an unrevoked certificate, by the "
                              "validity of their latest: valid, expiring_soon (within 7 days), "
                              "expired");
  for (const auto& [key, n] : validity) {
    counts.Add({{"kind", key.first}, {"validity", key.second}}, n);
  }
  out.push_back(std::move(counts));
  return out;
}

std::vector<MetricFamily> ServerMetrics::LiveFigures(ServerCore* core) {
  std::vector<MetricFamily> out;
  MetricFamily build = Gauge("purser_build_info", "The server's version (value 1)");
  build.Add({{"version", PURSER_VERSION}}, 1);
  out.push_back(std::move(build));
  MetricFamily parked =
      Gauge("purser_long_polls_parked", "Agents' WaitForWork calls parked, waiting for work");
  parked.Add({}, static_cast<double>(core->waiters.size()));
  out.push_back(std::move(parked));
  if (core->pool) {
    MetricFamily queued =
        Gauge("purser_work_queue_tasks", "Calls and tasks waiting for a worker thread (--workers)");
    queued.Add({}, static_cast<double>(core->pool->queued()));
    out.push_back(std::move(queued));
  }
  ProcessStats p = ReadProcessStats();
  MetricFamily start =
      Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch");
  start.Add({}, static_cast<double>(core->started_ms) / 1000);
  out.push_back(std::move(start));
  MetricFamily cpu = {
      "process_cpu_seconds_total", "User and system CPU time spent", Type::kCounter, {}};
  cpu.Add({}, p.cpu_seconds);
  out.push_back(std::move(cpu));
  MetricFamily rss = Gauge("process_resident_memory_bytes", "Resident memory size");
  rss.Add({}, static_cast<double>(p.rss_bytes));
  out.push_back(std::move(rss));
  MetricFamily threads = Gauge("process_threads", "Threads of the process");
  threads.Add({}, p.threads);
  out.push_back(std::move(threads));
  return out;
}

}  // namespace purser::server
