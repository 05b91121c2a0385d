#include "uplink/uplink.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/status.h"
#include "common/thread_name.h"
#include "google/protobuf/io/coded_stream.h"

namespace vigil {

namespace {

constexpr size_t kMaxReadBytes = 4u << 20;  // spool bytes per read
// Bytes of batches spooled and kept in memory for the sender (Uplink::fresh_).
// A take from the queue larger than this (a backlog) is read back instead.
constexpr size_t kMaxFreshBytes = 4u << 20;
// The channel's send limit. A batch is sent as one message, with the
// sensor's identity and sequence besides: batches stay kEnvelopeBytes below.
constexpr size_t kMaxMessageBytes = 4u << 20;
constexpr size_t kEnvelopeBytes = 64u << 10;
// A collector that refuses a batch as too large is sent batches of half its
// size, down to this (the collector's smallest --max_batch_bytes).
constexpr size_t kMinMessageBytes = 4096;
// Protobuf framing of one event inside a batch: field tag and length.
constexpr size_t kEventFraming = 10;
// The tag of PublishRequest.events (field 3, length-delimited).
constexpr uint8_t kEventsTag = (v1::PublishRequest::kEventsFieldNumber << 3) | 2;
const std::string kPublishMethod = absl::StrCat("/", v1::Collector::service_full_name(), "/Publish");

// True when `payload` is a run of PublishRequest.events entries, as the
// batcher spools them: what the sender may send without parsing it. (The
// spool's checksums catch a disk that changed; this, a record no sensor of
// ours wrote, which the collector would refuse on every resend.)
bool IsEventRun(absl::string_view payload) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  uint32_t size;
  while (in.CurrentPosition() < static_cast<int>(payload.size())) {
    if (in.ReadTag() != kEventsTag || !in.ReadVarint32(&size) || !in.Skip(static_cast<int>(size))) return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const UplinkOptions& o) {
  if (o.plaintext) return grpc::InsecureChannelCredentials();
  if (o.ca_file.empty() || o.cert_file.empty() || o.key_file.empty()) {
    return absl::InvalidArgumentError(
        "the collector uplink needs a CA, a client certificate and its key (mTLS), or plaintext explicitly");
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [path, out] : {std::pair{&o.ca_file, &ssl.pem_root_certs}, std::pair{&o.cert_file, &ssl.pem_cert_chain},
                           std::pair{&o.key_file, &ssl.pem_private_key}}) {
    auto pem = ReadFile(*path);
    if (!pem.ok()) return pem.status();
    *out = *std::move(pem);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

// Spooled batches go to the sender in the buffer the pipeline's thread wrote
// them into, and gRPC sends them from there. The buffer comes back here once
// gRPC is done with it, for the writer to fill again: memory already mapped
// and warm, where a new block would be faulted in page by page on the
// pipeline's thread. One is kept, if not much larger than a batch.
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  explicit BufferPool(size_t max_capacity) : max_capacity_(max_capacity) {}

  // An empty buffer with at least `capacity` reserved.
  std::string Get(size_t capacity) {
    std::string out;
    {
      absl::MutexLock lock(&mu_);
      if (!spare_.empty()) {
        out = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    out.reserve(capacity);
    return out;
  }

  // `bytes`, shared; back to the pool when the last holder lets go.
  std::shared_ptr<const std::string> Share(std::string bytes) {
    return std::shared_ptr<const std::string>(new std::string(std::move(bytes)),
                                              [pool = shared_from_this()](const std::string* s) { pool->Put(s); });
  }

 private:
  static constexpr size_t kSpares = 1;  // the writer fills one while another is on its way

  void Put(const std::string* s) {
    std::unique_ptr<std::string> owned(const_cast<std::string*>(s));
    if (owned->capacity() > max_capacity_) return;
    owned->clear();
    absl::MutexLock lock(&mu_);
    if (spare_.size() < kSpares) spare_.push_back(std::move(*owned));
  }

  const size_t max_capacity_;
  absl::Mutex mu_;
  std::vector<std::string> spare_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Uplink>> Uplink::Create(const UplinkOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("collector address is empty");
  if (options.batch_events < 1 || options.max_in_flight < 1 || options.queue_capacity < 1 ||
      options.queue_max_bytes < options.batch_bytes) {
    return absl::InvalidArgumentError(
        "uplink batch size, in-flight window and queue must be at least 1, the queue's bytes at least a batch's");
  }
  if (options.batch_bytes < kMinMessageBytes || options.batch_bytes > kMaxMessageBytes - kEnvelopeBytes) {
    return absl::InvalidArgumentError(absl::StrCat("uplink batch bytes must be between ", kMinMessageBytes, " and ",
                                                   kMaxMessageBytes - kEnvelopeBytes));
  }
  auto creds = Credentials(options);
  if (!creds.ok()) return creds.status();
  // The sensor's spool is not fsynced: the page cache survives a sensor
  // crash, and an fsync per batch would cost every node disk flushes. A
  // power loss can cost the batches of the last few seconds.
  SpoolOptions spool_options = options.spool;
  spool_options.durable = false;
  auto spool = Spool::Open(spool_options);
  if (absl::IsInvalidArgument(spool.status())) return spool.status();
  if (!spool.ok()) return absl::UnavailableError(absl::StrCat("spool: ", spool.status().message()));
  uint64_t acked = 0;
  if (auto text = ReadFile(options.spool.dir + "/acked"); text.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &acked)) acked = 0;
  }
  // Neither the spool nor the acked file is synced, and they are written
  // apart: after a power loss the spool may have lost batches the collector
  // acknowledged. New batches numbered at or below `acked` would never be
  // sent; sequence numbers never go backwards.
  (*spool)->SkipTo(acked + 1);

  grpc::ChannelArguments args;
  args.SetCompressionAlgorithm(options.gzip ? GRPC_COMPRESS_GZIP : GRPC_COMPRESS_NONE);
  // Keepalive finds a dead collector (or a NAT that forgot us) on an idle stream.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(absl::ToInt64Milliseconds(options.max_backoff)));
  // A collector that restarted is found again within a second or so, not
  // after gRPC's default 30 s between name resolutions.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 1000);
  args.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
  auto channel = grpc::CreateCustomChannel(options.target, *creds, args);
  std::unique_ptr<Uplink> uplink(new Uplink(options, *std::move(spool), std::move(channel), acked));
  uplink->batcher_ = std::thread([u = uplink.get()] { u->BatchLoop(); });
  NameThread(uplink->batcher_, "vigil-batcher");
  uplink->sender_ = std::thread([u = uplink.get()] { u->SendLoop(); });
  NameThread(uplink->sender_, "vigil-uplink");
  return uplink;
}

Uplink::Uplink(UplinkOptions options, std::unique_ptr<Spool> spool, std::shared_ptr<grpc::Channel> channel,
               uint64_t acked)
    : options_(std::move(options)),
      spool_(std::move(spool)),
      buffers_(std::make_shared<BufferPool>(2 * options_.batch_bytes)),
      channel_(channel),
      publish_(kPublishMethod.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING, channel),
      ack_path_(options_.spool.dir + "/acked"),
      appended_(spool_->next_index()),
      acked_(acked),
      max_message_bytes_(kMaxMessageBytes - kEnvelopeBytes) {
  const SpoolStats s = spool_->Stats();
  if (s.next_index > std::max(s.first_index, acked + 1)) {
    Logger("uplink")->info("{} spooled batches from an earlier run to send first",
                           s.next_index - std::max(s.first_index, acked + 1));
  }
}

Uplink::~Uplink() {
  {
    absl::MutexLock lock(&queue_mu_);
    stop_batching_ = true;
  }
  batcher_.join();
  // The last health event counted the losses before it: it may be one of
  // them (a dead spool), and what came after it is in no health event.
  const UplinkStats s = Stats();
  if (s.lost() > 0) {
    Logger("uplink")->warn(
        "stopping: {} events of this run lost on the way to the collector ({} uplink queue full, {} spool errors, {} "
        "too large, {} evicted from the spool)",
        s.lost(), s.dropped_queue, s.spool_errors, s.dropped_oversized, s.spool.evicted_items);
  }
  absl::Time deadline = absl::Now() + options_.shutdown_grace;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    drain_deadline_ = deadline;
    // Delivered, or the grace is over: then a stream still blocked in a write is cut.
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return acked_ + 1 >= appended_ || !connected_; };
    mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
    if (context_ != nullptr) context_->TryCancel();
    if (acked_ + 1 < appended_) {
      Logger("uplink")->warn("stopping with {} batches not yet acknowledged; they stay spooled for the next start",
                             appended_ - acked_ - 1);
    }
  }
  sender_.join();
}

absl::Status Uplink::Write(const v1::Event& event) {
  using google::protobuf::io::CodedOutputStream;
  // Bounded by bytes too: 65536 exec events of ~40 KiB would be 2.5 GiB.
  const size_t size = event.ByteSizeLong();
  const size_t framed = 1 + CodedOutputStream::VarintSize64(size) + size;
  absl::MutexLock lock(&queue_mu_);
  if (queue_.ends.size() >= options_.queue_capacity || queue_.bytes.size() + framed > options_.queue_max_bytes) {
    dropped_queue_.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError("uplink queue full: event dropped (counted in the health event)");
  }
  const size_t at = queue_.bytes.size();
  queue_.bytes.resize(at + framed);
  auto* out = reinterpret_cast<uint8_t*>(queue_.bytes.data() + at);
  *out++ = kEventsTag;
  out = CodedOutputStream::WriteVarint64ToArray(size, out);
  // The sizes ByteSizeLong() cached: the event has not changed since.
  event.SerializeWithCachedSizesToArray(out);
  queue_.ends.push_back(queue_.bytes.size());
  return absl::OkStatus();
}

// The batching thread cuts batches on its own clock (batch_delay): nothing to do here.
absl::Status Uplink::Flush() { return absl::OkStatus(); }

void Uplink::BatchLoop() {
  Queued taken;
  for (;;) {
    bool stopping;
    {
      absl::MutexLock lock(&queue_mu_);
      auto full = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
        return queue_.ends.size() >= options_.batch_events || queue_.bytes.size() >= options_.batch_bytes ||
               stop_batching_;
      };
      queue_mu_.AwaitWithTimeout(absl::Condition(&full), options_.batch_delay);
      // The writer goes on in the buffers emptied last time.
      std::swap(taken, queue_);
      stopping = stop_batching_;
    }
    // The take's batches share its bytes on their way to the sender, which
    // then need not read them back. The writer goes on in a buffer of the
    // same size, not grown to it again.
    std::shared_ptr<const std::string> shared;
    if (!taken.bytes.empty() && taken.bytes.size() <= kMaxFreshBytes) {
      const size_t capacity = taken.bytes.capacity();
      shared = buffers_->Share(std::move(taken.bytes));
      taken.bytes = buffers_->Get(capacity);
    }
    // Cut by count and by bytes: exec events with long argv, a deep cwd and
    // ancestors are ~15 KB, 512 of them more than gRPC carries. A run of
    // entries is a whole batch as it is: spooled without a copy.
    const absl::string_view bytes = shared != nullptr ? absl::string_view(*shared) : absl::string_view(taken.bytes);
    for (size_t first = 0, begin = 0; first < taken.ends.size();) {
      size_t last = first + 1;  // one past the batch's last event; at least one event
      while (last < taken.ends.size() && last - first < options_.batch_events &&
             taken.ends[last] - begin <= options_.batch_bytes) {
        ++last;
      }
      const size_t end = taken.ends[last - 1];
      const auto n = static_cast<uint32_t>(last - first);
      first = last;
      const absl::string_view payload = bytes.substr(begin, end - begin);
      auto index = spool_->Append(payload, n);
      begin = end;
      if (!index.ok()) {
        spool_errors_.fetch_add(n, std::memory_order_relaxed);
        static RateLimit limit(absl::Seconds(10));
        if (uint64_t held; limit.Allow(held)) {
          Logger("uplink")->error("{} events lost: {} ({} more since)", n, index.status().message(), held);
        }
        continue;
      }
      if (shared != nullptr) {
        Appended(Batch{*index, shared, payload});
      } else {
        Appended(*index);
      }
    }
    taken.bytes.clear();
    taken.ends.clear();
    // A backlog's buffers are not kept at their peak.
    if (taken.bytes.capacity() > 4 * options_.batch_bytes) {
      std::string().swap(taken.bytes);
      std::vector<size_t>().swap(taken.ends);
    }
    if (stopping) return;
  }
}

void Uplink::Appended(uint64_t index) {
  absl::MutexLock lock(&mu_);
  appended_ = std::max(appended_, index + 1);  // the sender appends too (Split)
}

void Uplink::Appended(Batch batch) {
  absl::MutexLock lock(&mu_);
  appended_ = std::max(appended_, batch.index + 1);
  fresh_bytes_ += batch.payload.size();
  fresh_.push_back(std::move(batch));
  while (fresh_bytes_ > kMaxFreshBytes) PopFresh();
}

Uplink::Batch Uplink::PopFresh() {
  Batch oldest = std::move(fresh_.front());
  fresh_.pop_front();
  fresh_bytes_ -= oldest.payload.size();
  return oldest;
}

absl::StatusOr<std::vector<Uplink::Batch>> Uplink::Take(uint64_t next, uint64_t window) {
  std::vector<Batch> out;
  {
    absl::MutexLock lock(&mu_);
    // Below `next`: sent already, or read back and sent after a reconnect.
    while (!fresh_.empty() && fresh_.front().index < next) PopFresh();
    while (!fresh_.empty() && out.size() < window && fresh_.front().index == next + out.size()) {
      out.push_back(PopFresh());
    }
  }
  // The spool's cap evicts the oldest first: if it still holds the first,
  // it holds them all. One it evicted counts as lost and is not sent.
  if (!out.empty() && spool_->FirstIndexFrom(next) == next) return out;
  auto records = spool_->Read(next, window, kMaxReadBytes);
  if (!records.ok()) return records.status();
  out.clear();
  for (SpoolRecord& record : *records) {
    auto buffer = std::make_shared<const std::string>(std::move(record.payload));
    out.push_back(Batch{record.index, buffer, *buffer});
  }
  return out;
}

void Uplink::Split(const Batch& spooled, size_t max_bytes) {
  auto log = Logger("uplink");
  v1::PublishRequest batch;
  if (!batch.ParseFromArray(spooled.payload.data(), static_cast<int>(spooled.payload.size()))) {
    log->error("spool record {} does not parse; skipped", spooled.index);
    return;
  }
  v1::PublishRequest part;
  std::string payload;
  size_t bytes = 0;
  size_t parts = 0;
  auto append = [&]() {
    payload.clear();
    part.SerializeToString(&payload);
    auto index = spool_->Append(payload, static_cast<uint32_t>(part.events_size()));
    if (!index.ok()) {
      spool_errors_.fetch_add(part.events_size(), std::memory_order_relaxed);
      log->error("{} events of split batch {} lost: {}", part.events_size(), spooled.index, index.status().message());
    } else {
      Appended(*index);
      ++parts;
    }
    part.Clear();
    bytes = 0;
  };
  for (v1::Event& e : *batch.mutable_events()) {
    const size_t size = e.ByteSizeLong() + kEventFraming;
    if (size > max_bytes) {
      // Cannot be sent at all: counted, never retried forever.
      dropped_oversized_.fetch_add(1, std::memory_order_relaxed);
      log->error("event {} of {} bytes is larger than the collector takes ({}): dropped", e.id(), size, max_bytes);
      continue;
    }
    if (part.events_size() > 0 && bytes + size > max_bytes) append();
    bytes += size;
    *part.add_events() = std::move(e);
  }
  if (part.events_size() > 0) append();
  split_batches_.fetch_add(1, std::memory_order_relaxed);
  log->info("batch {} ({} bytes) is larger than {} bytes: sent as {} batches", spooled.index, spooled.payload.size(),
            max_bytes, parts);
}

void Uplink::SendLoop() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = absl::Milliseconds(250);
  for (;;) {
    if (Session()) backoff = absl::Milliseconds(250);
    absl::MutexLock lock(&mu_);
    if (draining_) return;
    // Full jitter: sensors cut off together do not come back together.
    const absl::Duration wait = backoff * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    auto draining = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return draining_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&draining), wait)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool Uplink::Session() {
  auto log = Logger("uplink");
  grpc::ClientContext context;
  uint64_t next;
  uint64_t acked_at_start;
  {
    absl::MutexLock lock(&mu_);
    if (draining_ && acked_ + 1 >= appended_) return false;
    context_ = &context;
    stream_broken_ = false;
    next = acked_ + 1;
    acked_at_start = acked_;
    ++sessions_;
  }
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, v1::PublishResponse>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, v1::PublishResponse>::Create(channel_.get(), publish_,
                                                                                               &context));
  std::thread reader([&] {
    v1::PublishResponse response;
    while (stream->Read(&response)) OnAck(response.sequence());
    absl::MutexLock lock(&mu_);
    stream_broken_ = true;
  });

  bool identity_sent = false;
  bool cancel = true;  // false when the call is over anyway: Finish() then has the real status
  v1::PublishRequest envelope;
  std::string envelope_bytes;
  std::vector<std::pair<uint64_t, size_t>> sent;  // (sequence, bytes) of this stream's batches
  for (;;) {
    uint64_t window;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stream_broken_ || (draining_ && (acked_ + 1 >= appended_ || absl::Now() >= drain_deadline_)) ||
               (next < appended_ && next <= acked_ + options_.max_in_flight);
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      if (stream_broken_) cancel = false;
      if (stream_broken_ || (draining_ && (acked_ + 1 >= appended_ || absl::Now() >= drain_deadline_))) break;
      if (!(next < appended_ && next <= acked_ + options_.max_in_flight)) continue;
      next = std::max(next, acked_ + 1);
      window = acked_ + options_.max_in_flight + 1 - next;
    }
    auto batches = Take(next, window);
    if (!batches.ok()) {
      log->error("reading the spool: {}", batches.status().message());
      break;
    }
    if (batches->empty()) {
      // Nothing readable at `next`: evicted meanwhile by the cap, or corrupt
      // on disk (the spool counts both). Go on with the next record the
      // spool holds, never past a backlog that later acks would release.
      const uint64_t held = spool_->FirstIndexFrom(next);
      next = held == next ? next + 1 : held;
      continue;
    }
    bool written = true;
    for (const Batch& batch : *batches) {
      if (batch.payload.size() > max_message_bytes_) {
        // Never sent as is: its events follow as new, smaller batches, and
        // the next ack beyond it releases it.
        Split(batch, max_message_bytes_);
        next = batch.index + 1;
        continue;
      }
      if (!IsEventRun(batch.payload)) {
        log->error("spool record {} does not parse; skipped", batch.index);
        next = batch.index + 1;
        continue;
      }
      // The batch's own fields after its events: in any order, the bytes
      // are one PublishRequest.
      envelope.Clear();
      envelope.set_sequence(batch.index);
      if (!identity_sent) *envelope.mutable_sensor() = options_.identity;
      envelope_bytes.clear();
      envelope.SerializeToString(&envelope_bytes);
      // The events' slice shares the batch's buffer: no copy of up to a MiB.
      auto* owner = new std::shared_ptr<const std::string>(batch.buffer);
      grpc::Slice parts[] = {grpc::Slice(
                                 const_cast<char*>(batch.payload.data()), batch.payload.size(),
                                 [](void* s) { delete static_cast<std::shared_ptr<const std::string>*>(s); }, owner),
                             grpc::Slice(envelope_bytes)};
      const grpc::ByteBuffer request(parts, 2);
      sent.emplace_back(batch.index, batch.payload.size());
      if (sent.size() > 4 * options_.max_in_flight) {  // only unacknowledged ones matter
        uint64_t acked;
        {
          absl::MutexLock lock(&mu_);
          acked = acked_;
        }
        std::erase_if(sent, [acked](const auto& s) { return s.first <= acked; });
      }
      if (!stream->Write(request)) {
        written = false;
        break;
      }
      if (!identity_sent) {
        absl::MutexLock lock(&mu_);
        connected_ = true;
      }
      identity_sent = true;
      next = batch.index + 1;
    }
    if (!written) {
      cancel = false;
      break;
    }
  }
  if (cancel) context.TryCancel();
  reader.join();
  const grpc::Status status = stream->Finish();
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  const bool progressed = acked_ > acked_at_start;
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    // The collector takes less than we send: the largest batch it has not
    // acknowledged is the suspect. Halve below it, so it is split next.
    size_t largest = 0;
    for (auto [sequence, bytes] : sent) {
      if (sequence > acked_) largest = std::max(largest, bytes);
    }
    if (largest > 0) {
      max_message_bytes_ = std::max(kMinMessageBytes, std::min(max_message_bytes_, largest / 2));
      log->warn("collector refused a batch of {} bytes as too large: batches above {} bytes are split", largest,
                max_message_bytes_);
    }
  }
  if (!draining_) {  // when draining, the uplink itself ends the stream
    static RateLimit limit(absl::Seconds(10));
    if (uint64_t held; limit.Allow(held)) {
      log->warn("collector stream to {} ended: {} ({}); {} batches unacknowledged ({} similar since)", options_.target,
                static_cast<int>(status.error_code()), status.error_message(), appended_ - acked_ - 1, held);
    }
  }
  connected_ = false;
  return progressed;
}

