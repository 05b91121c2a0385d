#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/stage_report.h"
#include "google/protobuf/util/time_util.h"
#include "vigil/v1/event.pb.h"
#include "vigil/v1/sensor_api.pb.h"

namespace vigil {

// What the detector has done, for health, /metrics and `vigilctl rules list`.
// Safe to build from any thread.
struct DetectorStats {
  v1::ListRulesResponse rules;  // per-rule counters, reloads, last error
  uint64_t alerts = 0;          // alerts emitted (after aggregation and exceptions)
  uint64_t suppressed = 0;      // matches folded into an earlier alert or excepted
};

// The detection stage: runs after the enrichers, before the sinks, on one
// thread at a time as every stage does (see pipeline.h). Alerts are whole events (kind EVENT_KIND_ALERT, process,
// ancestors and workload of the triggering event); the pipeline gives them
// ids from the event sequence and sends them to every sink after the event
// that raised them.
class Detector : public ReportsHealth {
 public:
  // Appends the alerts `event` raises. Must not block.
  virtual void Evaluate(const v1::Event& event, std::vector<v1::Event>& alerts) = 0;
  // Called by the pipeline at least once a second and at shutdown
  // (`now` = absl::InfiniteFuture()): appends alerts whose aggregation window
  // closed, forgets expired correlation state.
  virtual void Tick(absl::Time now, std::vector<v1::Event>& alerts) = 0;
  virtual DetectorStats Stats() const = 0;
  // From Stats(): rules in force, alerts, reloads; degraded when the last
  // reload failed.
  void Report(std::vector<StageReport>& out) const override;
};

// Inline: the pipeline and its tests use detectors without the rules library.
inline void Detector::Report(std::vector<StageReport>& out) const {
  const DetectorStats stats = Stats();
  const v1::ListRulesResponse& rules = stats.rules;
  StageReport& r = out.emplace_back();
  r.name = "detector";
  // Degraded: the files on disk are not what runs, the last reload failed.
  if (!rules.last_error().empty()) {
    r.state = "degraded";
    r.notes["last_error"] = rules.last_error();
  }
  r.notes["loaded"] = google::protobuf::util::TimeUtil::ToString(rules.loaded());
  r.Gauge("rules", "vigil_rules_loaded", "Detection rules in force (correlations included).", rules.rules_size());
  r.Counter("alerts", "", "", stats.alerts);
  r.Counter("suppressed", "vigil_alerts_suppressed_total",
            "Rule matches folded into an earlier alert (aggregation) or excepted.", stats.suppressed);
  r.Counter("reloads", "vigil_rules_reloads_total", "Successful reloads of the detection rules.", rules.reloads());
  r.Counter("reload_failures", "vigil_rules_reload_failures_total",
            "Reloads of the detection rules that failed (the rules in force stayed).", rules.reload_failures());
}

}  // namespace vigil
