// Metrics for Prometheus: counters, gauges and fixed-bucket histograms, kept
// in atomics so that the code that does the work only adds to them (no lock),
// and the text exposition format (version 0.0.4) they are scraped in.
// Figures that are read from elsewhere when scraped (the store, the process)
// come from collectors, which run with no lock of the registry held.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace purser::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

// One line of the exposition: name + suffix ("_bucket", "_sum", "_count" or "").
struct Sample {
  std::string suffix;
  Labels labels;
  double value = 0;
};

// A metric and its samples, as exposed.
struct MetricFamily {
  std::string name;
  std::string help;
  Type type = Type::kGauge;
  std::vector<Sample> samples;

  void Add(Labels labels, double value) { samples.push_back({"", std::move(labels), value}); }
};

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Snap() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

// Bucket bounds: `count` bounds from `start`, each `factor` times the last.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Adds a histogram's samples (_bucket with "le", _sum, _count) to `family`.
void AppendHistogram(const Labels& labels, const Histogram::Snapshot& snap, MetricFamily* family);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  virtual MetricFamily Collect() const = 0;

 protected:
  MetricFamily Empty() const { return {name_, help_, type_, {}}; }
  Labels Zip(const std::vector<std::string>& values) const;

  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
};

// The children of one metric, one per set of label values. Taking a child
// locks the family briefly: the code that does the work keeps the pointer,
// which stays valid as long as the family.
template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // `values` follow the family's label names, in order.
  T* With(const std::vector<std::string>& values = {}) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<T>& child = children_[values];
    if (!child) child = Make();
    return child.get();
  }

  MetricFamily Collect() const override {
    MetricFamily out = Empty();
    absl::MutexLock lock(&mu_);
    for (const auto& [values, child] : children_) Sample(Zip(values), *child, &out);
    return out;
  }

 private:
  std::unique_ptr<T> Make() const;
  static void Sample(const Labels& labels, const T& child, MetricFamily* out);

  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

template <>
inline std::unique_ptr<Counter> Family<Counter>::Make() const {
  return std::make_unique<Counter>();
}
template <>
inline std::unique_ptr<Gauge> Family<Gauge>::Make() const {
  return std::make_unique<Gauge>();
}
template <>
inline std::unique_ptr<Histogram> Family<Histogram>::Make() const {
  return std::make_unique<Histogram>(bounds_);
}
template <>
inline void Family<Counter>::Sample(const Labels& labels, const Counter& c, MetricFamily* out) {
  out->Add(labels, static_cast<double>(c.Value()));
}
template <>
inline void Family<Gauge>::Sample(const Labels& labels, const Gauge& g, MetricFamily* out) {
  out->Add(labels, g.Value());
}
template <>
inline void Family<Histogram>::Sample(const Labels& labels, const Histogram& h, MetricFamily* out) {
  AppendHistogram(labels, h.Snap(), out);
}

// Names per the exposition format: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics,
// [a-zA-Z_][a-zA-Z0-9_]* (not "__" first) for labels.
bool ValidMetricName(const std::string& name);
bool ValidLabelName(const std::string& name);

// The families of one process. Registration happens at start; a name used
// twice, or not valid, is a programming error and aborts.
class Registry {
 public:
  using Collector = std::function<void(std::vector<MetricFamily>*)>;

  Family<Counter>* AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>* AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds,
                                  std::vector<std::string> label_names = {});
  // `collect` runs at each scrape, on the scraping thread, with no lock held.
  void AddCollector(Collector collect);

  // Every family: the collectors' first, then the registered ones.
  std::vector<MetricFamily> Gather() const;
  // Gather(), in the text exposition format.
  std::string Render() const;

 private:
  // Aborts unless `name` and `label_names` are valid and `name` is new.
  void Claim(const std::string& name, const std::vector<std::string>& label_names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);  // of families_, for Claim
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// The text exposition format (version 0.0.4) of `families`. A family without
// samples is left out.
std::string RenderText(const std::vector<MetricFamily>& families);
// The Content-Type of RenderText's output.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Label values and help text, escaped per the format.
std::string EscapeLabelValue(const std::string& value);
std::string EscapeHelp(const std::string& help);
// A sample value: integers as such, others in their shortest exact form,
// +Inf, -Inf, NaN.
std::string FormatValue(double v);

}  // namespace purser::metrics
