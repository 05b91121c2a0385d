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
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "decode/decoder.h"
#include "pipeline/stage.h"
#include "rules/detector.h"
#include "vigil_abi.h"

namespace vigil {

struct PipelineOptions {
  size_t queue_capacity = 65536;  // records waiting between reader and pipeline thread
  // ... and their bytes: exec records run to tens of KiB (argv, env), so a
  // count alone would let a burst of them hold gigabytes.
  size_t queue_max_bytes = 64u << 20;
  std::string instance_id;  // prefix of event ids; unique per sensor start
  // Events waiting for an enricher's answer (a container's metadata), at
  // most: past either bound an event goes on without waiting.
  size_t park_max_events = 16384;
  size_t park_max_bytes = 32u << 20;
  Clock now = absl::Now;  // for the parked events' deadlines, and to time the reader's own batches
};

// What the pipeline saw, per kernel event kind.
struct PipelineCounters {
  std::array<uint64_t, VIGIL_KIND_MAX> received{};       // taken from the ring buffer
  std::array<uint64_t, VIGIL_KIND_MAX> dropped_queue{};  // queue full
  std::array<uint64_t, VIGIL_KIND_MAX> decode_errors{};  // rejected by the decoder
  uint64_t sink_errors = 0;
  uint64_t queue_depth = 0;
  uint64_t queue_bytes = 0;  // the raw bytes of the records queued
  // Events that waited for an enricher's answer (a container's metadata):
  uint64_t parked = 0;         // put aside, while the others went on
  uint64_t released = 0;       // sent on with the answer
  uint64_t expired = 0;        // sent on without it: their wait was over, or at shutdown
  uint64_t park_overflow = 0;  // not put aside, the park being full: sent on without waiting
  uint64_t parked_events = 0;  // waiting now
  uint64_t parked_bytes = 0;   // their serialized size
};

// reader thread --Submit()--> open batch --Publish()--> queue of batches
// --> pipeline thread: decode -> enrichers in order -> detector -> every sink
// (the event, then the alerts it raised).
// An event an enricher cannot complete yet (its container's metadata is on
// the way) is parked, bounded by count and bytes, until the answer comes or
// its deadline passes; the events of other keys go on meanwhile. Order:
// events of one key (one cgroup) leave in the order they came; events of
// different keys may pass each other. Event ids are given as events leave,
// so they increase in the order of the output.
// When nothing is queued and the pipeline thread is idle at the first
// record of a poll (the common case on a node that is not overloaded), the
// reader does the poll's records itself as Submit() gets them, decoded
// straight from the ring buffer: no copy, no lock per record, no hand-off
// or wake-up. Otherwise it only copies bytes into a reused batch and never
// blocks: when the queue is full (by count or by bytes) the record is
// dropped and counted. Batches, not records, cross between threads: one
// lock hand-off and at most one wake-up per batch, and no allocation per
// record once the batches have grown. Past kBatchRecords in one poll, and
// for a second after a poll whose work was slow, records are queued: under
// load the two threads work side by side, and the queue, not the ring
// buffer, absorbs a slow stage.
class Pipeline : public ReportsHealth {
 public:
  // `detector` may be null: no detection.
  Pipeline(PipelineOptions options, Decoder decoder, std::vector<std::unique_ptr<Enricher>> enrichers,
           std::unique_ptr<Detector> detector, std::vector<std::unique_ptr<Sink>> sinks);
  ~Pipeline();

  void Start();
  // From the reader thread: does the record at once, or adds it to the
  // open batch, which goes to the pipeline thread at Publish() or when it is
  // full (see above). `record` is not used after the call returns.
  void Submit(absl::Span<const uint8_t> record);
  // Ends the poll: the reader calls it after each poll of the ring buffer.
  // The open batch is handed to the pipeline thread, or handled on this one
  // when no work is queued or in hand; then the sinks are flushed.
  void Publish();
  // An event the sensor makes itself (health): never dropped, and after
  // every record submitted before it.
  void Inject(v1::Event event);
  // Publishes, processes everything queued, flushes the sinks, joins the
  // thread. From the reader's thread, or once it has ended.
  void Stop();

  PipelineCounters Counters() const;
  // Its own report, then every stage's in order: enrichers, detector, sinks.
  void Report(std::vector<StageReport>& out) const override;