void Uplink::OnAck(uint64_t sequence) {
  {
    absl::MutexLock lock(&mu_);
    if (sequence <= acked_) return;
    acked_ = sequence;
  }
  spool_->Release(sequence + 1);
  if (absl::Status s = WriteAcked(sequence); !s.ok()) {
    static RateLimit limit(absl::Seconds(10));
    if (uint64_t held; limit.Allow(held)) Logger("uplink")->warn("{} ({} more)", s.message(), held);
  }
}

absl::Status Uplink::WriteAcked(uint64_t sequence) {
  // One write of a fixed width over the last, in place: a new file and a
  // rename per ack cost a create, an inode evicted and, on ext4, the new
  // file's writeback started by the rename. A crash cannot tear one write;
  // not synced, losing it in a power cut only resends acknowledged batches.
  if (!ack_file_.valid()) {
    ack_file_ = UniqueFd(open(ack_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!ack_file_.valid()) return ErrnoStatus(errno, absl::StrCat("open ", ack_path_));
  }
  const std::string text = absl::StrFormat("%020u\n", sequence);
  if (pwrite(ack_file_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    absl::Status s = ErrnoStatus(errno, absl::StrCat("write ", ack_path_));
    ack_file_.Reset();  // opened again next time: the file may have been replaced
    return s;
  }
  return absl::OkStatus();
}

UplinkStats Uplink::Stats() const {
  UplinkStats s;
  s.dropped_queue = dropped_queue_.load(std::memory_order_relaxed);
  s.spool_errors = spool_errors_.load(std::memory_order_relaxed);
  s.spool = spool_->Stats();
  {
    absl::MutexLock lock(&queue_mu_);
    s.queue_depth = queue_.ends.size();
    s.queue_bytes = queue_.bytes.size();
  }
  absl::MutexLock lock(&mu_);
  s.acked_sequence = acked_;
  s.sessions = sessions_;
  s.split_batches = split_batches_.load(std::memory_order_relaxed);
  s.dropped_oversized = dropped_oversized_.load(std::memory_order_relaxed);
  s.connected = connected_;
  return s;
}

void Uplink::Report(std::vector<StageReport>& out) const {
  const UplinkStats s = Stats();
  StageReport& r = out.emplace_back();
  r.name = "uplink";
  r.state = s.connected ? "ok" : "down";
  const char* kLost = "Events lost on the way to the collector, by reason.";
  r.Gauge("connected", "vigil_uplink_connected", "1 while a stream to the collector is open.", s.connected ? 1 : 0);
  r.Gauge("queue_depth", "vigil_uplink_queue_depth", "Events waiting for the uplink's spool.", s.queue_depth);
  r.Gauge("queue_bytes", "vigil_uplink_queue_bytes",
          "Their serialized bytes; the queue is bounded by them (and by count).", s.queue_bytes);
  r.Gauge("spool_bytes", "vigil_uplink_spool_bytes", "Bytes in the on-disk spool.", s.spool.bytes);
  r.Gauge("pending_batches", "vigil_uplink_pending_batches", "Spooled batches the collector has not acknowledged.",
          s.spool.next_index - std::max(s.spool.first_index, s.acked_sequence + 1));
  r.Gauge("acked_sequence", "vigil_uplink_acked_sequence", "The last batch the collector acknowledged.",
          s.acked_sequence);
  r.Counter("sessions", "vigil_uplink_sessions_total", "Streams opened to the collector.", s.sessions);
  r.Counter("dropped_queue", "vigil_uplink_events_dropped_total", kLost, s.dropped_queue, {{"reason", "queue"}});
  r.Counter("dropped_oversized", "vigil_uplink_events_dropped_total", kLost, s.dropped_oversized,
            {{"reason", "oversized"}});
  r.Counter("dropped_spool_cap", "vigil_uplink_events_dropped_total", kLost, s.spool.evicted_items,
            {{"reason", "spool_cap"}});
  r.Counter("spool_errors", "vigil_uplink_events_dropped_total", kLost, s.spool_errors, {{"reason", "spool_error"}});
  r.Counter("spool_corrupt", "vigil_uplink_spool_corrupt_records_total",
            "Spool records found corrupt or truncated (skipped and counted).",
            s.spool.corrupt_records + s.spool.truncated_records);
  r.Counter("split_batches", "vigil_uplink_split_batches_total",
            "Spooled batches too large to send, sent again in parts.", s.split_batches);
}

}  // namespace vigil
