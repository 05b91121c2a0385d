#include "pipeline/pipeline.h"

#include "absl/strings/numbers.h"
#include "common/log.h"
#include "common/rate_limit.h"

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
      sinks_(std::move(sinks)) {}

Pipeline::~Pipeline() { Stop(); }

namespace {
// A full batch goes out without waiting for Publish(): the pipeline thread
// starts on it while the reader is still copying.
constexpr size_t kBatchRecords = 1024;
}  // namespace

void Pipeline::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Pipeline::Submit(absl::Span<const uint8_t> record) {
  const size_t kind = KindIndex(Decoder::PeekKind(record));
  received_[kind].fetch_add(1, std::memory_order_relaxed);
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
  absl::MutexLock lock(&open_mu_);
  PublishLocked();
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
  Publish();
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
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      for (auto& batch : done) free_.push_back(std::move(batch));
      done.clear();
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      work.swap(queue_);
      stopping = stopping_;
    }
    for (Item& item : work) {
      if (item.event != nullptr) {
        Deliver(*item.event);
        continue;
      }
      Batch& batch = *item.batch;
      uint32_t begin = 0;
      for (uint32_t end : batch.ends) {
        Handle(absl::Span<const uint8_t>(batch.bytes.data() + begin, end - begin));
        begin = end;
      }
      held_.fetch_sub(batch.ends.size(), std::memory_order_relaxed);
      held_bytes_.fetch_sub(batch.bytes.size(), std::memory_order_relaxed);
      batch.bytes.clear();
      batch.ends.clear();
      done.push_back(std::move(item.batch));
    }
    work.clear();
    if (stopping) {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) break;
      continue;
    }
    if (detector_ != nullptr) {
      detector_->Tick(absl::Now(), alerts_);
      WriteAlerts();
    }
    // Idle now or soon: make what we wrote visible to readers.
    FlushSinks();
  }
  if (detector_ != nullptr) {
    // Aggregated alerts still open go out with their final counts.
    detector_->Tick(absl::InfiniteFuture(), alerts_);
    WriteAlerts();
  }
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

void Pipeline::Deliver(v1::Event& event) {
  SetId(event);
  for (auto& enricher : enrichers_) enricher->Enrich(event);
  if (detector_ != nullptr) detector_->Evaluate(event, alerts_);
  WriteToSinks(event);
  WriteAlerts();
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
  StageReport& d = out.emplace_back();
  d.name = "decoder";
  d.Counter("errors", "vigil_decode_errors_total", "Records the decoder rejected.", decode_errors);
  for (const auto& e : enrichers_) e->Report(out);
  if (detector_ != nullptr) detector_->Report(out);
  for (const auto& s : sinks_) s->Report(out);
}

}  // namespace vigil