 private:
  // Records back to back; record i is bytes[ends[i-1], ends[i]).
  struct Batch {
    std::vector<uint8_t> bytes;
    std::vector<uint32_t> ends;
  };
  struct Item {
    std::unique_ptr<Batch> batch;
    std::unique_ptr<v1::Event> event;  // set for injected events
  };

  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(open_mu_);
  // The reader takes the work when nothing is queued or in hand and no
  // hand-off is on; and gives it back after a poll's share (the detector's
  // tick, the sinks' flush), starting a hand-off when it took too long.
  bool TryTakeWork();
  void GiveBackWork(absl::Time start);
  void Run();
  // Both with work_mu_ held: a batch's records, then what follows each run
  // of work (the detector's clock at `now`, flushing the sinks).
  void HandleBatch(Batch& batch);
  void AfterWork(absl::Time now);
  void Handle(absl::Span<const uint8_t> record);
  void Deliver(v1::Event& event);
  // Runs the enrichers from `stage` on, then the detector and the sinks; or
  // parks the event at the enricher it has to wait for.
  void Continue(v1::Event& event, size_t stage);
  struct ParkKey {
    size_t stage;
    uint64_t key;
    bool operator==(const ParkKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const ParkKey& k) {
      return H::combine(std::move(h), k.stage, k.key);
    }
  };
  struct Parked {
    std::deque<std::pair<v1::Event, size_t>> events;  // (event, its bytes), in arrival order
  };
  void Park(Parked& parked, v1::Event& event, size_t bytes);
  // Sends the key's events on, in order, and forgets the key.
  void Release(ParkKey key, bool answered);
  // Releases the keys that are ready or past their deadline, and sets
  // next_deadline_ for those still waiting.
  void ReleaseDue();
  void SetId(v1::Event& event);
  void WriteToSinks(v1::Event& event);
  void WriteAlerts();
  void FlushSinks();

  const PipelineOptions options_;
  const Decoder decoder_;
  std::vector<std::unique_ptr<Enricher>> enrichers_;
  std::unique_ptr<Detector> detector_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  // Held by whichever thread does the work (the pipeline thread, or the
  // reader in Submit() and Publish()): the stages, and the state below up
  // to the mutexes, are used under it only.
  absl::Mutex work_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::vector<v1::Event> alerts_;  // reused for every event
  // One reused event per kernel kind, so that each keeps its payload
  // message and strings from one record to the next.
  std::array<v1::Event, VIGIL_KIND_MAX> scratch_;
  std::string id_;  // reused for every event
  // Parked events by (enricher, key).
  absl::flat_hash_map<ParkKey, Parked> parked_;
  absl::Time next_deadline_ = absl::InfiniteFuture();
  // Until then the reader hands every record over (see kSlowBatch).
  absl::Time hand_off_until_ = absl::InfinitePast();

  // Taken per record by the reader, and by Inject(): never held long, and no
  // waiter's condition hangs on it.
  absl::Mutex open_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::unique_ptr<Batch> open_ ABSL_GUARDED_BY(open_mu_);

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Batch>> free_ ABSL_GUARDED_BY(mu_);  // emptied batches, for reuse
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;  // an enricher may have an answer for parked events
  // Started by Start(), before the reader runs; until then every record is
  // queued, never done by the reader.
  std::thread thread_;

  // The reader's own: how this poll's records go (see Submit()).
  enum class Mode { kUndecided, kDirect, kQueue };
  Mode mode_ = Mode::kUndecided;
  absl::Time work_start_;      // when the reader took the work for this poll
  size_t direct_records_ = 0;  // done so in this poll

  std::atomic<uint64_t> held_{0};        // records submitted and not yet handled
  std::atomic<uint64_t> held_bytes_{0};  // and their bytes
  std::array<std::atomic<uint64_t>, VIGIL_KIND_MAX> received_{};
  std::array<std::atomic<uint64_t>, VIGIL_KIND_MAX> dropped_queue_{};
  std::array<std::atomic<uint64_t>, VIGIL_KIND_MAX> decode_errors_{};
  std::atomic<uint64_t> sink_errors_{0};
  std::atomic<uint64_t> parked_total_{0};
  std::atomic<uint64_t> released_{0};
  std::atomic<uint64_t> expired_{0};
  std::atomic<uint64_t> park_overflow_{0};
  std::atomic<uint64_t> parked_events_{0};
  std::atomic<uint64_t> parked_bytes_{0};
  uint64_t next_seq_ = 0;  // under work_mu_
};

}  // namespace vigil
