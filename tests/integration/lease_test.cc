// Leases and idempotent reports: a duplicate report changes nothing; a lease
// nobody answers becomes TIMED_OUT, counts as a failed attempt, and is retried.
#include <gtest/gtest.h>

#include "grpcpp/client_context.h"
#include "tests/integration/harness.h"

namespace purser::testing {
namespace {

grpc::Status Wait(RawAgent& a, int seconds, v1::WaitForWorkResponse* out) {
  v1::WaitForWorkRequest req;
  req.set_wait_seconds(seconds);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds + 5));
  return a.stub->WaitForWork(&ctx, req, out);
}

absl::StatusOr<v1::ReportResultResponse> Report(RawAgent& a, const v1::Job& job,
                                                v1::StepOutcome outcome, int attempt = 0) {
  v1::ReportResultRequest r;
  r.set_job_id(job.job_id());
  r.set_attempt(attempt ? attempt : job.attempt());
  r.set_outcome(outcome);
  r.set_message(v1::StepOutcome_Name(outcome));
  v1::ReportResultResponse ack;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status st = a.stub->ReportResult(&ctx, r, &ack);
  if (!st.ok())
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return ack;
}

TEST(Lease, DuplicateReportIsAcknowledgedAndChangesNothing) {
  TempDir dir;
  TestServer server(dir.path());
  ASSERT_TRUE(server.Start().ok());
  auto token = server.Token(1);
  auto a = EnrollRaw(server, *token, Win7Inventory("dup"), dir.Sub("dup"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(server.StartRun("many-steps", {a->identity.endpoint_id}, {}).ok());
  v1::WaitForWorkResponse work;
  ASSERT_TRUE(Wait(*a, 2, &work).ok());
  ASSERT_TRUE(work.has_job());
  auto first = Report(*a, work.job(), v1::STEP_OUTCOME_SUCCEEDED);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->duplicate());
  auto before = server.Get(a->identity.endpoint_id);
  ASSERT_TRUE(before.ok());

  // The same (job, attempt) again, even claiming another outcome.
  auto again = Report(*a, work.job(), v1::STEP_OUTCOME_FAILED);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate());
  auto after = server.Get(a->identity.endpoint_id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->endpoint().state(), before->endpoint().state());
  EXPECT_EQ(after->endpoint().state_detail(), before->endpoint().state_detail());
  ASSERT_EQ(after->jobs_size(), before->jobs_size());
  for (int i = 0; i < after->jobs_size(); ++i) {
    EXPECT_EQ(after->jobs(i).state(), before->jobs(i).state()) << i;
    EXPECT_EQ(after->jobs(i).attempt(), before->jobs(i).attempt()) << i;
    EXPECT_EQ(after->jobs(i).message(), before->jobs(i).message()) << i;
  }
  EXPECT_EQ(after->jobs(0).state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(after->jobs(1).state(), v1::JOB_STATE_QUEUED);
}

TEST(Lease, UnansweredLeaseTimesOutThenIsRetried) {
  TempDir dir;
  TestServer server(dir.path(), {"--lease_grace_ms=300"});
  ASSERT_TRUE(server.Start().ok());
  auto token = server.Token(1);
  auto a = EnrollRaw(server, *token, Win7Inventory("silent"), dir.Sub("silent"));
  ASSERT_TRUE(a.ok());
  const std::string id = a->identity.endpoint_id;
  ASSERT_TRUE(server.StartRun("lease-test", {id}, {}).ok());
  v1::WaitForWorkResponse first;
  ASSERT_TRUE(Wait(*a, 2, &first).ok());
  ASSERT_TRUE(first.has_job());
  EXPECT_EQ(first.job().attempt(), 1);

  // Say nothing: the 1 s step + 0.3 s grace lease expires.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server.Get(id);
        return e.ok() && e->jobs_size() == 1 && e->jobs(0).timed_out_attempts() == 1;
      },
      absl::Seconds(10)));
  auto mid = server.Get(id);
  EXPECT_EQ(mid->jobs(0).state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(mid->jobs(0).attempt(), 2);
  EXPECT_NE(mid->endpoint().state_detail().find("TIMEOUT"), std::string::npos)
      << mid->endpoint().state_detail();

  // The late report of attempt 1 is acknowledged as stale and not applied.
  auto late = Report(*a, first.job(), v1::STEP_OUTCOME_SUCCEEDED, 1);
  ASSERT_TRUE(late.ok());
  EXPECT_TRUE(late->stale());
  EXPECT_EQ(server.Get(id)->jobs(0).state(), v1::JOB_STATE_QUEUED);

  // After its backoff, attempt 2 is handed out and can succeed.
  v1::WaitForWorkResponse second;
  ASSERT_TRUE(
      WaitUntil([&] { return Wait(*a, 3, &second).ok() && second.has_job(); }, absl::Seconds(10)));
  EXPECT_EQ(second.job().job_id(), first.job().job_id());
  EXPECT_EQ(second.job().attempt(), 2);
  ASSERT_TRUE(Report(*a, second.job(), v1::STEP_OUTCOME_SUCCEEDED).ok());
  EXPECT_EQ(server.Get(id)->endpoint().state(), v1::ENDPOINT_STATE_ONBOARDED);
}

TEST(Lease, LastAttemptTimingOutFailsTheEndpoint) {
  TempDir dir;
  TestServer server(dir.path(), {"--lease_grace_ms=200"});
  ASSERT_TRUE(server.Start().ok());
  auto token = server.Token(1);
  auto a = EnrollRaw(server, *token, Win7Inventory("gone"), dir.Sub("gone"));
  ASSERT_TRUE(a.ok());
  const std::string id = a->identity.endpoint_id;
  ASSERT_TRUE(server.StartRun("lease-test", {id}, {}).ok());
  for (int attempt = 1; attempt <= 2; ++attempt) {
    v1::WaitForWorkResponse work;
    ASSERT_TRUE(
        WaitUntil([&] { return Wait(*a, 3, &work).ok() && work.has_job(); }, absl::Seconds(10)));
    EXPECT_EQ(work.job().attempt(), attempt);
    // Hold the lease silently (polling again would re-deliver and extend it).
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto e = server.Get(id);
          return e.ok() && e->jobs(0).timed_out_attempts() == attempt;
        },
        absl::Seconds(10)));
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto e = server.Get(id);
        return e.ok() && e->endpoint().state() == v1::ENDPOINT_STATE_FAILED;
      },
      absl::Seconds(10)));
  auto e = server.Get(id);
  EXPECT_EQ(e->endpoint().error_class(), v1::ERROR_CLASS_TIMEOUT);
  EXPECT_EQ(e->jobs(0).state(), v1::JOB_STATE_TIMED_OUT);
  EXPECT_EQ(e->jobs(0).timed_out_attempts(), 2);
}

}  // namespace
}  // namespace purser::testing
