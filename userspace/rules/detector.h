#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
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

// The detection stage: runs after the enrichers, before the sinks, on the
// pipeline thread. Alerts are whole events (kind EVENT_KIND_ALERT, process,
// ancestors and workload of the triggering event); the pipeline gives them
// ids from the event sequence and sends them to every sink after the event
// that raised them.
class Detector {
 public:
  virtual ~Detector() = default;
  // Appends the alerts `event` raises. Must not block.
  virtual void Evaluate(const v1::Event& event, std::vector<v1::Event>& alerts) = 0;
  // Called on the pipeline thread at least once a second and at shutdown
  // (`now` = absl::InfiniteFuture()): appends alerts whose aggregation window
  // closed, forgets expired correlation state.
  virtual void Tick(absl::Time now, std::vector<v1::Event>& alerts) = 0;
  virtual DetectorStats Stats() const = 0;
};

}  // namespace vigil
