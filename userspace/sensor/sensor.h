#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "api/server.h"
#include "api/subscribers.h"
#include "common/boot_clock.h"
#include "container/container_enricher.h"
#include "loader/daemons.h"
#include "loader/probe_set.h"
#include "loader/ring_buffer.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "pipeline/pipeline.h"
#include "process/process_cache.h"
#include "rules/sigma_detector.h"
#include "sensor/config.h"
#include "sensor/path_watcher.h"
#include "uplink/uplink.h"

namespace vigil {

// The daemon: probes -> ring buffer reader -> pipeline -> sinks.
class Sensor {
 public:
  // Checks the host (capabilities, BTF, kernel filesystems), loads and
  // attaches the probes, opens the outputs and learns running processes.
  // `extra_sinks` receive every event besides the configured output.
  static absl::StatusOr<std::unique_ptr<Sensor>> Create(const SensorConfig& config,
                                                        std::vector<std::unique_ptr<Sink>> extra_sinks = {});
  ~Sensor();

  std::vector<ProbeState> probes() const { return probes_->probes(); }
  // For `vigilctl status`; called from API threads.
  v1::StatusResponse StatusReport();
  // Re-reads the rules, exceptions and lists (SIGHUP, or a watched file
  // changed; `why` says which, for the log). On failure the rules in force
  // stay; the error is logged and shown in status and /metrics. Any thread.
  void ReloadRules(absl::string_view why);

  // Streams events until `wait_for_stop(timeout)` returns true; it is called
  // about once a second. Then detaches the probes, drains what the kernel
  // already produced, writes a final health report and flushes the outputs.
  absl::Status Run(const std::function<bool(absl::Duration)>& wait_for_stop);

 private:
  // Ring buffer poll timeout on an idle node, or the batch interval if
  // longer: the first record after a quiet spell wakes the reader at once.
  static constexpr absl::Duration kIdlePoll = absl::Milliseconds(100);

  explicit Sensor(const SensorConfig& config) : config_(config) {}
  void ReadLoop();
  // Health event from the kernel's and the pipeline's counters. Also called
  // from API and metrics threads: reads only thread-safe counters.
  v1::Event Health(bool final);
  absl::Status StartServices();
  void LogNewDrops();
  std::vector<StageReport> StageReports() const;

  const SensorConfig config_;
  BootClock clock_;
  std::unique_ptr<ProbeSet> probes_;
  std::unique_ptr<DaemonWatch> daemons_;  // writes into a map of probes_
  SubscriberHub hub_;                     // outlives pipeline_, whose sink feeds it
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<RingBuffer> ring_;
  const ProcessCache* process_cache_ = nullptr;    // owned by pipeline_
  const Uplink* uplink_ = nullptr;                 // owned by pipeline_; null without a collector
  bool uplink_down_ = false;                       // a collector is configured, its uplink could not start
  const ContainerEnricher* containers_ = nullptr;  // owned by pipeline_; null when off
  SigmaDetector* detector_ = nullptr;              // owned by pipeline_; null when detection is off
  std::unique_ptr<PathWatcher> rules_watcher_;     // calls ReloadRules; stopped first (~Sensor)
  std::thread reader_;
  std::atomic<bool> stop_reader_{false};
  uint64_t drops_logged_ = 0;
  // Local API and metrics: stopped first (~Sensor), they read the rest.
  absl::Time started_ = absl::Now();
  std::atomic<bool> ready_{false};
  metrics::Registry metrics_;
  std::unique_ptr<metrics::HttpServer> http_;
  std::unique_ptr<ApiServer> api_;
};

}  // namespace vigil
