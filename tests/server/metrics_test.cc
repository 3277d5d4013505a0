#include "server/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace purser::metrics {
namespace {

TEST(Metrics, CountersGaugesAndHistogramsRenderInTheTextFormat) {
  Registry r;
  auto* calls = r.AddCounter("app_calls_total", "Calls made", {"method", "code"});
  calls->With({"Get", "OK"})->Inc();
  calls->With({"Get", "OK"})->Inc(2);
  calls->With({"Put", "NOT_FOUND"})->Inc();
  r.AddGauge("app_temperature_celsius", "Temperature")->With()->Set(-3.5);
  auto* h = r.AddHistogram("app_latency_seconds", "Latency", {0.1, 1})->With();
  h->Observe(0.0625);
  h->Observe(0.5);
  h->Observe(0.5);
  h->Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP app_calls_total Calls made\n"
            "# TYPE app_calls_total counter\n"
            "app_calls_total{method=\"Get\",code=\"OK\"} 3\n"
            "app_calls_total{method=\"Put\",code=\"NOT_FOUND\"} 1\n"
            "# HELP app_temperature_celsius Temperature\n"
            "# TYPE app_temperature_celsius gauge\n"
            "app_temperature_celsius -3.5\n"
            "# HELP app_latency_seconds Latency\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{le=\"0.1\"} 1\n"
            "app_latency_seconds_bucket{le=\"1\"} 3\n"
            "app_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "app_latency_seconds_sum 8.0625\n"
            "app_latency_seconds_count 4\n");
}

TEST(Metrics, AFamilyWithoutChildrenIsLeftOut) {
  Registry r;
  r.AddCounter("app_unused_total", "Never used", {"method"});
  EXPECT_EQ(r.Render(), "");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.AddGauge("app_info", "Line one\nback\\slash \"quoted\"", {"name"})
      ->With({"a \"quoted\" back\\slash\nnew line"})
      ->Set(1);
  EXPECT_EQ(r.Render(),
            "# HELP app_info Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE app_info gauge\n"
            "app_info{name=\"a \\\"quoted\\\" back\\\\slash\\nnew line\"} 1\n");
}

TEST(Metrics, ValuesKeepTheirPrecision) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1798761600), "1798761600");  // a Unix time, not 1.79876e+09
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(1e-7), "1e-07");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(Metrics, NamesFollowTheFormat) {
  EXPECT_TRUE(ValidMetricName("purser_grpc_server_handled_total"));
  EXPECT_TRUE(ValidMetricName("ns:rule_name"));
  EXPECT_FALSE(ValidMetricName("9lives"));
  EXPECT_FALSE(ValidMetricName("with-dash"));
  EXPECT_FALSE(ValidMetricName(""));
  EXPECT_TRUE(ValidLabelName("grpc_method"));
  EXPECT_FALSE(ValidLabelName("__reserved"));
  EXPECT_FALSE(ValidLabelName("a:b"));
  EXPECT_FALSE(ValidLabelName("1st"));
}

TEST(Metrics, ADuplicateOrInvalidNameIsAProgrammingError) {
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("x_total", "x");
        r.AddGauge("x_total", "again");
      },
      "x_total");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("bad-name", "x");
      },
      "bad-name");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddHistogram("h_seconds", "x", {1}, {"le"});
      },
      "h_seconds");
}

TEST(Metrics, CollectorsRunAtEveryScrapeBeforeTheRegisteredFamilies) {
  Registry r;
  r.AddCounter("app_b_total", "b")->With()->Inc();
  int scrapes = 0;
  r.AddCollector([&](std::vector<MetricFamily>* out) {
    MetricFamily f{"app_a", "a", Type::kGauge, {}};
    f.Add({{"scrape", std::to_string(++scrapes)}}, 1);
    out->push_back(f);
  });
  EXPECT_EQ(r.Render(),
            "# HELP app_a a\n# TYPE app_a gauge\napp_a{scrape=\"1\"} 1\n"
            "# HELP app_b_total b\n# TYPE app_b_total counter\napp_b_total 1\n");
  EXPECT_NE(r.Render().find("app_a{scrape=\"2\"} 1"), std::string::npos);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto* family = r.AddCounter("app_ops_total", "ops", {"worker"});
  auto* h = r.AddHistogram("app_op_seconds", "op time", ExponentialBuckets(0.001, 10, 3))->With();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Counter* mine = family->With({std::to_string(t % 2)});
      for (int i = 0; i < 10000; ++i) {
        mine->Inc();
        h->Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(family->With({"0"})->Value() + family->With({"1"})->Value(), 80000u);
  Histogram::Snapshot s = h->Snap();
  EXPECT_EQ(s.count, 80000u);
  EXPECT_DOUBLE_EQ(s.sum, 40000);
  EXPECT_EQ(s.bounds, (std::vector<double>{0.001, 0.01, 0.1}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{0, 0, 0, 80000}));
}

TEST(Metrics, GaugesMoveBothWays) {
  Gauge g;
  g.Add(2.5);
  g.Add(-1);
  EXPECT_DOUBLE_EQ(g.Value(), 1.5);
  g.Set(-7);
  EXPECT_DOUBLE_EQ(g.Value(), -7);
}

}  // namespace
}  // namespace purser::metrics
