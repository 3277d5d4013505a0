// purserctl: the operator CLI. `purserctl help` lists the commands.
//
// Exit codes: 0 ok, 1 the server refused or failed, 2 usage error,
// 3 server unreachable, 4 not allowed (certificate or role), 5 not found.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpc/support/log.h"
#include "grpcpp/client_context.h"
#include "purser/v1/operator.grpc.pb.h"
#include "purserctl/args.h"
#include "purserctl/output.h"
#include "shared/crypto.h"
#include "shared/files.h"
#include "shared/grpc_options.h"
#include "shared/plan/effective_plan.h"
#include "shared/plan/plan_loader.h"
#include "shared/plan/platform.h"
#include "shared/x509.h"

ABSL_FLAG(std::string, server, "", "server host:port (env PURSER_SERVER)");
ABSL_FLAG(std::string, ca, "", "CA certificate (env PURSER_CA)");
ABSL_FLAG(std::string, cert, "", "operator certificate (env PURSER_CERT)");
ABSL_FLAG(std::string, key, "", "operator private key (env PURSER_KEY)");
ABSL_FLAG(std::string, o, "table", "output: table or json");
ABSL_FLAG(std::string, state, "", "endpoints list: only this state (e.g. FAILED)");
ABSL_FLAG(int, page_size, 0, "endpoints list: page size (default: all pages)");
ABSL_FLAG(std::string, plan, "", "run start: plan name");
ABSL_FLAG(std::vector<std::string>, endpoints, {}, "run start: endpoint ids");
ABSL_FLAG(bool, all, false, "run start: every endpoint");
ABSL_FLAG(std::vector<std::string>, params, {}, "run start: plan parameters k=v,k2=v2");
ABSL_FLAG(int, uses, 1, "token create: how many enrollments");
ABSL_FLAG(std::string, ttl, "24h", "token create: lifetime");
ABSL_FLAG(std::vector<std::string>, labels, {}, "token create: labels k=v for its endpoints");
ABSL_FLAG(std::string, out, "", "token create: file to write the token to (mode 0600)");
ABSL_FLAG(std::vector<std::string>, readmit, {},
          "token create: revoked endpoint ids this token may enroll again");
ABSL_FLAG(std::string, from_file, "", "secret put: file holding the value");
ABSL_FLAG(std::string, reboot, "now",
          "run start: reboot policy: now, operator, or window:HH:MM-HH:MM (UTC)");
ABSL_FLAG(std::string, name, "", "artifact upload: name (default: the file's name)");
ABSL_FLAG(std::string, os, "",
          "plan show: the OS, e.g. win7-sp1-x64-ent, win81-x86-pro, win2008r2-sp1-x64");
ABSL_FLAG(std::vector<std::string>, products, {}, "campaign create: WINDOWS_7,WINDOWS_8_1,...");
ABSL_FLAG(bool, dynamic, false, "campaign create: endpoints enrolling later join");
ABSL_FLAG(int, cap, 0, "campaign create: most members (dynamic)");
ABSL_FLAG(int, canary, 0, "campaign create: canary size");
ABSL_FLAG(bool, approve_canary, false, "campaign create: wait for approval after the canary");
ABSL_FLAG(bool, approve_waves, false, "campaign create: wait for approval after each wave");
ABSL_FLAG(std::vector<std::string>, waves, {}, "campaign create: waves, e.g. 10%,50%,100% or 5,20");
ABSL_FLAG(int, max_in_flight, 0, "campaign create: endpoints running at once");
ABSL_FLAG(int, rate, 0, "campaign create: endpoints started per minute");
ABSL_FLAG(std::string, failures, "", "campaign create: pause at N failures or P% (e.g. 3 or 20%)");
ABSL_FLAG(int, min_sample, 0, "campaign create: finished endpoints before the threshold applies");
ABSL_FLAG(std::string, window, "", "campaign create: start endpoints only in HH:MM-HH:MM (UTC)");
ABSL_FLAG(std::string, deadline, "", "campaign create: expire after this long (e.g. 72h)");
ABSL_FLAG(std::string, error_class, "", "campaign retry: only this error class (e.g. TIMEOUT)");
ABSL_FLAG(std::string, role, "", "cert issue: admin, operator or viewer");
ABSL_FLAG(std::string, product, "", "endpoints list: only this OS (WINDOWS_7, WINDOWS_8_1, ...)");
ABSL_FLAG(std::string, campaign, "", "endpoints list: only members of this campaign");
ABSL_FLAG(std::string, not_seen_for, "", "endpoints list: not seen for this long (e.g. 2h)");
ABSL_FLAG(std::vector<std::string>, remove, {}, "labels: keys to remove");
ABSL_FLAG(std::string, who, "", "audit: only this operator");
ABSL_FLAG(int64_t, before_ms, 0, "endpoints history: entries older than this (from the last page)");
ABSL_FLAG(std::string, method, "", "audit: only this method");
ABSL_FLAG(std::string, config, "",
          "connection settings file (env PURSER_CONFIG): lines 'server = host:port', 'ca = ...', "
          "'cert = ...', 'key = ...'");

