#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace vigil::metrics {

// Label name -> value, in the order given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic. Either counted here (Increment) or mirrored from a counter kept
// elsewhere, such as the kernel's per-CPU map (Set).
class Counter {
 public:
  void Increment(double delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Set(double total) { value_.store(total, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with upper bounds in base units (seconds, bytes).
// Lock-free: Observe() may be called on a hot path from any thread.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Observe() for each value, for a caller that gathers them: one update of
  // each bucket it touches and of the sum, not one per value.
  void ObserveAll(absl::Span<const double> values);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), the last one being +Inf.
  std::vector<uint64_t> counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  size_t BucketOf(double v) const;

  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bucket bounds start, start*factor, ... (count of them).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// A set of metrics rendered in the Prometheus text exposition format 0.0.4.
// Names are checked when a metric is created: they must start with the
// registry's prefix ("vigil_"), use [a-z0-9_] only, and counters must end in
// "_total"; a bad name is a programming error and aborts.
class Registry {
 public:
  explicit Registry(std::string prefix = "vigil_") : prefix_(std::move(prefix)) {}

  // Get-or-create; the reference stays valid for the registry's lifetime.
  Counter& GetCounter(absl::string_view name, absl::string_view help, const Labels& labels = {});
  Gauge& GetGauge(absl::string_view name, absl::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(absl::string_view name, absl::string_view help, const std::vector<double>& bounds,
                          const Labels& labels = {});

  // Runs before every Render(), to refresh mirrored values.
  void OnScrape(std::function<void(Registry&)> hook);

  std::string Render();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& GetFamily(absl::string_view name, absl::string_view help, Type type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string prefix_;
  absl::Mutex hooks_mu_;  // held across a scrape: hooks may create metrics
  std::vector<std::function<void(Registry&)>> hooks_ ABSL_GUARDED_BY(hooks_mu_);
  absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::metrics
