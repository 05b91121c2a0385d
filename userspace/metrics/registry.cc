#include "metrics/registry.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vigil::metrics {

namespace {

bool ValidName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return true;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

std::string EscapeLabelValue(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string EscapeHelp(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// {a="1",b="2"}, with `extra` appended (le for histogram buckets).
std::string LabelText(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& l) {
    absl::StrAppend(&out, first ? "" : ",", l.first, "=\"", EscapeLabelValue(l.second), "\"");
    first = false;
  };
  for (const auto& l : labels) add(l);
  if (extra != nullptr) add(*extra);
  out += "}";
  return out;
}

[[noreturn]] void BadMetric(absl::string_view name, absl::string_view why) {
  Logger("metrics")->critical("metric {}: {}", name, why);
  std::abort();
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

size_t Histogram::BucketOf(double v) const {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  return i;
}

void Histogram::Observe(double v) {
  counts_[BucketOf(v)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

void Histogram::ObserveAll(absl::Span<const double> values) {
  if (values.empty()) return;
  // Values gathered together mostly fall in one bucket: counted in runs.
  size_t bucket = BucketOf(values[0]);
  uint64_t run = 0;
  double sum = 0;
  for (double v : values) {
    if (const size_t i = BucketOf(v); i != bucket) {
      counts_[bucket].fetch_add(run, std::memory_order_relaxed);
      bucket = i;
      run = 0;
    }
    ++run;
    sum += v;
  }
  counts_[bucket].fetch_add(run, std::memory_order_relaxed);
  sum_.fetch_add(sum, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i, start *= factor) out.push_back(start);
  return out;
}

Registry::Family& Registry::GetFamily(absl::string_view name, absl::string_view help, Type type) {
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second.type != type) BadMetric(name, "registered twice with different types");
    return it->second;
  }
  if (!ValidName(name)) BadMetric(name, "name must be [a-z_][a-z0-9_]*");
  if (!absl::StartsWith(name, prefix_)) BadMetric(name, absl::StrCat("name must start with ", prefix_));
  if ((type == Type::kCounter) != absl::EndsWith(name, "_total")) {
    BadMetric(name, "counters, and only counters, end in _total");
  }
  return families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}}).first->second;
}

Counter& Registry::GetCounter(absl::string_view name, absl::string_view help, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, help, Type::kCounter).counters[labels];
  if (slot == nullptr) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(absl::string_view name, absl::string_view help, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, help, Type::kGauge).gauges[labels];
  if (slot == nullptr) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(absl::string_view name, absl::string_view help, const std::vector<double>& bounds,
                                  const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, help, Type::kHistogram).histograms[labels];
  if (slot == nullptr) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void Registry::OnScrape(std::function<void(Registry&)> hook) {
  absl::MutexLock lock(&hooks_mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() {
  absl::MutexLock hooks_lock(&hooks_mu_);
  for (auto& hook : hooks_) hook(*this);
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(family.help), "\n# TYPE ", name, " ",
                    kTypeNames[static_cast<int>(family.type)], "\n");
    for (const auto& [labels, c] : family.counters) {
      absl::StrAppend(&out, name, LabelText(labels), " ", FormatValue(c->value()), "\n");
    }
    for (const auto& [labels, g] : family.gauges) {
      absl::StrAppend(&out, name, LabelText(labels), " ", FormatValue(g->value()), "\n");
    }
    for (const auto& [labels, h] : family.histograms) {
      const std::vector<uint64_t> counts = h->counts();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        const std::pair<std::string, std::string> le{
            "le", i < h->bounds().size() ? FormatValue(h->bounds()[i]) : std::string("+Inf")};
        absl::StrAppend(&out, name, "_bucket", LabelText(labels, &le), " ", cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_sum", LabelText(labels), " ", FormatValue(h->sum()), "\n");
      absl::StrAppend(&out, name, "_count", LabelText(labels), " ", cumulative, "\n");
    }
  }
  return out;
}

}  // namespace vigil::metrics