namespace {

using purser::ctl::ToJson;
namespace v1 = purser::v1;

constexpr char kUsage[] = R"(purserctl [connection flags] COMMAND [flags]

Commands:
  token create --out FILE [--uses N] [--ttl 24h] [--labels k=v,...] [--readmit ID,...]
  endpoints list [--state STATE] [--product WINDOWS_7] [--labels k=v,...] [--campaign ID]
                 [--not_seen_for 2h] [--page_size N] [-o json]
  endpoints count [same filters as list]   endpoints per state
  server stats                              the server's CPU, memory, agents, SQLite
  endpoints labels ID [--labels k=v,...] [--remove k,...]
  endpoints get ID [-o json]
    run start --plan NAME (--endpoints ID,... | --all) [--params k=v,...]
            [--reboot now|operator|window:22:00-04:00]
    reboot allow ID...
  campaign create NAME --plan PLAN [--params ...] [--labels k=v] [--products WINDOWS_7,...]
            [--endpoints ID,...] [--dynamic --cap N] [--canary N --approve_canary]
            [--waves 10%,50%,100%] [--approve_waves] [--max_in_flight N] [--rate N]
            [--failures 3|20% --min_sample N] [--window HH:MM-HH:MM] [--deadline 72h]
            [--reboot now|operator|window:HH:MM-HH:MM]
  campaign list | get ID | watch ID
  campaign pause|resume|cancel|approve ID
    campaign retry ID [--error_class TIMEOUT]
  endpoints history ID [--page_size N] [--before_ms T]
  cert issue NAME --role admin|operator|viewer --out PREFIX   (writes PREFIX.key, PREFIX.pem)
  cert renew --out PREFIX
  cert list [-o json]
  cert revoke SERIAL
  audit [--who NAME] [--method NAME] [--page_size N] [-o json]
  (campaign watch exits 0 when completed, 10 when paused or waiting, 11 cancelled or expired)
  artifact upload FILE... [--name NAME]
  artifact list [-o json]
  secret put NAME --from_file FILE
  admin rotate-secrets-key                  a new secrets key; every secret re-sealed under it
  plans list [-o json]
  plan validate FILE
    plan show FILE --os PROFILE    (effective steps for a simulated profile's OS)
  plan upload FILE

Connection: --server, --ca, --cert, --key; else PURSER_SERVER, PURSER_CA,
PURSER_CERT, PURSER_KEY in the environment; else a config file (--config or
PURSER_CONFIG) of 'server = ...', 'ca = ...', 'cert = ...', 'key = ...' lines.
Exit codes: 0 ok, 1 refused/failed, 2 usage, 3 unreachable, 4 not allowed, 5 not found.)";

int Usage(const std::string& why) {
  std::cerr << "purserctl: " << why << "\n\n" << kUsage << "\n";
  return 2;
}

// A connection setting: the flag, else the environment, else the config file.
std::string Setting(const absl::Flag<std::string>& flag, const char* env, const char* key) {
  std::string v = absl::GetFlag(flag);
  if (v.empty() && std::getenv(env) != nullptr) v = std::getenv(env);
  if (!v.empty()) return v;
  std::string config = absl::GetFlag(FLAGS_config);
  if (config.empty() && std::getenv("PURSER_CONFIG") != nullptr)
    config = std::getenv("PURSER_CONFIG");
  if (config.empty()) return "";
  auto text = purser::ReadFile(config);
  if (!text.ok()) return "";
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (absl::StripAsciiWhitespace(kv.first) == key) {
      return std::string(absl::StripAsciiWhitespace(kv.second));
    }
  }
  return "";
}

int ExitFor(const grpc::Status& st) {
  std::string msg = st.error_message();
  switch (st.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (absl::StrContains(absl::AsciiStrToLower(msg), "handshake") ||
          absl::StrContains(msg, "SSL")) {
        std::cerr << "purserctl: the TLS handshake with the server failed (is --ca this "
                     "server's ca.pem? is the certificate still valid?): "
                  << msg << "\n";
      } else {
        std::cerr << "purserctl: server unreachable: " << msg << "\n";
      }
      return 3;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      std::cerr << "purserctl: not allowed: " << msg << "\n";
      return 4;
    case grpc::StatusCode::NOT_FOUND:
      std::cerr << "purserctl: not found: " << msg << "\n";
      return 5;
    default:
      std::cerr << "purserctl: " << msg << "\n";
      return 1;
  }
}

// k=v items of a flag whose items were checked at start (CheckKeyValueFlags).
std::map<std::string, std::string> KeyValues(const std::vector<std::string>& items) {
  return *purser::ctl::ParseKeyValues("", items);
}

absl::Status CheckKeyValueFlags() {
  for (const auto& [name, items] : {std::pair{"params", absl::GetFlag(FLAGS_params)},
                                    {"labels", absl::GetFlag(FLAGS_labels)}}) {
    auto kv = purser::ctl::ParseKeyValues(name, items);
    if (!kv.ok()) return kv.status();
  }
  return absl::OkStatus();
}

