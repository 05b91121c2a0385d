#include "pipeline/pipeline.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/thread_name.h"

namespace vigil {

namespace {
size_t KindIndex(uint16_t kind) { return kind < VIGIL_KIND_MAX ? kind : 0; }
}  // namespace

Pipeline::Pipeline(PipelineOptions options, Decoder decoder, std::vector<std::unique_ptr<Enricher>> enrichers,
                   std::unique_ptr<Detector> detector, std::vector<std::unique_ptr<Sink>> sinks)
    : options_(std::move(options)),
      decoder_(std::move(decoder)),
      enrichers_(std::move(enrichers)),
      detector_(std::move(detector)),
      sinks_(std::move(sinks)) {
  for (auto& enricher : enrichers_) {
    enricher->SetWake([this] {
      absl::MutexLock lock(&mu_);
      woken_ = true;
    });
  }
}

Pipeline::~Pipeline() {
  Stop();
  // Their threads call the wake above: gone before the mutex is.
  enrichers_.clear();
}

namespace {
// A full batch goes out without waiting for Publish(): the pipeline thread
// starts on it while the reader is still copying. Also how many records of
// one poll the reader does itself before it hands the rest over.
constexpr size_t kBatchRecords = 1024;
// A poll's work done on the reader's thread that takes longer than this (a
// slow output, a heavy load) sends the records of the next kHandOffFor to
// the pipeline thread: the reader goes back to draining the ring buffer, and
// the queue absorbs what the slow stage holds up.
constexpr absl::Duration kSlowBatch = absl::Milliseconds(10);
constexpr absl::Duration kHandOffFor = absl::Seconds(1);
}  // namespace

void Pipeline::Start() {
  thread_ = std::thread([this] { Run(); });
  NameThread(thread_, "vigil-pipeline");
}

bool Pipeline::TryTakeWork() {
  if (!work_mu_.TryLock()) return false;
  bool idle = options_.now() >= hand_off_until_;
  if (idle) {
    absl::MutexLock q(&mu_);
    idle = queue_.empty() && !stopping_;
  }
  if (!idle) work_mu_.Unlock();
  return idle;
}

void Pipeline::GiveBackWork(absl::Time start) {
  AfterWork(absl::Now());
  if (const absl::Time end = options_.now(); end - start > kSlowBatch) hand_off_until_ = end + kHandOffFor;
  // Parked events' deadlines are the pipeline thread's to watch: it learns of new ones.
  if (!parked_.empty()) {
    absl::MutexLock q(&mu_);
    woken_ = true;
  }
  work_mu_.Unlock();
}

void Pipeline::Submit(absl::Span<const uint8_t> record) {
  const size_t kind = KindIndex(Decoder::PeekKind(record));
  received_[kind].fetch_add(1, std::memory_order_relaxed);
  // The first record of a poll decides how the poll's records go. Nothing
  // is open then (Publish() ended the last batch), so records done here
  // cannot pass records queued before them.
  if (mode_ == Mode::kUndecided) {
    mode_ = Mode::kQueue;
    if (thread_.joinable() && TryTakeWork()) {
      mode_ = Mode::kDirect;
      work_start_ = options_.now();
      direct_records_ = 0;
      if (!parked_.empty()) ReleaseDue();
    }
  }
  if (mode_ == Mode::kDirect) {
    // Decoded straight from the ring buffer: no copy, no lock per record.
    Handle(record);
    // A burst: the rest of this poll goes to the pipeline thread in
    // batches, and the reader back to draining the ring buffer.
    if (++direct_records_ == kBatchRecords) {
      mode_ = Mode::kQueue;
      GiveBackWork(work_start_);
    }
    return;
  }
  // Only this thread adds to held_ and held_bytes_: what it reads here can
  // only have shrunk by the time it adds.
  if (held_.load(std::memory_order_relaxed) >= options_.queue_capacity ||
      held_bytes_.load(std::memory_order_relaxed) + record.size() > options_.queue_max_bytes) {
    dropped_queue_[kind].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  held_.fetch_add(1, std::memory_order_relaxed);
  held_bytes_.fetch_add(record.size(), std::memory_order_relaxed);
  absl::MutexLock lock(&open_mu_);
  if (open_ == nullptr) {
    absl::MutexLock q(&mu_);
    if (free_.empty()) {
      open_ = std::make_unique<Batch>();
    } else {
      open_ = std::move(free_.back());
      free_.pop_back();
    }
  }
  open_->bytes.insert(open_->bytes.end(), record.begin(), record.end());
  open_->ends.push_back(static_cast<uint32_t>(open_->bytes.size()));
  if (open_->ends.size() >= kBatchRecords) PublishLocked();
}

void Pipeline::Publish() {
  const Mode mode = std::exchange(mode_, Mode::kUndecided);
  if (mode == Mode::kDirect) {
    GiveBackWork(work_start_);
    return;
  }
  std::unique_ptr<Batch> batch;
  {
    absl::MutexLock lock(&open_mu_);
    if (open_ == nullptr || open_->ends.empty()) return;
    // Whoever holds work_mu_ has finished everything queued before, and
    // whatever comes later queues behind this batch.
    if (!TryTakeWork()) {
      PublishLocked();
      return;
    }
    batch = std::move(open_);
  }
  const absl::Time start = options_.now();
  if (!parked_.empty()) ReleaseDue();
  HandleBatch(*batch);
  {
    absl::MutexLock q(&mu_);
    free_.push_back(std::move(batch));
  }
  GiveBackWork(start);
}

void Pipeline::PublishLocked() {
  if (open_ == nullptr || open_->ends.empty()) return;
  absl::MutexLock lock(&mu_);
  queue_.push_back(Item{std::move(open_), nullptr});
}

void Pipeline::Inject(v1::Event event) {
  absl::MutexLock lock(&open_mu_);
  PublishLocked();
  absl::MutexLock q(&mu_);
  queue_.push_back(Item{nullptr, std::make_unique<v1::Event>(std::move(event))});
}

void Pipeline::Stop() {
  // A poll the reader left undone (it calls Stop() itself, or has ended).
  if (std::exchange(mode_, Mode::kUndecided) == Mode::kDirect) GiveBackWork(work_start_);
  {
    // Handed over, never done here: the pipeline thread may not have started.
    absl::MutexLock lock(&open_mu_);
    PublishLocked();
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Pipeline::Run() {
  std::deque<Item> work;
  std::vector<std::unique_ptr<Batch>> done;
  for (;;) {
    bool parked;
    absl::Time deadline;
    {
      absl::MutexLock lock(&work_mu_);
      parked = !parked_.empty();
      deadline = next_deadline_;
    }
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this, parked]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || woken_ || (stopping_ && !parked); };
      absl::Duration timeout = absl::Seconds(1);
      if (parked) timeout = std::clamp(deadline - options_.now(), absl::ZeroDuration(), timeout);
      mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    }
    // Taken before the queue is: a batch Publish() does on its own thread
    // must come after everything queued, so nothing may be out of the queue
    // and not yet done while it looks.
    absl::MutexLock lock(&work_mu_);
    bool stopping;
    {
      absl::MutexLock q(&mu_);
      for (auto& batch : done) free_.push_back(std::move(batch));
      done.clear();
      work.swap(queue_);
      stopping = stopping_;
      woken_ = false;
    }
    // Keys answered meanwhile go first: their events came before these.
    if (!parked_.empty()) ReleaseDue();
    for (Item& item : work) {
      if (item.event != nullptr) {
        Deliver(*item.event);
        continue;
      }
      HandleBatch(*item.batch);
      done.push_back(std::move(item.batch));
    }
    work.clear();
    if (stopping) {
      // Parked events still get their wait (bounded by their deadlines).
      absl::MutexLock q(&mu_);
      if (queue_.empty() && parked_.empty()) break;
      continue;
    }
    AfterWork(absl::Now());
  }
  absl::MutexLock lock(&work_mu_);
  // Aggregated alerts still open go out with their final counts.
  AfterWork(absl::InfiniteFuture());
}

void Pipeline::HandleBatch(Batch& batch) {
  uint32_t begin = 0;
  for (uint32_t end : batch.ends) {
    Handle(absl::Span<const uint8_t>(batch.bytes.data() + begin, end - begin));
    begin = end;
  }
  held_.fetch_sub(batch.ends.size(), std::memory_order_relaxed);
  held_bytes_.fetch_sub(batch.bytes.size(), std::memory_order_relaxed);
  batch.bytes.clear();
  batch.ends.clear();
}

void Pipeline::AfterWork(absl::Time now) {
  if (detector_ != nullptr) {
    detector_->Tick(now, alerts_);
    WriteAlerts();
  }
  // Idle now or soon: make what we wrote visible to readers.
  FlushSinks();
}

void Pipeline::Handle(absl::Span<const uint8_t> record) {
  v1::Event& scratch = scratch_[KindIndex(Decoder::PeekKind(record))];
  absl::Status status = decoder_.Decode(record, scratch);
  if (!status.ok()) {
    decode_errors_[KindIndex(Decoder::PeekKind(record))].fetch_add(1, std::memory_order_relaxed);
    static RateLimit limit(absl::Seconds(10));
    if (uint64_t held; limit.Allow(held)) {
      Logger("decode")->warn("record rejected: {} ({} more since last report)", status.message(), held);
    }
    return;
  }
  Deliver(scratch);
}

void Pipeline::SetId(v1::Event& event) {
  // Into a reused string, copied into the event's: no allocation per event.
  char digits[absl::numbers_internal::kFastToBufferSize];
  const char* end = absl::numbers_internal::FastIntToBuffer(next_seq_++, digits);
  id_.assign(options_.instance_id);
  id_ += '-';
  id_.append(digits, end - digits);
  event.set_id(id_);
}

void Pipeline::Deliver(v1::Event& event) { Continue(event, 0); }

void Pipeline::Continue(v1::Event& event, size_t stage) {
  for (; stage < enrichers_.size(); ++stage) {
    Enricher& enricher = *enrichers_[stage];
    if (const uint64_t key = enricher.WaitKey(event); key != 0) {
      const ParkKey pk{stage, key};
      const absl::Time until = enricher.WaitUntil(key);
      // Settled keys (the common case) need no clock read.
      const bool wait = until != absl::InfinitePast() && until > options_.now();
      const size_t bytes = wait ? event.ByteSizeLong() : 0;
      const bool room = parked_events_.load(std::memory_order_relaxed) < options_.park_max_events &&
                        parked_bytes_.load(std::memory_order_relaxed) + bytes <= options_.park_max_bytes;
      if (auto it = parked_.find(pk); it != parked_.end()) {
        if (wait && room) {
          Park(it->second, event, bytes);  // behind the key's earlier events
          return;
        }
        // Answered, past its deadline, or no room: the earlier events go first.
        Release(pk, until == absl::InfinitePast());
      } else if (wait && room) {
        Park(parked_[pk], event, bytes);
        next_deadline_ = std::min(next_deadline_, until);
        return;
      }
      if (wait && !room) park_overflow_.fetch_add(1, std::memory_order_relaxed);
    }
    enricher.Enrich(event);
  }
  SetId(event);
  if (detector_ != nullptr) detector_->Evaluate(event, alerts_);
  WriteToSinks(event);
  WriteAlerts();
}

void Pipeline::Park(Parked& parked, v1::Event& event, size_t bytes) {
  parked.events.emplace_back(std::move(event), bytes);
  parked_total_.fetch_add(1, std::memory_order_relaxed);
  parked_events_.fetch_add(1, std::memory_order_relaxed);
  parked_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void Pipeline::Release(ParkKey key, bool answered) {
  auto node = parked_.extract(key);
  if (node.empty()) return;
  for (auto& [event, bytes] : node.mapped().events) {
    parked_events_.fetch_sub(1, std::memory_order_relaxed);
    parked_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    (answered ? released_ : expired_).fetch_add(1, std::memory_order_relaxed);
    enrichers_[key.stage]->Enrich(event);
    Continue(event, key.stage + 1);
  }
}

void Pipeline::ReleaseDue() {
  const absl::Time now = options_.now();
  absl::Time next = absl::InfiniteFuture();
  std::vector<std::pair<ParkKey, bool>> due;
  for (const auto& [key, parked] : parked_) {
    const absl::Time until = enrichers_[key.stage]->WaitUntil(key.key);
    if (until <= now) {
      due.emplace_back(key, until == absl::InfinitePast());
    } else {
      next = std::min(next, until);
    }
  }
  next_deadline_ = absl::InfiniteFuture();  // Release() may park events again, at later stages
  for (const auto& [key, answered] : due) Release(key, answered);
  next_deadline_ = std::min(next_deadline_, next);
}

void Pipeline::WriteAlerts() {
  // Alerts take ids from the same sequence, after the event that raised them.
  for (v1::Event& alert : alerts_) {
    SetId(alert);
    WriteToSinks(alert);
  }
  alerts_.clear();
}

void Pipeline::WriteToSinks(v1::Event& event) {
  for (auto& sink : sinks_) {
    if (absl::Status s = sink->Write(event); !s.ok()) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      static RateLimit limit(absl::Seconds(10));
      if (uint64_t held; limit.Allow(held)) {
        Logger("pipeline")->error("sink write failed: {} ({} more since last report)", s.message(), held);
      }
    }
  }
}

void Pipeline::FlushSinks() {
  for (auto& sink : sinks_) {
    if (absl::Status s = sink->Flush(); !s.ok()) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      static RateLimit limit(absl::Seconds(10));
      if (uint64_t held; limit.Allow(held)) {
        Logger("pipeline")->error("sink flush failed: {} ({} more since last report)", s.message(), held);
      }
    }
  }
}

