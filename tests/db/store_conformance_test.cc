// One suite every Store implementation must pass. Instantiate it for a new
// store with INSTANTIATE_TEST_SUITE_P and a factory.
#include <gtest/gtest.h>

#include <functional>

#include "db/sqlite/sqlite_store.h"
#include "shared/crypto.h"
#include "tests/test_util.h"

namespace purser::db {
namespace {

using Factory = std::function<std::unique_ptr<Store>(const std::string& dir, StoreOptions)>;

constexpr int64_t kNow = 1'800'000'000'000;

v1::Inventory Inv(v1::OsProduct product, const std::string& host) {
  v1::Inventory inv;
  inv.set_hostname(host);
  inv.mutable_os()->set_product(product);
  inv.mutable_os()->set_version(product == v1::OS_PRODUCT_WINDOWS_8_1 ? "6.3.9600" : "6.1.7601");
  inv.mutable_os()->set_service_pack(product == v1::OS_PRODUCT_WINDOWS_8_1 ? 0 : 1);
  inv.mutable_os()->set_edition("Enterprise");
  inv.mutable_os()->set_arch(v1::ARCH_X64);
  return inv;
}

v1::Plan TwoStepPlan() {
  v1::Plan plan;
  plan.set_name("two");
  plan.set_purpose(v1::PLAN_PURPOSE_ONBOARD);
  for (const char* id : {"first", "second"}) {
    auto* s = plan.add_steps();
    s->set_id(id);
    s->set_kind(v1::STEP_KIND_VERIFY);
    s->add_platforms()->set_product(v1::OS_PRODUCT_WINDOWS_7);
    s->set_max_attempts(2);
    s->set_backoff_seconds(10);
    s->set_timeout_seconds(60);
    s->mutable_install_update()->set_package("p.msu");
  }
  return plan;
}

class StoreConformance : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.lease_grace_ms = 5'000;
    store_ = GetParam()(dir_.path(), options);
    ASSERT_NE(store_, nullptr);
    TokenRecord t;
    t.id = "tok";
    t.secret_hash = Sha256Hex("s3cret");
    t.max_uses = 8;
    t.expires_ms = kNow + 60'000;
    t.labels = {{"site", "paris"}};
    ASSERT_TRUE(store_->CreateToken(t, kNow).ok());
  }

  std::string Enroll(const std::string& id, v1::OsProduct product = v1::OS_PRODUCT_WINDOWS_7) {
    EnrollArgs a{"tok",          Sha256Hex("s3cret"), id,  Inv(product, "host-" + id),
                 "serial-" + id, kNow + 1000,         kNow};
    auto e = store_->Enroll(a);
    EXPECT_TRUE(e.ok()) << e.status();
    return id;
  }

  RunSpec Run(std::vector<std::string> ids) {
    RunSpec spec;
    spec.run_id = "r-" + RandomHex(3);
    spec.plan = TwoStepPlan();
    spec.endpoint_ids = std::move(ids);
    spec.now_ms = kNow;
    return spec;
  }

  v1::ReportResultRequest Report(const v1::Job& job, v1::StepOutcome outcome) {
    v1::ReportResultRequest r;
    r.set_job_id(job.job_id());
    r.set_attempt(job.attempt());
    r.set_outcome(outcome);
    if (outcome == v1::STEP_OUTCOME_FAILED) r.set_error_class(v1::ERROR_CLASS_EXIT_CODE);
    return r;
  }

  testing::ScratchDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformance, EnrollmentConsumesTokenUsesAndAppliesLabels) {
  Enroll("e1");
  auto e = store_->GetEndpoint("e1", kNow);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->state(), v1::ENDPOINT_STATE_ENROLLED);
  EXPECT_EQ(e->labels().at("site"), "paris");
  EXPECT_EQ(e->cert_serial(), "serial-e1");
  EXPECT_TRUE(e->online());
  for (int i = 2; i <= 8; ++i) Enroll("e" + std::to_string(i));
  EnrollArgs fourth{"tok", Sha256Hex("s3cret"), "e9", Inv(v1::OS_PRODUCT_WINDOWS_7, "h"), "s4", 0,
                    kNow};
  EXPECT_EQ(store_->Enroll(fourth).status().code(), absl::StatusCode::kPermissionDenied);
  EnrollArgs wrong{"tok", Sha256Hex("guess"), "e5", Inv(v1::OS_PRODUCT_WINDOWS_7, "h"), "s5", 0,
                   kNow};
  EXPECT_EQ(store_->Enroll(wrong).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->GetEndpoint("e9", kNow).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformance, ExpiredTokenIsRefused) {
  EnrollArgs late{"tok", Sha256Hex("s3cret"), "e1", Inv(v1::OS_PRODUCT_WINDOWS_7, "h"), "s",
                  0,     kNow + 60'001};
  auto r = store_->Enroll(late);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("expired"), std::string::npos);
}