class Client {
 public:
  static absl::StatusOr<Client> Connect() {
    std::string server = Setting(FLAGS_server, "PURSER_SERVER", "server");
    if (server.empty())
      return absl::InvalidArgumentError("no server: give --server or PURSER_SERVER");
    auto tls = purser::LoadTlsFiles(Setting(FLAGS_ca, "PURSER_CA", "ca"),
                                    Setting(FLAGS_cert, "PURSER_CERT", "cert"),
                                    Setting(FLAGS_key, "PURSER_KEY", "key"));
    if (!tls.ok()) return tls.status();
    if (tls->cert_pem.empty() || tls->key_pem.empty()) {
      return absl::InvalidArgumentError(
          "an operator certificate and key are required (--cert, --key)");
    }
    return Client(v1::OperatorService::NewStub(purser::MakeTlsChannel(server, *tls)));
  }
  template <typename Req, typename Resp, typename Method>
  grpc::Status Call(Method method, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  v1::OperatorService::Stub* stub() { return stub_.get(); }

  // A full endpoint id from a unique prefix (tables show the first 12 characters).
  absl::StatusOr<std::string> ResolveId(const std::string& prefix) {
    if (prefix.size() >= 32) return prefix;
    v1::ListEndpointsRequest req;
    req.set_page_size(1000);
    std::vector<std::string> matches;
    while (true) {
      v1::ListEndpointsResponse resp;
      grpc::Status st = Call(&v1::OperatorService::Stub::ListEndpoints, req, &resp);
      if (!st.ok())
        return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
      for (const auto& e : resp.endpoints()) {
        if (e.id().rfind(prefix, 0) == 0) matches.push_back(e.id());
      }
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    if (matches.empty())
      return absl::NotFoundError(absl::StrCat("no endpoint id starts with ", prefix));
    if (matches.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, " matches ", matches.size(), " endpoints"));
    }
    return matches[0];
  }

  // Streams a file to the server in 256 KiB chunks.
  absl::StatusOr<v1::ArtifactInfo> Upload(const std::string& path, std::string name) {
    auto data = purser::ReadFile(path);
    if (!data.ok()) return data.status();
    if (name.empty()) name = path.substr(path.find_last_of('/') + 1);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
    v1::ArtifactInfo info;
    auto writer = stub_->UploadArtifact(&ctx, &info);
    v1::UploadArtifactRequest header;
    header.mutable_header()->set_name(name);
    header.mutable_header()->set_size(static_cast<int64_t>(data->size()));
    header.mutable_header()->set_sha256(purser::Sha256Hex(*data));
    bool ok = writer->Write(header);
    for (size_t off = 0; ok && off < data->size(); off += 256 * 1024) {
      v1::UploadArtifactRequest chunk;
      chunk.set_chunk(data->substr(off, 256 * 1024));
      ok = writer->Write(chunk);
    }
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    if (!st.ok())
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return info;
  }

