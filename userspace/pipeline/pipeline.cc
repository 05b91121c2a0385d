#include "pipeline/pipeline.h"

#include "absl/strings/str_cat.h"
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

void Pipeline::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Pipeline::Submit(absl::Span<const uint8_t> record) {
  const size_t kind = KindIndex(Decoder::PeekKind(record));
  received_[kind].fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= options_.queue_capacity) {
    dropped_queue_[kind].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(Item{std::vector<uint8_t>(record.begin(), record.end()), nullptr});
}

void Pipeline::Inject(v1::Event event) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Item{{}, std::make_unique<v1::Event>(std::move(event))});
}

void Pipeline::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Pipeline::Run() {
  std::deque<Item> batch;
  v1::Event scratch;
  for (;;) {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      batch.swap(queue_);
      stopping = stopping_;
    }
    for (Item& item : batch) Handle(item, scratch);
    batch.clear();
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

void Pipeline::Handle(Item& item, v1::Event& scratch) {
  if (item.event) {
    Deliver(*item.event);
    return;
  }
  absl::Status status = decoder_.Decode(item.record, scratch);
  if (!status.ok()) {
    decode_errors_[KindIndex(Decoder::PeekKind(item.record))].fetch_add(1, std::memory_order_relaxed);
    static RateLimit limit(absl::Seconds(10));
    if (uint64_t held; limit.Allow(held)) {
      Logger("decode")->warn("record rejected: {} ({} more since last report)", status.message(), held);
    }
    return;
  }
  Deliver(scratch);
}

void Pipeline::Deliver(v1::Event& event) {
  event.set_id(absl::StrCat(options_.instance_id, "-", next_seq_++));
  for (auto& enricher : enrichers_) enricher->Enrich(event);
  if (detector_ != nullptr) detector_->Evaluate(event, alerts_);
  WriteToSinks(event);
  WriteAlerts();
}

void Pipeline::WriteAlerts() {
  // Alerts take ids from the same sequence, after the event that raised them.
  for (v1::Event& alert : alerts_) {
    alert.set_id(absl::StrCat(options_.instance_id, "-", next_seq_++));
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
  absl::MutexLock lock(&mu_);
  c.queue_depth = queue_.size();
  return c;
}

}  // namespace vigil