TEST_P(StoreConformance, UnsupportedOsIsClassifiedAndNeverGivenWork) {
  Enroll("w10", v1::OS_PRODUCT_WINDOWS_10);
  EXPECT_EQ(store_->GetEndpoint("w10", kNow)->state(), v1::ENDPOINT_STATE_UNSUPPORTED);
  Enroll("w7");
  auto out = store_->StartRun(Run({"w10", "w7", "ghost"}));
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->started_size(), 1);
  EXPECT_EQ(out->started(0), "w7");
  ASSERT_EQ(out->skipped_size(), 2);
  EXPECT_NE(out->skipped(0).reason().find("unsupported"), std::string::npos);
  EXPECT_EQ(out->skipped(1).reason(), "unknown endpoint");
  EXPECT_FALSE(store_->LeaseNextJob("w10", kNow)->job.has_value());
}

TEST_P(StoreConformance, BusyEndpointIsNotGivenASecondRun) {
  Enroll("e1");
  ASSERT_EQ(store_->StartRun(Run({"e1"}))->started_size(), 1);
  auto second = store_->StartRun(Run({"e1"}));
  ASSERT_EQ(second->skipped_size(), 1);
  EXPECT_NE(second->skipped(0).reason().find("busy"), std::string::npos);
}

TEST_P(StoreConformance, StepsRunInOrderToOnboarded) {
  Enroll("e1");
  ASSERT_EQ(store_->StartRun(Run({"e1"}))->started_size(), 1);
  EXPECT_EQ(store_->GetEndpoint("e1", kNow)->state(), v1::ENDPOINT_STATE_QUEUED);
  auto l1 = store_->LeaseNextJob("e1", kNow);
  ASSERT_TRUE(l1.ok() && l1->job);
  EXPECT_EQ(l1->job->job.step().id(), "first");
  EXPECT_EQ(l1->job->job.lease_expires_unix_ms(), kNow + 60'000 + 5'000);
  EXPECT_EQ(store_->GetEndpoint("e1", kNow)->state(), v1::ENDPOINT_STATE_IN_PROGRESS);
  // Asking again re-delivers the held lease, not the next step.
  auto again = store_->LeaseNextJob("e1", kNow + 10);
  EXPECT_EQ(again->job->job.job_id(), l1->job->job.job_id());
  ASSERT_TRUE(
      store_->RecordReport("e1", Report(l1->job->job, v1::STEP_OUTCOME_SUCCEEDED), kNow).ok());
  auto l2 = store_->LeaseNextJob("e1", kNow);
  ASSERT_TRUE(l2->job);
  EXPECT_EQ(l2->job->job.step().id(), "second");
  EXPECT_EQ(l2->job->job.seq(), 2);
  ASSERT_TRUE(
      store_->RecordReport("e1", Report(l2->job->job, v1::STEP_OUTCOME_SKIPPED), kNow).ok());
  auto e = store_->GetEndpoint("e1", kNow);
  EXPECT_EQ(e->state(), v1::ENDPOINT_STATE_ONBOARDED);
  EXPECT_EQ(e->current_step(), 2);
  EXPECT_FALSE(store_->LeaseNextJob("e1", kNow)->job.has_value());
  auto jobs = store_->ListJobs("e1");
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ((*jobs)[1].state(), v1::JOB_STATE_SKIPPED);
}

