#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace vigil {

// What one pipeline stage says about itself. `vigilctl status` lists each as a
// component (name, state, key=value details), /metrics exports every value
// under its metric name, so a stage adds a counter in one place.
struct StageReport {
  struct Value {
    std::string key;     // in `vigilctl status`: "entries"
    std::string metric;  // in /metrics: "vigil_process_cache_entries"; "" for status only
    std::string help;
    double value = 0;
    bool counter = false;                                     // monotonic total; else a gauge
    std::vector<std::pair<std::string, std::string>> labels;  // of the metric
  };

  std::string name;          // "process-cache", "uplink", ...
  std::string state = "ok";  // one word: ok, degraded, down, disabled
  std::vector<Value> values;
  std::map<std::string, std::string> notes;  // text details: an address, the last error

  StageReport& Gauge(std::string key, std::string metric, std::string help, double value,
                     std::vector<std::pair<std::string, std::string>> labels = {}) {
    values.push_back({std::move(key), std::move(metric), std::move(help), value, false, std::move(labels)});
    return *this;
  }
  StageReport& Counter(std::string key, std::string metric, std::string help, double value,
                       std::vector<std::pair<std::string, std::string>> labels = {}) {
    values.push_back({std::move(key), std::move(metric), std::move(help), value, true, std::move(labels)});
    return *this;
  }
};

// Implemented by every stage that has something to say; called from the API
// and metrics threads, so it reads only thread-safe state.
class ReportsHealth {
 public:
  virtual ~ReportsHealth() = default;
  // Appends one report per component (a stage may hold several, such as the
  // container runtimes); nothing when it has nothing to say.
  virtual void Report(std::vector<StageReport>& out) const = 0;
};

}  // namespace vigil
