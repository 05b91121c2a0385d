#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/stage_report.h"
#include "vigil/v1/event.pb.h"

namespace vigil {

// A pipeline stage that adds to an event in place: process lineage,
// container and pod, ... Runs on one thread at a time, the pipeline's (or
// the reader's, which does the work itself when the pipeline is idle), and
// never blocks it: what it has to ask elsewhere (a container runtime) it learns on its
// own threads. An event that should wait for such an answer is parked by the
// pipeline, which lets the other events flow, and comes back to Enrich()
// when the answer is there or its wait is over.
class Enricher : public ReportsHealth {
 public:
  // What the event may have to wait for: a key shared by every event that
  // needs the same answer (a cgroup id), 0 for none. Events of one key leave
  // in the order they came.
  virtual uint64_t WaitKey(const v1::Event& /*event*/) { return 0; }
  // Until when the events of `key` wait; absl::InfinitePast() once its
  // answer is there (or there will be none).
  virtual absl::Time WaitUntil(uint64_t /*key*/) { return absl::InfinitePast(); }
  // The enricher calls `wake`, from any thread, when a key may be ready.
  virtual void SetWake(std::function<void()> /*wake*/) {}
  virtual void Enrich(v1::Event& event) = 0;
  void Report(std::vector<StageReport>&) const override {}
};

// Where events leave the pipeline: a file, the uplink, local subscribers.
// Runs on one thread at a time, as enrichers do; must not block for long.
class Sink : public ReportsHealth {
 public:
  virtual absl::Status Write(const v1::Event& event) = 0;
  // Called when the pipeline goes idle and at shutdown.
  virtual absl::Status Flush() = 0;
  void Report(std::vector<StageReport>&) const override {}
};

}  // namespace vigil