PipelineCounters Pipeline::Counters() const {
  PipelineCounters c;
  for (size_t k = 0; k < VIGIL_KIND_MAX; ++k) {
    c.received[k] = received_[k].load(std::memory_order_relaxed);
    c.dropped_queue[k] = dropped_queue_[k].load(std::memory_order_relaxed);
    c.decode_errors[k] = decode_errors_[k].load(std::memory_order_relaxed);
  }
  c.sink_errors = sink_errors_.load(std::memory_order_relaxed);
  c.queue_depth = held_.load(std::memory_order_relaxed);
  c.queue_bytes = held_bytes_.load(std::memory_order_relaxed);
  c.parked = parked_total_.load(std::memory_order_relaxed);
  c.released = released_.load(std::memory_order_relaxed);
  c.expired = expired_.load(std::memory_order_relaxed);
  c.park_overflow = park_overflow_.load(std::memory_order_relaxed);
  c.parked_events = parked_events_.load(std::memory_order_relaxed);
  c.parked_bytes = parked_bytes_.load(std::memory_order_relaxed);
  return c;
}

void Pipeline::Report(std::vector<StageReport>& out) const {
  const PipelineCounters c = Counters();
  uint64_t received = 0, dropped = 0, decode_errors = 0;
  for (size_t k = 0; k < VIGIL_KIND_MAX; ++k) {
    received += c.received[k];
    dropped += c.dropped_queue[k];
    decode_errors += c.decode_errors[k];
  }
  // Per kind, with the kernel's own counters: vigil_events_*_total{kind}.
  StageReport& p = out.emplace_back();
  p.name = "pipeline";
  p.Counter("received", "", "", received);
  p.Counter("dropped_queue", "", "", dropped);
  p.Gauge("queue_depth", "vigil_pipeline_queue_depth",
          "Records waiting between the ring buffer reader and the pipeline.", c.queue_depth);
  p.Gauge("queue_bytes", "vigil_pipeline_queue_bytes", "Their raw bytes; the queue is bounded by them (and by count).",
          c.queue_bytes);
  p.Counter("sink_errors", "vigil_sink_errors_total", "Events an output failed to take (encoding or write errors).",
            c.sink_errors);
  // Events waiting for an enricher's answer (container metadata).
  p.Gauge("parked_events", "vigil_pipeline_parked_events",
          "Events waiting for their container's metadata while others go on.", c.parked_events);
  p.Gauge("parked_bytes", "vigil_pipeline_parked_bytes",
          "Their serialized bytes; the park is bounded by them (and by count).", c.parked_bytes);
  p.Counter("parked", "vigil_pipeline_events_parked_total", "Events that waited for their container's metadata.",
            c.parked);
  const char* kParkedHelp =
      "Parked events sent on, by outcome: released (with the metadata), expired (without it, at their deadline).";
  p.Counter("released", "vigil_pipeline_parked_sent_total", kParkedHelp, c.released, {{"outcome", "released"}});
  p.Counter("expired", "vigil_pipeline_parked_sent_total", kParkedHelp, c.expired, {{"outcome", "expired"}});
  p.Counter("park_overflow", "vigil_pipeline_park_overflow_total",
            "Events sent on without waiting for their container's metadata: the park was full.", c.park_overflow);
  StageReport& d = out.emplace_back();
  d.name = "decoder";
  d.Counter("errors", "vigil_decode_errors_total", "Records the decoder rejected.", decode_errors);
  for (const auto& e : enrichers_) e->Report(out);
  if (detector_ != nullptr) detector_->Report(out);
  for (const auto& s : sinks_) s->Report(out);
}

}  // namespace vigil