TEST_P(StoreConformance, ReportsAreIdempotentAndOwnedByTheirEndpoint) {
  Enroll("a");
  Enroll("b");
  store_->StartRun(Run({"a"})).IgnoreError();
  auto lease = store_->LeaseNextJob("a", kNow);
  ASSERT_TRUE(lease->job);
  auto report = Report(lease->job->job, v1::STEP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(store_->RecordReport("b", report, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto first = store_->RecordReport("a", report, kNow);
  EXPECT_FALSE(first->duplicate);
  report.set_outcome(v1::STEP_OUTCOME_FAILED);
  auto dup = store_->RecordReport("a", report, kNow);
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ((*store_->ListJobs("a"))[0].state(), v1::JOB_STATE_SUCCEEDED);
  v1::ReportResultRequest unknown = report;
  unknown.set_job_id("nope");
  EXPECT_EQ(store_->RecordReport("a", unknown, kNow).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformance, FailureRetriesWithBackoffThenFails) {
  Enroll("e1");
  store_->StartRun(Run({"e1"})).IgnoreError();
  auto l1 = store_->LeaseNextJob("e1", kNow);
  store_->RecordReport("e1", Report(l1->job->job, v1::STEP_OUTCOME_FAILED), kNow).IgnoreError();
  auto wait = store_->LeaseNextJob("e1", kNow + 1'000);
  EXPECT_FALSE(wait->job.has_value());
  EXPECT_EQ(wait->retry_after_ms, 9'000);
  auto l2 = store_->LeaseNextJob("e1", kNow + 10'000);
  ASSERT_TRUE(l2->job);
  EXPECT_EQ(l2->job->job.attempt(), 2);
  store_->RecordReport("e1", Report(l2->job->job, v1::STEP_OUTCOME_FAILED), kNow + 10'000)
      .IgnoreError();
  auto e = store_->GetEndpoint("e1", kNow);
  EXPECT_EQ(e->state(), v1::ENDPOINT_STATE_FAILED);
  EXPECT_EQ(e->error_class(), v1::ERROR_CLASS_EXIT_CODE);
  EXPECT_NE(e->state_detail().find("first"), std::string::npos) << e->state_detail();
  // Failed endpoints can be given a new run.
  EXPECT_EQ(store_->StartRun(Run({"e1"}))->started_size(), 1);
}

TEST_P(StoreConformance, RunOutcomeComesFromTheRunsOwnJobs) {
  Enroll("e1");
  RunSpec first = Run({"e1"});
  store_->StartRun(first).IgnoreError();
  EXPECT_EQ(store_->RunOutcome(first.run_id, "e1")->state, v1::JOB_STATE_UNSPECIFIED);
  for (int i = 0; i < 2; ++i) {
    auto l = store_->LeaseNextJob("e1", kNow);
    store_->RecordReport("e1", Report(l->job->job, v1::STEP_OUTCOME_SUCCEEDED), kNow).IgnoreError();
  }
  // The endpoint moves on to another run; the first one's outcome stays known.
  RunSpec second = Run({"e1"});
  ASSERT_EQ(store_->StartRun(second)->started_size(), 1);
  EXPECT_EQ(store_->RunOutcome(first.run_id, "e1")->state, v1::JOB_STATE_SUCCEEDED);
  auto l = store_->LeaseNextJob("e1", kNow);
  store_->RecordReport("e1", Report(l->job->job, v1::STEP_OUTCOME_FAILED), kNow).IgnoreError();
  l = store_->LeaseNextJob("e1", kNow + 20'000);
  store_->RecordReport("e1", Report(l->job->job, v1::STEP_OUTCOME_FAILED), kNow + 20'000)
      .IgnoreError();
  auto end = store_->RunOutcome(second.run_id, "e1");
  EXPECT_EQ(end->state, v1::JOB_STATE_FAILED);
  EXPECT_EQ(end->error_class, v1::ERROR_CLASS_EXIT_CODE);
  EXPECT_NE(end->detail.find("first"), std::string::npos);
}

TEST_P(StoreConformance, BlockedNamesThePrerequisite) {
  Enroll("e1");
  store_->StartRun(Run({"e1"})).IgnoreError();
  auto l = store_->LeaseNextJob("e1", kNow);
  auto r = Report(l->job->job, v1::STEP_OUTCOME_BLOCKED);
  r.set_message("missing prerequisite: KB4474419");
  store_->RecordReport("e1", r, kNow).IgnoreError();
  auto e = store_->GetEndpoint("e1", kNow);
  EXPECT_EQ(e->state(), v1::ENDPOINT_STATE_BLOCKED);
  EXPECT_NE(e->state_detail().find("KB4474419"), std::string::npos);
}

TEST_P(StoreConformance, ExpiredLeasesTimeOutAndRequeue) {
  Enroll("e1");
  store_->StartRun(Run({"e1"})).IgnoreError();
  auto l = store_->LeaseNextJob("e1", kNow);
  auto early = store_->ExpireLeases(kNow + 65'000);  // not yet
  EXPECT_TRUE(early->requeued.empty());
  EXPECT_EQ(early->expired, 0);
  auto expired = store_->ExpireLeases(kNow + 65'001);
  ASSERT_EQ(expired->requeued, std::vector<std::string>{"e1"});
  EXPECT_EQ(expired->expired, 1);
  auto jobs = store_->ListJobs("e1");
  EXPECT_EQ((*jobs)[0].state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ((*jobs)[0].attempt(), 2);
  EXPECT_EQ((*jobs)[0].timed_out_attempts(), 1);
  // A report for the expired attempt arrives late: acknowledged, not applied.
  auto late =
      store_->RecordReport("e1", Report(l->job->job, v1::STEP_OUTCOME_SUCCEEDED), kNow + 70'000);
  EXPECT_TRUE(late->stale);
  EXPECT_EQ((*store_->ListJobs("e1"))[0].state(), v1::JOB_STATE_QUEUED);
  store_->LeaseNextJob("e1", kNow + 80'000).IgnoreError();
  auto last = store_->ExpireLeases(kNow + 200'000);  // no attempt left: expired, not requeued
  EXPECT_TRUE(last->requeued.empty());
  EXPECT_EQ(last->expired, 1);
  EXPECT_EQ((*store_->ListJobs("e1"))[0].state(), v1::JOB_STATE_TIMED_OUT);
  EXPECT_EQ(store_->GetEndpoint("e1", kNow)->error_class(), v1::ERROR_CLASS_TIMEOUT);
}

// A report for an attempt that is queued but not yet leased (a server put
// back in time by a restore) is kept stale; the report that comes once the
// attempt is leased is the awaited one, and the early one stays in history.
TEST_P(StoreConformance, ReportBeforeTheLeaseDoesNotMakeTheAwaitedOneADuplicate) {
  Enroll("e1");
  store_->StartRun(Run({"e1"})).IgnoreError();
  store_->LeaseNextJob("e1", kNow).IgnoreError();
  ASSERT_EQ(store_->ExpireLeases(kNow + 65'001)->expired, 1);
  v1::JobInfo info = (*store_->ListJobs("e1"))[0];
  ASSERT_EQ(info.state(), v1::JOB_STATE_QUEUED);
  ASSERT_EQ(info.attempt(), 2);
  v1::Job queued;
  queued.set_job_id(info.job_id());
  queued.set_attempt(info.attempt());
  auto early = Report(queued, v1::STEP_OUTCOME_FAILED);
  early.set_message("early-report-message");
  early.set_output_tail("early-output-tail");
  auto stored = store_->RecordReport("e1", early, kNow + 66'000);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(stored->stale);
  EXPECT_FALSE(stored->duplicate);
  EXPECT_EQ((*store_->ListJobs("e1"))[0].state(), v1::JOB_STATE_QUEUED);

  auto lease = store_->LeaseNextJob("e1", kNow + 80'000);
  ASSERT_TRUE(lease->job);
  ASSERT_EQ(lease->job->job.attempt(), 2);
  auto awaited = store_->RecordReport("e1", Report(lease->job->job, v1::STEP_OUTCOME_SUCCEEDED),
                                      kNow + 81'000);
  ASSERT_TRUE(awaited.ok()) << awaited.status();
  EXPECT_FALSE(awaited->duplicate);
  EXPECT_FALSE(awaited->stale);
  EXPECT_EQ((*store_->ListJobs("e1"))[0].state(), v1::JOB_STATE_SUCCEEDED);

  auto history = store_->History("e1");
  ASSERT_TRUE(history.ok()) << history.status();
  bool applied_success = false, early_kept = false;
  for (const auto& h : *history) {
    if (h.job_id() == queued.job_id() && h.attempt() == 2 && h.applied() &&
        h.outcome() == v1::STEP_OUTCOME_SUCCEEDED) {
      applied_success = true;
    }
    if (h.detail().find("superseded report") != std::string::npos &&
        h.detail().find("early-report-message") != std::string::npos &&
        h.detail().find("early-output-tail") != std::string::npos &&
        h.detail().find("STEP_OUTCOME_FAILED") != std::string::npos) {
      early_kept = true;
    }
  }
  EXPECT_TRUE(applied_success);
  EXPECT_TRUE(early_kept);

  // The applied report repeated is a duplicate, changes nothing, and adds
  // nothing to the history.
  auto again =
      store_->RecordReport("e1", Report(lease->job->job, v1::STEP_OUTCOME_FAILED), kNow + 82'000);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ((*store_->ListJobs("e1"))[0].state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(store_->History("e1")->size(), history->size());
}

// A stale report repeated while its attempt is still not leased is a
// duplicate: the first copy stays.
TEST_P(StoreConformance, StaleReportRepeatedBeforeTheLeaseIsADuplicate) {
  Enroll("e1");
  store_->StartRun(Run({"e1"})).IgnoreError();
  store_->LeaseNextJob("e1", kNow).IgnoreError();
  ASSERT_EQ(store_->ExpireLeases(kNow + 65'001)->expired, 1);
  v1::JobInfo info = (*store_->ListJobs("e1"))[0];
  v1::Job queued;
  queued.set_job_id(info.job_id());
  queued.set_attempt(info.attempt());
  auto early = Report(queued, v1::STEP_OUTCOME_SUCCEEDED);
  EXPECT_TRUE(store_->RecordReport("e1", early, kNow + 66'000)->stale);
  EXPECT_TRUE(store_->RecordReport("e1", early, kNow + 67'000)->duplicate);
  EXPECT_EQ((*store_->ListJobs("e1"))[0].state(), v1::JOB_STATE_QUEUED);
}

TEST_P(StoreConformance, RebootsFollowPolicyAndMustTakeTheUpdate) {
  for (const char* id : {"now", "op", "notaken"}) Enroll(id);
  v1::Plan plan = TwoStepPlan();
  plan.mutable_steps(0)->mutable_install_update()->set_kb("KB4474419");
  auto run = [&](const char* id, v1::RebootPolicy::Mode mode) {
    RunSpec spec = Run({id});
    spec.plan = plan;
    spec.reboot_policy.set_mode(mode);
    ASSERT_EQ(store_->StartRun(spec)->started_size(), 1);
    auto l = store_->LeaseNextJob(id, kNow);
    auto r = Report(l->job->job, v1::STEP_OUTCOME_REBOOT_REQUIRED);
    v1::Inventory pending = Inv(v1::OS_PRODUCT_WINDOWS_7, id);
    pending.set_pending_reboot(true);
    *r.mutable_inventory() = pending;
    ASSERT_TRUE(store_->RecordReport(id, r, kNow).ok());
    EXPECT_EQ(store_->GetEndpoint(id, kNow)->state(), v1::ENDPOINT_STATE_WAITING_REBOOT);
  };
  run("now", v1::RebootPolicy::MODE_NOW);
  auto reboot = store_->LeaseNextJob("now", kNow);
  EXPECT_TRUE(reboot->reboot);
  EXPECT_FALSE(reboot->job.has_value());
  v1::Inventory booted = Inv(v1::OS_PRODUCT_WINDOWS_7, "now");
  booted.add_installed_kbs("KB4474419");
  ASSERT_TRUE(store_->CheckIn("now", booted, kNow).ok());
  auto next = store_->LeaseNextJob("now", kNow);
  ASSERT_TRUE(next->job);
  EXPECT_EQ(next->job->job.step().id(), "second");

  run("op", v1::RebootPolicy::MODE_OPERATOR);
  EXPECT_FALSE(store_->LeaseNextJob("op", kNow)->reboot);
  EXPECT_NE(store_->GetEndpoint("op", kNow)->state_detail().find("operator"), std::string::npos);
  EXPECT_EQ(*store_->AllowReboot({"op"}), 1);
  EXPECT_TRUE(store_->LeaseNextJob("op", kNow)->reboot);

  run("notaken", v1::RebootPolicy::MODE_NOW);
  ASSERT_TRUE(store_->CheckIn("notaken", Inv(v1::OS_PRODUCT_WINDOWS_7, "notaken"), kNow).ok());
  EXPECT_FALSE(store_->LeaseNextJob("notaken", kNow)->job.has_value());
  auto failed = store_->GetEndpoint("notaken", kNow);
  EXPECT_EQ(failed->state(), v1::ENDPOINT_STATE_FAILED);
  EXPECT_NE(failed->state_detail().find("KB4474419 is still not installed after the reboot"),
            std::string::npos)
      << failed->state_detail();
}

TEST_P(StoreConformance, MissingArtifactsSkipTheEndpoint) {
  Enroll("e1");
  RunSpec spec = Run({"e1"});
  spec.plan.mutable_steps(0)->add_artifacts("pkg.msu");
  auto out = store_->StartRun(spec);
  ASSERT_EQ(out->skipped_size(), 1);
  EXPECT_NE(out->skipped(0).reason().find("pkg.msu"), std::string::npos);
  spec.run_id += "b";
  spec.artifacts = {{"pkg.msu", std::string(64, 'a')}};
  EXPECT_EQ(store_->StartRun(spec)->started_size(), 1);
  auto l = store_->LeaseNextJob("e1", kNow);
  ASSERT_EQ(l->job->job.artifacts_size(), 1);
  EXPECT_EQ(l->job->job.artifacts(0).sha256(), std::string(64, 'a'));
  EXPECT_EQ(l->job->job.stage_size(), 1);
}

// The same bytes uploaded under a second name keep the first name: plans
// that name either still resolve.
TEST_P(StoreConformance, SameBytesUnderTwoNamesKeepBoth) {
  v1::ArtifactInfo a;
  a.set_sha256(std::string(64, 'b'));
  a.set_name("windows6.1-kb4474419-x64.msu");
  a.set_size(10);
  a.set_uploaded_unix_ms(kNow);
  ASSERT_TRUE(store_->PutArtifact(a).ok());
  a.set_name("sha2-support.msu");
  a.set_uploaded_unix_ms(kNow + 1);
  ASSERT_TRUE(store_->PutArtifact(a).ok());
  a.set_uploaded_unix_ms(kNow + 2);  // the same upload again: one row, newer
  ASSERT_TRUE(store_->PutArtifact(a).ok());
  auto all = store_->ListArtifacts();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name(), "sha2-support.msu");
  EXPECT_EQ((*all)[0].uploaded_unix_ms(), kNow + 2);
  EXPECT_EQ((*all)[1].name(), "windows6.1-kb4474419-x64.msu");
  EXPECT_EQ((*all)[1].uploaded_unix_ms(), kNow);
}

TEST_P(StoreConformance, ListPagesAndFilters) {
  for (int i = 0; i < 5; ++i) Enroll("e" + std::to_string(i));
  Enroll("w10", v1::OS_PRODUCT_WINDOWS_10);
  EndpointFilter f;
  f.page_size = 2;
  std::vector<std::string> seen;
  while (true) {
    auto page = store_->ListEndpoints(f, kNow);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->endpoints) seen.push_back(e.id());
    if (page->next_page_token.empty()) break;
    f.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen.size(), 6u);
  EndpointFilter unsupported;
  unsupported.state = v1::ENDPOINT_STATE_UNSUPPORTED;
  auto page = store_->ListEndpoints(unsupported, kNow);
  ASSERT_EQ(page->endpoints.size(), 1u);
  EXPECT_EQ(page->endpoints[0].id(), "w10");
}

TEST_P(StoreConformance, CountsByStateFollowTheFilters) {
  for (int i = 0; i < 4; ++i) Enroll("e" + std::to_string(i));
  Enroll("w10", v1::OS_PRODUCT_WINDOWS_10);
  auto all = store_->CountEndpoints(EndpointFilter());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all,
            (StateCounts{{v1::ENDPOINT_STATE_ENROLLED, 4}, {v1::ENDPOINT_STATE_UNSUPPORTED, 1}}));
  EndpointFilter by_product;
  by_product.product = v1::OS_PRODUCT_WINDOWS_10;
  EXPECT_EQ(*store_->CountEndpoints(by_product),
            (StateCounts{{v1::ENDPOINT_STATE_UNSUPPORTED, 1}}));
  EndpointFilter failed;
  failed.state = v1::ENDPOINT_STATE_FAILED;
  EXPECT_TRUE(store_->CountEndpoints(failed)->empty());
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->endpoints, 5);
  EXPECT_GE(stats->transactions, 5);
  EXPECT_GE(stats->writes, stats->transactions);
}

TEST_P(StoreConformance, CountsByStateAndOsCoverEveryEndpoint) {
  EXPECT_TRUE(store_->CountEndpointsByStateAndOs()->empty());
  for (int i = 0; i < 3; ++i) Enroll("e" + std::to_string(i));
  Enroll("w81", v1::OS_PRODUCT_WINDOWS_8_1);
  Enroll("w10", v1::OS_PRODUCT_WINDOWS_10);
  store_->StartRun(Run({"e0"})).IgnoreError();
  auto counts = store_->CountEndpointsByStateAndOs();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts,
            (StateOsCounts{{{v1::ENDPOINT_STATE_ENROLLED, v1::OS_PRODUCT_WINDOWS_7}, 2},
                           {{v1::ENDPOINT_STATE_QUEUED, v1::OS_PRODUCT_WINDOWS_7}, 1},
                           {{v1::ENDPOINT_STATE_ENROLLED, v1::OS_PRODUCT_WINDOWS_8_1}, 1},
                           {{v1::ENDPOINT_STATE_UNSUPPORTED, v1::OS_PRODUCT_WINDOWS_10}, 1}}));
}

TEST_P(StoreConformance, OfflineIsTrackedApartFromState) {
  Enroll("e1");
  auto later = store_->GetEndpoint("e1", kNow + 10 * 60'000);
  EXPECT_FALSE(later->online());
  EXPECT_EQ(later->state(), v1::ENDPOINT_STATE_ENROLLED);
  ASSERT_TRUE(store_->TouchEndpoints({"e1"}, kNow + 10 * 60'000).ok());
  EXPECT_TRUE(store_->GetEndpoint("e1", kNow + 10 * 60'000)->online());
}

TEST_P(StoreConformance, SecretsAndCertificates) {
  ASSERT_TRUE(store_->PutSecret("k", "sealed-1", kNow).ok());
  ASSERT_TRUE(store_->PutSecret("k", "sealed-2", kNow).ok());
  EXPECT_EQ(*store_->GetSealedSecret("k"), "sealed-2");
  EXPECT_EQ(store_->GetSealedSecret("none").status().code(), absl::StatusCode::kNotFound);
  Enroll("e1");
  ASSERT_TRUE(store_->RecordCert({"renewed", "e1", "agent", kNow, kNow + 1, 0}).ok());
  EXPECT_EQ(store_->GetEndpoint("e1", kNow)->cert_serial(), "renewed");
  auto certs = store_->ListCerts();
  EXPECT_EQ(certs->size(), 2u);
}

// A new secrets key: every secret re-sealed in one transaction, or none.
TEST_P(StoreConformance, ResealSecretsIsAllOrNothing) {
  ASSERT_TRUE(store_->PutSecret("a", "sealed-a", kNow).ok());
  ASSERT_TRUE(store_->PutSecret("b", "sealed-b", kNow).ok());
  auto failed = store_->ResealSecrets(
      [](const std::string& name, const std::string& sealed) -> absl::StatusOr<std::string> {
        if (name == "b") return absl::DataLossError("b does not open");
        return "new-" + sealed;
      },
      kNow + 1);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*store_->GetSealedSecret("a"), "sealed-a");  // "a" was rolled back
  auto count = store_->ResealSecrets(
      [](const std::string&, const std::string& sealed) -> absl::StatusOr<std::string> {
        return "new-" + sealed;
      },
      kNow + 2);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);
  EXPECT_EQ(*store_->GetSealedSecret("a"), "new-sealed-a");
  EXPECT_EQ(*store_->GetSealedSecret("b"), "new-sealed-b");
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(Factory([](const std::string& dir, StoreOptions o) {
                           auto s = SqliteStore::Open(dir + "/purser.db", true, o);
                           EXPECT_TRUE(s.ok()) << s.status();
                           return std::unique_ptr<Store>(s.ok() ? s->release() : nullptr);
                         })),
                         [](const ::testing::TestParamInfo<Factory>&) {
                           return std::string("SqliteFile");
                         });

}  // namespace
}  // namespace purser::db
