#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "decode/decoder.h"
#include "pipeline/stage.h"
#include "rules/detector.h"
#include "vigil_abi.h"

namespace vigil {

struct PipelineOptions {
  size_t queue_capacity = 65536;  // records waiting between reader and pipeline thread
  std::string instance_id;        // prefix of event ids; unique per sensor start
};

// What the pipeline saw, per kernel event kind.
struct PipelineCounters {
  std::array<uint64_t, VIGIL_KIND_MAX> received{};       // taken from the ring buffer
  std::array<uint64_t, VIGIL_KIND_MAX> dropped_queue{};  // queue full
  std::array<uint64_t, VIGIL_KIND_MAX> decode_errors{};  // rejected by the decoder
  uint64_t sink_errors = 0;
  uint64_t queue_depth = 0;
};

// reader thread --Submit()--> bounded queue --> pipeline thread:
// decode -> enrichers in order -> detector -> every sink (the event, then the
// alerts it raised).
// The reader side only copies bytes and never blocks: when the queue is full
// the record is dropped and counted.
class Pipeline {
 public:
  // `detector` may be null: no detection.
  Pipeline(PipelineOptions options, Decoder decoder, std::vector<std::unique_ptr<Enricher>> enrichers,
           std::unique_ptr<Detector> detector, std::vector<std::unique_ptr<Sink>> sinks);
  ~Pipeline();

  void Start();
  // From the reader thread.
  void Submit(absl::Span<const uint8_t> record);
  // An event the sensor makes itself (health): never dropped.
  void Inject(v1::Event event);
  // Processes everything queued, flushes the sinks, joins the thread.
  void Stop();

  PipelineCounters Counters() const;

 private:
  struct Item {
    std::vector<uint8_t> record;
    std::unique_ptr<v1::Event> event;  // set for injected events
  };

  void Run();
  void Handle(Item& item, v1::Event& scratch);
  void Deliver(v1::Event& event);
  void WriteToSinks(v1::Event& event);
  void WriteAlerts();
  void FlushSinks();

  const PipelineOptions options_;
  const Decoder decoder_;
  std::vector<std::unique_ptr<Enricher>> enrichers_;
  std::unique_ptr<Detector> detector_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<v1::Event> alerts_;  // pipeline thread only: reused for every event

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  std::array<std::atomic<uint64_t>, VIGIL_KIND_MAX> received_{};
  std::array<std::atomic<uint64_t>, VIGIL_KIND_MAX> dropped_queue_{};
  std::array<std::atomic<uint64_t>, VIGIL_KIND_MAX> decode_errors_{};
  std::atomic<uint64_t> sink_errors_{0};
  uint64_t next_seq_ = 0;  // pipeline thread only
};

}  // namespace vigil
