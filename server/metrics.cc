#include "server/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace purser::metrics {

void Gauge::Add(double d) {
  double cur = v_.load(std::memory_order_relaxed);
  while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Few buckets: a linear scan beats a binary search at this size.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

void AppendHistogram(const Labels& labels, const Histogram::Snapshot& snap, MetricFamily* family) {
  for (size_t i = 0; i < snap.cumulative.size(); ++i) {
    Labels with_le = labels;
    with_le.emplace_back("le", i < snap.bounds.size() ? FormatValue(snap.bounds[i]) : "+Inf");
    family->samples.push_back(
        {"_bucket", std::move(with_le), static_cast<double>(snap.cumulative[i])});
  }
  family->samples.push_back({"_sum", labels, snap.sum});
  family->samples.push_back({"_count", labels, static_cast<double>(snap.count)});
}

Labels FamilyBase::Zip(const std::vector<std::string>& values) const {
  Labels out;
  for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
    out.emplace_back(label_names_[i], values[i]);
  }
  return out;
}

bool ValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void Registry::Claim(const std::string& name, const std::vector<std::string>& label_names) {
  bool ok = ValidMetricName(name);
  for (const auto& l : label_names) ok = ok && ValidLabelName(l) && l != "le";
  for (const auto& n : names_) ok = ok && n != name;
  if (!ok) {
    std::fprintf(stderr, "metric %s: invalid or duplicate name or label\n", name.c_str());
    std::abort();
  }
  names_.push_back(name);
}

Family<Counter>* Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Claim(name, label_names);
  auto f = std::make_unique<Family<Counter>>(name, help, Type::kCounter, std::move(label_names));
  Family<Counter>* out = f.get();
  families_.push_back(std::move(f));
  return out;
}

Family<Gauge>* Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Claim(name, label_names);
  auto f = std::make_unique<Family<Gauge>>(name, help, Type::kGauge, std::move(label_names));
  Family<Gauge>* out = f.get();
  families_.push_back(std::move(f));
  return out;
}

Family<Histogram>* Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<double> bounds,
                                          std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Claim(name, label_names);
  auto f = std::make_unique<Family<Histogram>>(name, help, Type::kHistogram, std::move(label_names),
                                               std::move(bounds));
  Family<Histogram>* out = f.get();
  families_.push_back(std::move(f));
  return out;
}

void Registry::AddCollector(Collector collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::vector<MetricFamily> Registry::Gather() const {
  std::vector<Collector> collectors;
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::vector<MetricFamily> out;
  for (const auto& c : collectors) c(&out);
  for (const FamilyBase* f : families) out.push_back(f->Collect());
  return out;
}

std::string Registry::Render() const { return RenderText(Gather()); }

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[64];
  // Plain decimals where they stay short ("0.0005", not "5e-04").
  const double a = std::fabs(v);
  auto [end, ec] = a >= 1e-4 && a < 1e15
                       ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

namespace {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string RenderText(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) {
    if (f.samples.empty()) continue;
    absl::StrAppend(&out, "# HELP ", f.name, " ", EscapeHelp(f.help), "\n# TYPE ", f.name, " ",
                    TypeName(f.type), "\n");
    for (const auto& s : f.samples) {
      absl::StrAppend(&out, f.name, s.suffix);
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          absl::StrAppend(&out, i ? "," : "", s.labels[i].first, "=\"",
                          EscapeLabelValue(s.labels[i].second), "\"");
        }
        out += '}';
      }
      absl::StrAppend(&out, " ", FormatValue(s.value), "\n");
    }
  }
  return out;
}

}  // namespace purser::metrics