 private:
  explicit Client(std::unique_ptr<v1::OperatorService::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::OperatorService::Stub> stub_;
};

using Stub = v1::OperatorService::Stub;

bool ParseReboot(const std::string& reboot, v1::RebootPolicy* policy) {
  int h1, m1, h2, m2;
  if (reboot == "now") {
    policy->set_mode(v1::RebootPolicy::MODE_NOW);
  } else if (reboot == "operator") {
    policy->set_mode(v1::RebootPolicy::MODE_OPERATOR);
  } else if (std::sscanf(reboot.c_str(), "window:%d:%d-%d:%d", &h1, &m1, &h2, &m2) == 4) {
    policy->set_mode(v1::RebootPolicy::MODE_MAINTENANCE_WINDOW);
    policy->set_window_start_minute(h1 * 60 + m1);
    policy->set_window_end_minute(h2 * 60 + m2);
  } else {
    return false;
  }
  return true;
}

int PlanCommand(const std::vector<char*>& args) {
  if (args.size() < 3) return Usage("plan: give validate FILE or show FILE --os PROFILE");
  std::string verb = args[1], file = args[2];
  auto plan = purser::LoadPlanFile(file);
  if (!plan.ok()) {
    std::cerr << plan.status().message() << "\n";
    return 1;
  }
  if (verb == "validate") {
    std::cout << file << ": plan \"" << plan->name() << "\" is valid (" << plan->steps_size()
              << " steps)\n";
    return 0;
  }
  if (verb == "show") {
    auto os_facts = purser::ParseOsName(absl::GetFlag(FLAGS_os));
    if (!os_facts.ok()) return Usage(absl::StrCat("--os: ", os_facts.status().message()));
    std::map<std::string, std::string> given = KeyValues(absl::GetFlag(FLAGS_params));
    for (const auto& p : plan->params()) {
      if (p.required() && !given.count(p.name())) given[p.name()] = "<" + p.name() + ">";
    }
    auto params = purser::ResolveParams(*plan, given);
    if (!params.ok()) return Usage(std::string(params.status().message()));
    const purser::v1::OsFacts& os = *os_facts;
    std::cout << plan->name() << " on " << purser::OsDisplayName(os);
    if (!purser::IsSupportedOs(os))
      std::cout << " (unsupported: " << purser::UnsupportedReason(os) << ")";
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows = {
        {"#", "STEP", "KIND", "ACTION", "SKIP IF", "DESCRIPTION"}};
    int n = 0;
    for (int i : purser::EffectiveSteps(*plan, os, *params)) {
      const auto& s = plan->steps(i);
      const auto* field = s.GetReflection()->GetOneofFieldDescriptor(
          s, s.GetDescriptor()->FindOneofByName("action"));
      rows.push_back({absl::StrCat(++n), s.id(),
                      purser::ShortEnumName(v1::StepKind_Name(s.kind()), "STEP_KIND_"),
                      field ? field->name() : "-",
                      s.has_skip_if() ? s.skip_if().ShortDebugString() : "", s.description()});
    }
    std::cout << purser::ctl::FormatTable(rows);
    return 0;
  }
  return Usage(absl::StrCat("plan: unknown verb ", verb));
}

int CampaignCommand(Client& client, const std::vector<char*>& args, bool json);
int AdminCommand(Client& client, const std::vector<char*>& args, bool json);

int Main(const std::vector<char*>& args) {
  if (args.empty() || std::string(args[0]) == "help") {
    std::cout << kUsage << "\n";
    return args.empty() ? 2 : 0;
  }
  std::string noun = args[0];
  std::string verb = args.size() > 1 ? args[1] : "";
  bool json = absl::GetFlag(FLAGS_o) == "json";
  if (absl::GetFlag(FLAGS_o) != "json" && absl::GetFlag(FLAGS_o) != "table") {
    return Usage("-o must be table or json");
  }
  if (noun == "plan" && verb != "upload") return PlanCommand(args);

  auto client = Client::Connect();
  if (!client.ok()) {
    bool refused = client.status().code() == absl::StatusCode::kPermissionDenied;
    std::cerr << "purserctl: " << client.status().message() << "\n";
    return refused ? 4 : 2;
  }
  if (noun == "token" && verb == "create") {
    std::string out = absl::GetFlag(FLAGS_out);
    if (out.empty()) return Usage("token create: --out FILE is required (the token is a secret)");
    absl::Duration ttl;
    if (!absl::ParseDuration(absl::GetFlag(FLAGS_ttl), &ttl)) return Usage("--ttl: not a duration");
    v1::CreateEnrollmentTokenRequest req;
    req.set_max_uses(absl::GetFlag(FLAGS_uses));
    req.set_ttl_seconds(absl::ToInt64Seconds(ttl));
    for (const auto& [k, v] : KeyValues(absl::GetFlag(FLAGS_labels)))
      (*req.mutable_labels())[k] = v;
    for (const auto& id : absl::GetFlag(FLAGS_readmit)) req.add_readmit_endpoint_ids(id);
    v1::CreateEnrollmentTokenResponse resp;
    grpc::Status st = client->Call(&Stub::CreateEnrollmentToken, req, &resp);
    if (!st.ok()) return ExitFor(st);
    if (auto w = purser::WriteFileAtomic(out, resp.token() + "\n", 0600); !w.ok()) {
      std::cerr << "purserctl: " << w.message() << "\n";
      return 1;
    }
    resp.clear_token();  // the secret goes to the file only
    if (json) {
      std::cout << ToJson(resp);
    } else {
      std::cout << "token " << resp.token_id() << " written to " << out << " (" << resp.max_uses()
                << " uses, expires "
                << absl::FormatTime(absl::FromUnixMillis(resp.expires_unix_ms()),
                                    absl::UTCTimeZone())
                << ")\n";
    }
    return 0;
  }
  if (noun == "server" && verb == "stats") {
    v1::ServerStats resp;
    grpc::Status st = client->Call(&Stub::GetServerStats, v1::GetServerStatsRequest(), &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << (json ? ToJson(resp) : purser::ctl::ServerStatsText(resp));
    return 0;
  }
  if (noun == "endpoints" && (verb == "list" || verb == "count")) {
    v1::ListEndpointsRequest req;
    std::string state = absl::GetFlag(FLAGS_state);
    if (!state.empty()) {
      v1::EndpointState s;
      if (!v1::EndpointState_Parse(absl::StrCat("ENDPOINT_STATE_", state), &s) &&
          !v1::EndpointState_Parse(state, &s)) {
        return Usage(absl::StrCat("--state: unknown state ", state));
      }
      req.set_state(s);
    }
    std::string product = absl::GetFlag(FLAGS_product);
    if (!product.empty()) {
      v1::OsProduct p;
      if (!v1::OsProduct_Parse("OS_PRODUCT_" + product, &p))
        return Usage("--product: unknown " + product);
      req.set_product(p);
    }
    for (const auto& [k, v] : KeyValues(absl::GetFlag(FLAGS_labels)))
      (*req.mutable_labels())[k] = v;
    req.set_campaign_id(absl::GetFlag(FLAGS_campaign));
    if (!absl::GetFlag(FLAGS_not_seen_for).empty()) {
      absl::Duration d;
      if (!absl::ParseDuration(absl::GetFlag(FLAGS_not_seen_for), &d)) {
        return Usage("--not_seen_for: a duration like 2h");
      }
      req.set_not_seen_since_unix_ms(absl::ToUnixMillis(absl::Now() - d));
    }
    if (verb == "count") {
      v1::EndpointCounts counts;
      grpc::Status st = client->Call(&Stub::CountEndpoints, req, &counts);
      if (!st.ok()) return ExitFor(st);
      std::cout << (json ? ToJson(counts) : purser::ctl::CountsTable(counts));
      return 0;
    }
    int page_size = absl::GetFlag(FLAGS_page_size);
    req.set_page_size(page_size > 0 ? page_size : 1000);
    v1::ListEndpointsResponse all;
    while (true) {
      v1::ListEndpointsResponse resp;
      grpc::Status st = client->Call(&Stub::ListEndpoints, req, &resp);
      if (!st.ok()) return ExitFor(st);
      for (auto& e : *resp.mutable_endpoints()) *all.add_endpoints() = std::move(e);
      all.set_next_page_token(resp.next_page_token());
      if (page_size > 0 || resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    if (json) {
      std::cout << ToJson(all);
    } else {
      std::cout << purser::ctl::EndpointsTable({all.endpoints().begin(), all.endpoints().end()});
      if (!all.next_page_token().empty())
        std::cout << "next page: " << all.next_page_token() << "\n";
    }
    return 0;
  }
  if (noun == "endpoints" && verb == "get") {
    if (args.size() < 3) return Usage("endpoints get: give an endpoint id");
    v1::GetEndpointRequest req;
    auto id = client->ResolveId(args[2]);
    if (!id.ok()) {
      std::cerr << "purserctl: " << id.status().message() << "\n";
      return id.status().code() == absl::StatusCode::kNotFound ? 5 : 1;
    }
    req.set_id(*id);
    v1::GetEndpointResponse resp;
    grpc::Status st = client->Call(&Stub::GetEndpoint, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << (json ? ToJson(resp) : purser::ctl::EndpointDetail(resp));
    return 0;
  }
  if (noun == "run" && verb == "start") {
    v1::StartRunRequest req;
    req.set_plan_name(absl::GetFlag(FLAGS_plan));
    if (req.plan_name().empty()) return Usage("run start: --plan is required");
    for (const auto& prefix : absl::GetFlag(FLAGS_endpoints)) {
      auto id = client->ResolveId(prefix);
      if (!id.ok()) {
        std::cerr << "purserctl: " << id.status().message() << "\n";
        return id.status().code() == absl::StatusCode::kNotFound ? 5 : 1;
      }
      req.add_endpoint_ids(*id);
    }
    req.set_all_endpoints(absl::GetFlag(FLAGS_all));
    for (const auto& [k, v] : KeyValues(absl::GetFlag(FLAGS_params)))
      (*req.mutable_params())[k] = v;
    if (!ParseReboot(absl::GetFlag(FLAGS_reboot), req.mutable_reboot_policy())) {
      return Usage("--reboot: now, operator, or window:HH:MM-HH:MM");
    }
    v1::StartRunResponse resp;
    grpc::Status st = client->Call(&Stub::StartRun, req, &resp);
    if (!st.ok()) return ExitFor(st);
    if (json) {
      std::cout << ToJson(resp);
    } else {
      std::cout << "run " << resp.run_id() << ": " << resp.started_size() << " started, "
                << resp.skipped_size() << " skipped\n";
      for (const auto& s : resp.skipped())
        std::cout << "  skipped " << s.endpoint_id() << ": " << s.reason() << "\n";
    }
    return 0;
  }
  if (noun == "secret" && verb == "put") {
    if (args.size() < 3) return Usage("secret put: give a name");
    if (absl::GetFlag(FLAGS_from_file).empty()) return Usage("secret put: --from_file is required");
    auto value = purser::ReadFile(absl::GetFlag(FLAGS_from_file));
    if (!value.ok()) {
      std::cerr << "purserctl: " << value.status().message() << "\n";
      return 1;
    }
    v1::PutSecretRequest req;
    req.set_name(args[2]);
    req.set_value(std::string(absl::StripTrailingAsciiWhitespace(*value)));
    v1::PutSecretResponse resp;
    grpc::Status st = client->Call(&Stub::PutSecret, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << "secret " << args[2] << " stored\n";
    return 0;
  }
  if (noun == "admin" && verb == "rotate-secrets-key") {
    v1::RotateSecretsKeyResponse resp;
    grpc::Status st = client->Call(&Stub::RotateSecretsKey, v1::RotateSecretsKeyRequest(), &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << "secrets key rotated: " << resp.secrets_resealed()
              << " secrets re-sealed; the key is in " << resp.key_file() << "\n";
    return 0;
  }
  if (noun == "plan" && verb == "upload") {
    if (args.size() < 3) return Usage("plan upload: give a file");
    auto text = purser::ReadFile(args[2]);
    if (!text.ok()) {
      std::cerr << "purserctl: " << text.status().message() << "\n";
      return 1;
    }
    v1::UploadPlanRequest req;
    req.set_filename(args[2]);
    req.set_text(*text);
    v1::Plan resp;
    grpc::Status st = client->Call(&Stub::UploadPlan, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << "plan " << resp.name() << " uploaded (" << resp.steps_size() << " steps)\n";
    return 0;
  }
  if (noun == "reboot" && verb == "allow") {
    v1::AllowRebootRequest req;
    for (size_t i = 2; i < args.size(); ++i) req.add_endpoint_ids(args[i]);
    if (req.endpoint_ids().empty()) return Usage("reboot allow: give endpoint ids");
    v1::AllowRebootResponse resp;
    grpc::Status st = client->Call(&Stub::AllowReboot, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << resp.allowed() << " endpoints may reboot\n";
    return 0;
  }
  if (noun == "artifact" && verb == "upload") {
    if (args.size() < 3) return Usage("artifact upload: give files");
    for (size_t i = 2; i < args.size(); ++i) {
      auto info = client->Upload(args[i], args.size() == 3 ? absl::GetFlag(FLAGS_name) : "");
      if (!info.ok()) {
        std::cerr << "purserctl: " << args[i] << ": " << info.status().message() << "\n";
        return info.status().code() == absl::StatusCode::kUnavailable ? 3 : 1;
      }
      std::cout << info->name() << "  " << info->sha256() << "  " << info->size() << " bytes\n";
    }
    return 0;
  }
  if (noun == "artifact" && verb == "list") {
    v1::ListArtifactsResponse resp;
    grpc::Status st = client->Call(&Stub::ListArtifacts, v1::ListArtifactsRequest(), &resp);
    if (!st.ok()) return ExitFor(st);
    if (json) {
      std::cout << ToJson(resp);
    } else {
      std::vector<std::vector<std::string>> rows = {{"NAME", "SHA256", "SIZE", "BY"}};
      for (const auto& a : resp.artifacts()) {
        rows.push_back({a.name(), a.sha256(), absl::StrCat(a.size()), a.uploaded_by()});
      }
      std::cout << purser::ctl::FormatTable(rows);
    }
    return 0;
  }
  if (noun == "campaign") return CampaignCommand(*client, args, json);
  if (noun == "endpoints" && verb == "labels") {
    if (args.size() < 3) return Usage("endpoints labels: give an endpoint id");
    auto id = client->ResolveId(args[2]);
    if (!id.ok()) {
      std::cerr << "purserctl: " << id.status().message() << "\n";
      return id.status().code() == absl::StatusCode::kNotFound ? 5 : 1;
    }
    v1::SetLabelsRequest req;
    req.set_endpoint_id(*id);
    for (const auto& [k, v] : KeyValues(absl::GetFlag(FLAGS_labels))) (*req.mutable_set())[k] = v;
    for (const auto& k : absl::GetFlag(FLAGS_remove)) req.add_remove(k);
    v1::Endpoint resp;
    grpc::Status st = client->Call(&Stub::SetLabels, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << (json ? ToJson(resp) : purser::ctl::EndpointsTable({resp}));
    return 0;
  }
  if (noun == "cert" || noun == "audit" || (noun == "endpoints" && verb == "history")) {
    return AdminCommand(*client, args, json);
  }
  if (noun == "plans" && verb == "list") {
    v1::ListPlansResponse resp;
    grpc::Status st = client->Call(&Stub::ListPlans, v1::ListPlansRequest(), &resp);
    if (!st.ok()) return ExitFor(st);
    if (json) {
      std::cout << ToJson(resp);
    } else {
      std::vector<std::vector<std::string>> rows = {{"NAME", "PURPOSE", "STEPS", "DESCRIPTION"}};
      for (const auto& p : resp.plans()) {
        rows.push_back({p.name(),
                        purser::ShortEnumName(v1::PlanPurpose_Name(p.purpose()), "PLAN_PURPOSE_"),
                        absl::StrCat(p.steps_size()), p.description()});
      }
      std::cout << purser::ctl::FormatTable(rows);
    }
    return 0;
  }
  return Usage(absl::StrCat("unknown command: ", noun, " ", verb));
}

int CampaignCommand(Client& client, const std::vector<char*>& args, bool json) {
  std::string verb = args.size() > 1 ? args[1] : "";
  if (verb == "list") {
    v1::ListCampaignsResponse resp;
    grpc::Status st = client.Call(&Stub::ListCampaigns, v1::ListCampaignsRequest(), &resp);
    if (!st.ok()) return ExitFor(st);
    if (json) {
      std::cout << ToJson(resp);
    } else {
      std::cout << purser::ctl::CampaignsTable({resp.campaigns().begin(), resp.campaigns().end()});
    }
    return 0;
  }
  if (args.size() < 3) return Usage(absl::StrCat("campaign ", verb, ": give a name or id"));
  std::string arg = args[2];
  if (verb == "create") {
    v1::CreateCampaignRequest req;
    req.set_name(arg);
    req.set_plan_name(absl::GetFlag(FLAGS_plan));
    if (req.plan_name().empty()) return Usage("campaign create: --plan is required");
    for (const auto& [k, v] : KeyValues(absl::GetFlag(FLAGS_params)))
      (*req.mutable_params())[k] = v;
    v1::CampaignTarget* t = req.mutable_target();
    for (const auto& [k, v] : KeyValues(absl::GetFlag(FLAGS_labels))) (*t->mutable_labels())[k] = v;
    for (const auto& p : absl::GetFlag(FLAGS_products)) {
      v1::OsProduct product;
      if (!v1::OsProduct_Parse("OS_PRODUCT_" + p, &product))
        return Usage("--products: unknown " + p);
      t->add_products(product);
    }
    for (const auto& id : absl::GetFlag(FLAGS_endpoints)) t->add_endpoint_ids(id);
    t->set_dynamic(absl::GetFlag(FLAGS_dynamic));
    t->set_dynamic_cap(absl::GetFlag(FLAGS_cap));
    v1::RolloutPolicy* p = req.mutable_policy();
    p->set_canary_count(absl::GetFlag(FLAGS_canary));
    p->set_approve_after_canary(absl::GetFlag(FLAGS_approve_canary));
    p->set_approve_each_wave(absl::GetFlag(FLAGS_approve_waves));
    for (const auto& w : absl::GetFlag(FLAGS_waves)) {
      int n = std::atoi(w.c_str());
      if (n <= 0) return Usage("--waves: sizes like 10% or 25");
      if (!w.empty() && w.back() == '%')
        p->add_waves()->set_percent(n);
      else
        p->add_waves()->set_count(n);
    }
    p->set_max_in_flight(absl::GetFlag(FLAGS_max_in_flight));
    p->set_start_per_minute(absl::GetFlag(FLAGS_rate));
    std::string f = absl::GetFlag(FLAGS_failures);
    if (!f.empty()) {
      int n = std::atoi(f.c_str());
      if (f.back() == '%')
        p->mutable_failure_threshold()->set_max_failure_percent(n);
      else
        p->mutable_failure_threshold()->set_max_failures(n);
    }
    p->mutable_failure_threshold()->set_min_sample(absl::GetFlag(FLAGS_min_sample));
    int h1, m1, h2, m2;
    std::string window = absl::GetFlag(FLAGS_window);
    if (!window.empty()) {
      if (std::sscanf(window.c_str(), "%d:%d-%d:%d", &h1, &m1, &h2, &m2) != 4) {
        return Usage("--window: HH:MM-HH:MM");
      }
      p->set_window_start_minute(h1 * 60 + m1);
      p->set_window_end_minute(h2 * 60 + m2);
    }
    std::string deadline = absl::GetFlag(FLAGS_deadline);
    if (!deadline.empty()) {
      absl::Duration d;
      if (!absl::ParseDuration(deadline, &d)) return Usage("--deadline: a duration like 72h");
      p->set_deadline_unix_ms(absl::ToUnixMillis(absl::Now() + d));
    }
    if (!ParseReboot(absl::GetFlag(FLAGS_reboot), p->mutable_reboot_policy())) {
      return Usage("--reboot: now, operator, or window:HH:MM-HH:MM");
    }
    v1::Campaign resp;
    grpc::Status st = client.Call(&Stub::CreateCampaign, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << (json ? ToJson(resp) : purser::ctl::CampaignSummary(resp));
    return 0;
  }
  if (verb == "get") {
    v1::GetCampaignRequest req;
    req.set_id(arg);
    v1::GetCampaignResponse all;
    while (true) {  // every member, a page at a time
      v1::GetCampaignResponse resp;
      grpc::Status st = client.Call(&Stub::GetCampaign, req, &resp);
      if (!st.ok()) return ExitFor(st);
      *all.mutable_campaign() = resp.campaign();
      for (auto& m : *resp.mutable_members()) *all.add_members() = std::move(m);
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    std::cout << (json ? ToJson(all) : purser::ctl::CampaignDetail(all));
    return 0;
  }
  if (verb == "watch") {
    v1::GetCampaignRequest req;
    req.set_id(arg);
    grpc::ClientContext ctx;
    auto reader = client.stub()->WatchCampaign(&ctx, req);
    v1::Campaign c;
    bool tty = ::isatty(1);
    while (reader->Read(&c)) {
      // A terminal gets a live view; a pipe or log one line per change.
      if (json) {
        std::cout << ToJson(c);
      } else if (tty) {
        std::cout << "\033[2J\033[H" << purser::ctl::CampaignSummary(c);
      } else {
        std::cout << purser::ctl::CampaignLine(c);
      }
      std::cout << std::flush;
      if (c.state() == v1::CAMPAIGN_STATE_PAUSED ||
          c.state() == v1::CAMPAIGN_STATE_WAITING_APPROVAL) {
        ctx.TryCancel();
        break;
      }
    }
    grpc::Status st = reader->Finish();
    if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED) return ExitFor(st);
    switch (c.state()) {
      case v1::CAMPAIGN_STATE_COMPLETED:
        return 0;
      case v1::CAMPAIGN_STATE_PAUSED:
      case v1::CAMPAIGN_STATE_WAITING_APPROVAL:
        return 10;
      default:
        return 11;
    }
  }
  v1::ActOnCampaignRequest req;
  req.set_id(arg);
  if (verb == "pause")
    req.set_action(v1::ActOnCampaignRequest::ACTION_PAUSE);
  else if (verb == "resume")
    req.set_action(v1::ActOnCampaignRequest::ACTION_RESUME);
  else if (verb == "cancel")
    req.set_action(v1::ActOnCampaignRequest::ACTION_CANCEL);
  else if (verb == "approve")
    req.set_action(v1::ActOnCampaignRequest::ACTION_APPROVE);
  else if (verb == "retry") {
    req.set_action(v1::ActOnCampaignRequest::ACTION_RETRY_FAILED);
    std::string cls = absl::GetFlag(FLAGS_error_class);
    v1::ErrorClass ec;
    if (!cls.empty()) {
      if (!v1::ErrorClass_Parse("ERROR_CLASS_" + cls, &ec))
        return Usage("--error_class: unknown " + cls);
      req.set_error_class(ec);
    }
  } else {
    return Usage(absl::StrCat("campaign: unknown verb ", verb));
  }
  v1::Campaign resp;
  grpc::Status st = client.Call(&Stub::ActOnCampaign, req, &resp);
  if (!st.ok()) return ExitFor(st);
  std::cout << (json ? ToJson(resp) : purser::ctl::CampaignSummary(resp));
  return 0;
}

// Writes a fresh key and the certificate issued for it: PREFIX.key (0600), PREFIX.pem.
int IssueInto(Client& client, const std::string& prefix, const std::string& name,
              const std::string& role, bool renew) {
  if (prefix.empty()) return Usage("--out PREFIX is required");
  auto key = purser::GenerateKeyPem();
  auto csr = purser::MakeCsr(*key, name.empty() ? "operator" : name);
  v1::IssuedCertificate resp;
  grpc::Status st;
  if (renew) {
    v1::RenewOperatorCertificateRequest req;
    req.set_csr_pem(*csr);
    st = client.Call(&Stub::RenewOperatorCertificate, req, &resp);
  } else {
    v1::IssueOperatorCertificateRequest req;
    req.set_name(name);
    req.set_role(role);
    req.set_csr_pem(*csr);
    st = client.Call(&Stub::IssueOperatorCertificate, req, &resp);
  }
  if (!st.ok()) return ExitFor(st);
  auto w1 = purser::WriteFileAtomic(prefix + ".key", *key, 0600);
  auto w2 = purser::WriteFileAtomic(prefix + ".pem", resp.certificate_pem(), 0600);
  if (!w1.ok() || !w2.ok()) {
    std::cerr << "purserctl: " << (!w1.ok() ? w1 : w2).message() << "\n";
    return 1;
  }
  std::cout << "certificate " << resp.serial() << " written to " << prefix << ".pem (key " << prefix
            << ".key), valid until "
            << absl::FormatTime(absl::FromUnixMillis(resp.not_after_unix_ms()), absl::UTCTimeZone())
            << "\n";
  return 0;
}

int AdminCommand(Client& client, const std::vector<char*>& args, bool json) {
  std::string noun = args[0], verb = args.size() > 1 ? args[1] : "";
  std::string arg = args.size() > 2 ? args[2] : "";
  if (noun == "endpoints") {
    auto id = client.ResolveId(arg);
    if (!id.ok()) {
      std::cerr << "purserctl: " << id.status().message() << "\n";
      return id.status().code() == absl::StatusCode::kNotFound ? 5 : 1;
    }
    v1::GetEndpointHistoryRequest req;
    req.set_id(*id);
    req.set_page_size(absl::GetFlag(FLAGS_page_size));
    req.set_before_unix_ms(absl::GetFlag(FLAGS_before_ms));
    v1::EndpointHistory resp;
    grpc::Status st = client.Call(&Stub::GetEndpointHistory, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << (json ? ToJson(resp) : purser::ctl::HistoryTable(resp));
    if (!json && resp.next_before_unix_ms() != 0) {
      std::cout << "older entries: --before_ms " << resp.next_before_unix_ms() << "\n";
    }
    return 0;
  }
  if (noun == "audit") {
    v1::ListAuditRequest req;
    req.set_who(absl::GetFlag(FLAGS_who));
    req.set_method(absl::GetFlag(FLAGS_method));
    req.set_page_size(absl::GetFlag(FLAGS_page_size));
    v1::ListAuditResponse resp;
    grpc::Status st = client.Call(&Stub::ListAudit, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << (json ? ToJson(resp) : purser::ctl::AuditTable(resp));
    return 0;
  }
  if (verb == "issue") {
    if (arg.empty()) return Usage("cert issue: give a name");
    return IssueInto(client, absl::GetFlag(FLAGS_out), arg, absl::GetFlag(FLAGS_role), false);
  }
  if (verb == "renew") return IssueInto(client, absl::GetFlag(FLAGS_out), "", "", true);
  if (verb == "list") {
    v1::ListCertificatesRequest req;
    v1::ListCertificatesResponse all;
    while (true) {
      v1::ListCertificatesResponse resp;
      grpc::Status st = client.Call(&Stub::ListCertificates, req, &resp);
      if (!st.ok()) return ExitFor(st);
      for (auto& c : *resp.mutable_certificates()) *all.add_certificates() = std::move(c);
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    std::cout << (json ? ToJson(all) : purser::ctl::CertificatesTable(all));
    return 0;
  }
  if (verb == "revoke") {
    if (arg.empty()) return Usage("cert revoke: give a serial");
    v1::RevokeCertificateRequest req;
    req.set_serial(arg);
    v1::CertificateInfo resp;
    grpc::Status st = client.Call(&Stub::RevokeCertificate, req, &resp);
    if (!st.ok()) return ExitFor(st);
    std::cout << "certificate " << resp.serial() << " of " << resp.subject() << " (" << resp.role()
              << ") revoked\n";
    return 0;
  }
  return Usage(absl::StrCat("unknown command: ", noun, " ", verb));
}

}  // namespace

void NoGrpcLog(gpr_log_func_args*) {}  // errors reach the operator as purserctl's own messages

int main(int argc, char** argv) {
  gpr_set_log_function(NoGrpcLog);
  auto parsed = purser::ctl::ParseArgs(argc, argv);
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  if (parsed->help) {
    std::cout << kUsage << "\n";
    return 0;
  }
  if (absl::Status st = CheckKeyValueFlags(); !st.ok()) return Usage(std::string(st.message()));
  std::vector<char*> args;
  for (auto& a : parsed->positional) args.push_back(a.data());
  return Main(args);
}
