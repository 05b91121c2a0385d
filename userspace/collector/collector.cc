#include "collector/collector.h"

#include <google/protobuf/arena.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/thread_name.h"
#include "common/utf8.h"
#include "common/wire.h"
#include "vigil/v1/collector.grpc.pb.h"

namespace vigil::collector {

namespace {

constexpr size_t kReadRecords = 256;
constexpr size_t kReadBytes = 4u << 20;

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const CollectorConfig& c) {
  if (c.plaintext) return grpc::InsecureServerCredentials();
  auto ca = ReadFile(c.ca_file);
  if (!ca.ok()) return ca.status();
  auto cert = ReadFile(c.cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(c.key_file);
  if (!key.ok()) return key.status();
  // mTLS: a sensor without a certificate signed by this CA is refused in the handshake.
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *std::move(ca);
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(ssl);
}

// The node names a peer's client certificate carries: its SAN DNS names, or
// its subject CN when it has none.
std::vector<std::string> CertificateNames(const grpc::ServerContext& context) {
  std::vector<std::string> names;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return names;
  for (const grpc::string_ref& san : auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME))
    names.emplace_back(san.data(), san.size());
  if (names.empty()) {
    for (const grpc::string_ref& cn : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME))
      names.emplace_back(cn.data(), cn.size());
  }
  // No name at all: an empty list would mean "any node"; this one matches none.
  if (names.empty()) names.emplace_back();
  return names;
}

}  // namespace

absl::Status Validate(const CollectorConfig& c) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (c.listen.empty()) return bad("listen address is empty");
  if (!c.plaintext && (c.ca_file.empty() || c.cert_file.empty() || c.key_file.empty())) {
    return bad("mTLS needs --ca, --cert and --key; or --plaintext explicitly");
  }
  if (c.spool_dir.empty()) return bad("spool directory is empty");
  if (c.max_batch_bytes < 4096 || c.max_batch_bytes > (1u << 30)) {
    return bad("max batch bytes ", c.max_batch_bytes, " must be between 4096 and 1 GiB");
  }
  if (c.spool_max_bytes < 16 * c.max_batch_bytes) {
    return bad("spool cap ", c.spool_max_bytes, " must hold at least 16 maximal batches (", 16 * c.max_batch_bytes,
               " bytes)");
  }
  if (c.limits.max_events < 1) return bad("max events per batch must be at least 1");
  if (c.max_streams_per_node < 1) return bad("max streams per node must be at least 1");
  if (c.memory_quota_bytes < 4 * c.max_batch_bytes) {
    return bad("memory quota ", c.memory_quota_bytes, " must hold at least 4 maximal batches (", 4 * c.max_batch_bytes,
               " bytes)");
  }
  return absl::OkStatus();
}

class Collector::Service final : public v1::Collector::Service {
 public:
  explicit Service(Collector* collector) : collector_(collector) {}

  // Acknowledges one stream's stored batches from a thread of its own, so
  // that the stream's reading goes on while the spool syncs: the batches a
  // sensor has on the way (up to its max_in_flight) share one fdatasync
  // instead of each waiting for its own. One sync per batch held a sensor's
  // catch-up after an outage to one batch per disk flush.
  class Acker {
   public:
    using Stream = grpc::ServerReaderWriter<v1::PublishResponse, v1::PublishRequest>;
    Acker(Collector* collector, grpc::ServerContext* context, Stream* stream)
        : collector_(collector), context_(context), stream_(stream), thread_([this] { Loop(); }) {
      NameThread(thread_, "vigil-ack");
    }
    ~Acker() { Finish().IgnoreError(); }

    // A batch the reader stored (at `spool_index`), or found stored already
    // (none): acknowledged once the spool is synced through it.
    void Stored(uint64_t sequence, std::optional<uint64_t> spool_index, int events) {
      absl::MutexLock lock(&mu_);
      pending_.push_back({sequence, spool_index, events});
      work_.Signal();
    }

    // Acknowledges what is pending and stops; the spool's error if a sync
    // failed, Cancelled if the stream broke (what was not acknowledged then
    // is resent, and the resend filter knows it).
    absl::Status Finish() {
      {
        absl::MutexLock lock(&mu_);
        done_ = true;
        work_.Signal();
      }
      if (thread_.joinable()) thread_.join();
      absl::MutexLock lock(&mu_);
      return error_;
    }

   private:
    struct Pending {
      uint64_t sequence;
      std::optional<uint64_t> spool_index;
      int events;
    };

    void Loop() {
      const StreamMetrics& m = collector_->stream_metrics_;
      std::vector<Pending> batches;
      v1::PublishResponse response;
      for (;;) {
        {
          absl::MutexLock lock(&mu_);
          while (pending_.empty() && !done_) work_.Wait(&mu_);
          if (pending_.empty()) return;
          batches.clear();
          batches.swap(pending_);
        }
        std::optional<uint64_t> last;
        int events = 0;
        for (const Pending& p : batches) {
          if (p.spool_index.has_value()) last = std::max(last.value_or(0), *p.spool_index);
          events += p.events;
        }
        if (last.has_value()) {
          // Through the last batch, then each at once (no second fdatasync):
          // a failed sync, maybe another stream's, may have covered one below
          // the last, though the sync through the last succeeded.
          absl::Status s = collector_->spool_->SyncThrough(*last);
          for (size_t i = 0; s.ok() && i < batches.size(); ++i) {
            if (batches[i].spool_index.has_value()) s = collector_->spool_->SyncThrough(*batches[i].spool_index);
          }
          if (!s.ok()) {
            // Not acknowledged: the sensor resends them.
            m.batches_refused->Increment(batches.size());
            m.events_refused->Increment(events);
            absl::MutexLock lock(&mu_);
            error_ = std::move(s);
            context_->TryCancel();  // ends the reader's Read
            return;
          }
          collector_->OnAppended();
        }
        // Acknowledgements are cumulative: the last sequence covers the rest.
        response.set_sequence(batches.back().sequence);
        if (!stream_->Write(response)) {
          absl::MutexLock lock(&mu_);
          error_ = absl::CancelledError("the stream broke");
          context_->TryCancel();
          return;
        }
        m.batches_acked->Increment(batches.size());
        m.events_acked->Increment(events);
      }
    }

    Collector* const collector_;
    grpc::ServerContext* const context_;
    Stream* const stream_;
    absl::Mutex mu_;
    // Not a condition of mu_: a thread waiting on one makes every unlock
    // test it, and the reader locks mu_ for every batch.
    absl::CondVar work_;  // pending_ has batches, or done_
    std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
    bool done_ ABSL_GUARDED_BY(mu_) = false;
    absl::Status error_ ABSL_GUARDED_BY(mu_);
    std::thread thread_;  // last: starts once the rest is ready
  };

  grpc::Status Publish(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::PublishResponse, v1::PublishRequest>* stream) override {
    auto log = Logger("collector");
    const StreamMetrics& m = collector_->stream_metrics_;
    m.streams->Add(1);
    absl::Cleanup disconnected = [&m] { m.streams->Add(-1); };
    StreamState state;
    if (!collector_->config_.plaintext) state.certificate_names = CertificateNames(*context);
    const v1::SensorIdentity& identity = state.identity;
    std::string counted_node;  // holds one of the node's streams
    absl::Cleanup uncount = [&] {
      if (!counted_node.empty()) collector_->EndNodeStream(counted_node);
    };
    // Each batch is parsed into an arena, released as a whole before the
    // next: a message reused from batch to batch still frees and allocates
    // its sub-messages (proto3's Clear deletes them), several per event.
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = 64u << 10;
    arena_options.max_block_size = 1u << 20;
    google::protobuf::Arena arena(arena_options);
    std::string payload;
    Acker acker(collector_, context, stream);
    // Every way out acknowledges what was stored before it, so that a
    // sensor resends only what it must.
    auto acked = [&](grpc::Status status) {
      if (absl::Status s = acker.Finish(); absl::IsCancelled(s)) {
        return grpc::Status::CANCELLED;  // the handler of a cancelled call says so
      } else if (!s.ok()) {
        log->error("cannot store a batch from {}: {}", EscapeControls(identity.node()), s.message());
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("collector spool: ", s.message()));
      }
      return status;
    };
    for (;; arena.Reset()) {
      v1::PublishRequest& request = *google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
      if (!stream->Read(&request)) break;
      if (collector_->draining_) {
        // Not stored, so not acknowledged: the sensor resends it to whoever is next.
        return acked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "collector is shutting down"));
      }
      m.batches_received->Increment();
      m.events_received->Increment(request.events_size());
      if (absl::Status s = ValidateRequest(request, collector_->config_.limits, state); !s.ok()) {
        m.batches_refused->Increment();
        m.events_refused->Increment(request.events_size());
        static RateLimit limit(absl::Seconds(10));
        if (uint64_t held; limit.Allow(held)) {
          // What a peer sent is escaped before it reaches the log.
          log->warn("refused a stream from {} ({}): {} ({} more since)", context->peer(),
                    EscapeControls(identity.node().empty() ? request.sensor().node() : identity.node()),
                    EscapeControls(s.message()), held);
        }
        return acked(grpc::Status(
            absl::IsPermissionDenied(s) ? grpc::StatusCode::PERMISSION_DENIED : grpc::StatusCode::INVALID_ARGUMENT,
            std::string(s.message())));
      }
      if (counted_node.empty()) {
        if (!collector_->BeginNodeStream(identity.node())) {
          m.batches_refused->Increment();
          m.events_refused->Increment(request.events_size());
          return acked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    absl::StrCat("node ", identity.node(), " has ",
                                                 collector_->config_.max_streams_per_node, " streams open already")));
        }
        counted_node = identity.node();
        log->info("sensor {} (cluster {}, instance {}, version {}, kernel {}) streaming from {}",
                  EscapeControls(identity.node()), EscapeControls(identity.cluster()),
                  EscapeControls(identity.instance_id()), EscapeControls(identity.sensor_version()),
                  EscapeControls(identity.kernel()), context->peer());
      }
      if (!request.has_sensor()) {
        *request.mutable_sensor() = identity;  // every stored batch says where it came from
      }
      auto stored = collector_->resend_filter_.StoreOnce(
          request,
          [&]() -> absl::StatusOr<uint64_t> {
            payload.clear();
            request.SerializeToString(&payload);
            return collector_->spool_->Append(payload, static_cast<uint32_t>(request.events_size()));
          },
          [&](uint64_t index) { return collector_->spool_->MayBeLost(index); });
      if (!stored.ok()) {
        log->error("cannot store a batch from {}: {}", EscapeControls(identity.node()), stored.status().message());
        m.batches_refused->Increment();
        m.events_refused->Increment(request.events_size());
        return acked(
            grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("collector spool: ", stored.status().message())));
      }
      if (stored->resent) m.batches_resent->Increment();
      acker.Stored(request.sequence(), stored->spool_index, request.events_size());
    }
    return acked(grpc::Status::OK);
  }

 private:
  Collector* const collector_;
};

bool Collector::BeginNodeStream(const std::string& node) {
  absl::MutexLock lock(&streams_mu_);
  int& n = node_streams_[node];
  if (n >= config_.max_streams_per_node) return false;
  ++n;
  return true;
}

void Collector::EndNodeStream(const std::string& node) {
  absl::MutexLock lock(&streams_mu_);
  if (--node_streams_[node] <= 0) node_streams_.erase(node);
}

absl::StatusOr<std::unique_ptr<Collector>> Collector::Start(const CollectorConfig& config,
                                                            std::vector<std::unique_ptr<Forwarder>> forwarders,
                                                            metrics::Registry* metrics) {
  if (absl::Status s = Validate(config); !s.ok()) return s;
  if (forwarders.empty()) return absl::InvalidArgumentError("no forwarders: events would pile up in the spool");
  auto creds = Credentials(config);
  if (!creds.ok()) return creds.status();
  std::unique_ptr<Collector> c(new Collector(config));
  auto spool = Spool::Open(SpoolOptions{.dir = config.spool_dir + "/data",
                                        .max_bytes = config.spool_max_bytes,
                                        .segment_bytes = std::min<uint64_t>(64u << 20, config.spool_max_bytes / 8),
                                        .max_record_bytes = static_cast<uint32_t>(config.max_batch_bytes * 2),
                                        .durable = true});
  if (!spool.ok()) return spool.status();
  c->spool_ = *std::move(spool);
  const std::string cursors = config.spool_dir + "/cursors";
  std::error_code ec;
  std::filesystem::create_directories(cursors, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", cursors, ": ", ec.message()));

  c->resend_filter_path_ = config.spool_dir + "/resend-filter";
  if (absl::Status s = c->resend_filter_.Load(c->resend_filter_path_); !s.ok() && !absl::IsNotFound(s)) {
    // Costs only duplicates of batches resent now, never a lost one.
    Logger("collector")->warn("resend filter not loaded, starting empty: {}", s.message());
  }
  const SpoolStats stats = c->spool_->Stats();
  for (auto& f : forwarders) {
    auto lane = std::make_unique<Lane>();
    lane->cursor_path = absl::StrCat(cursors, "/", f->name());
    uint64_t cursor = stats.first_index;
    if (auto text = ReadFile(lane->cursor_path); text.ok()) {
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &cursor)) cursor = stats.first_index;
    }
    lane->cursor = cursor;
    lane->forwarder = std::move(f);
    c->lanes_.push_back(std::move(lane));
  }
  if (metrics == nullptr) {
    c->own_metrics_ = std::make_unique<metrics::Registry>("vigil_collector_");
    metrics = c->own_metrics_.get();
  }
  c->RegisterMetrics(*metrics);

  grpc::EnableDefaultHealthCheckService(true);
  c->service_ = std::make_unique<Service>(c.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, *creds, &c->port_);
  builder.RegisterService(c->service_.get());
  // An oversized batch fails its own stream with RESOURCE_EXHAUSTED.
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_batch_bytes));
  // Bounded memory whatever peers send, and a bounded number of streams per
  // connection (per node: BeginNodeStream).
  grpc::ResourceQuota quota("vigil-collector");
  quota.Resize(config.memory_quota_bytes);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_streams_per_node);
  // Sensors ping every 30 s on idle streams; allow it rather than GOAWAY them.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  c->server_ = builder.BuildAndStart();
  if (c->server_ == nullptr || c->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  }
  c->serving_ = true;
  for (auto& lane : c->lanes_) {
    lane->thread = std::thread([c = c.get(), l = lane.get()] { c->Forward(*l); });
    // "vigil-fwd-file", "vigil-fwd-azure" (cut to the 15 characters a name may have).
    NameThread(lane->thread, ("vigil-fwd-" + lane->forwarder->name()).substr(0, 15).c_str());
  }
  Logger("collector")
      ->info("listening on {} (port {}, {}), spool {}, forwarding to {} forwarders", config.listen, c->port_,
             config.plaintext ? "plaintext" : "mTLS", config.spool_dir, c->lanes_.size());
  return c;
}

Collector::Collector(CollectorConfig config) : config_(std::move(config)) {}

void Collector::RegisterMetrics(metrics::Registry& r) {
  StreamMetrics& m = stream_metrics_;
  m.streams = &r.GetGauge("vigil_collector_streams", "Sensor Publish streams connected now.");
  m.batches_received = &r.GetCounter("vigil_collector_batches_received_total", "Batches sensors sent.");
  m.batches_acked = &r.GetCounter("vigil_collector_batches_acked_total", "Batches stored durably and acknowledged.");
  m.batches_refused = &r.GetCounter("vigil_collector_batches_refused_total",
                                    "Batches refused (malformed, over a limit, or the spool failed).");
  m.batches_resent = &r.GetCounter("vigil_collector_batches_resent_total",
                                   "Batches sensors resent that were stored already: acknowledged, not stored twice.");
  m.events_received = &r.GetCounter("vigil_collector_events_received_total", "Events in the batches sensors sent.");
  m.events_acked = &r.GetCounter("vigil_collector_events_acked_total", "Events stored durably and acknowledged.");
  m.events_refused = &r.GetCounter("vigil_collector_events_refused_total", "Events in refused batches.");
  for (auto& lane : lanes_) {
    const metrics::Labels labels = {{"forwarder", lane->forwarder->name()}};
    lane->delivered = &r.GetCounter("vigil_collector_forwarder_events_delivered_total",
                                    "Events a forwarder delivered (or parked as dead letters).", labels);
    lane->failed = &r.GetCounter("vigil_collector_forwarder_events_failed_total",
                                 "Events of forwarder sends that failed and are retried.", labels);
    lane->latency = &r.GetHistogram("vigil_collector_delivery_latency_seconds",
                                    "From an event's time on the node to its delivery by a forwarder.",
                                    metrics::ExponentialBuckets(0.01, 2, 16), labels);
  }
  r.OnScrape([this](metrics::Registry& r) {
    const SpoolStats s = spool_->Stats();
    r.GetGauge("vigil_collector_spool_bytes", "Bytes in the collector's durable spool.").Set(s.bytes);
    r.GetCounter("vigil_collector_spool_evicted_events_total",
                 "Events deleted unforwarded because the spool reached its cap.")
        .Set(s.evicted_items);
  });
}

Collector::~Collector() { Shutdown(); }

void Collector::Shutdown() {
  serving_ = false;
  draining_ = true;
  if (server_ != nullptr) {
    // A stream waiting in Read ends at its sensor's next batch; one still
    // idle at the deadline is cancelled, with nothing stored unacknowledged.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
    server_.reset();
    // Only batches on stable storage: after the restart, a resend of any
    // other is stored again.
    auto durable = [&](uint64_t index) { return spool_->SyncThrough(index).ok(); };
    if (absl::Status s = resend_filter_.Save(resend_filter_path_, durable); !s.ok()) {
      Logger("collector")
          ->warn("resend filter not saved (a resend after restart may be stored twice): {}", s.message());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void Collector::OnAppended() {
  absl::MutexLock lock(&mu_);
  ++appended_;
}

void Collector::ReleaseConsumed() {
  uint64_t min = std::numeric_limits<uint64_t>::max();
  for (const auto& lane : lanes_) min = std::min(min, lane->cursor.load());
  spool_->Release(min);
}

namespace {

// The events of a serialized PublishRequest, appended to `out` as byte
// ranges of `batch`; false, with `out` as it was, when it is not one.
bool SplitEvents(absl::string_view batch, std::vector<absl::string_view>& out) {
  const size_t before = out.size();
  wire::Reader r(batch);
  uint32_t number;
  int type;
  while (!r.done()) {
    absl::string_view event;
    const bool ok = r.ReadTag(number, type) &&
                    (number == v1::PublishRequest::kEventsFieldNumber && type == wire::kLength ? r.ReadLength(event)
                                                                                               : r.Skip(type));
    if (!ok) {
      out.resize(before);
      return false;
    }
    if (event.data() != nullptr) out.push_back(event);
  }
  return true;
}

// A serialized event's time; absl::InfinitePast() when it has none or is
// not readable.
absl::Time EventTime(absl::string_view event) {
  wire::Reader r(event);
  uint32_t number;
  int type;
  absl::string_view time;
  while (!r.done()) {
    if (!r.ReadTag(number, type)) return absl::InfinitePast();
    if (number == v1::Event::kTimeFieldNumber && type == wire::kLength) {
      if (!r.ReadLength(time)) return absl::InfinitePast();
    } else if (!r.Skip(type)) {
      return absl::InfinitePast();
    }
  }
  int64_t seconds;
  int32_t nanos;
  if (time.data() == nullptr || !wire::ReadTimestamp(time, seconds, nanos)) return absl::InfinitePast();
  return absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
}

}  // namespace

void Collector::Forward(Lane& lane) {
  auto log = Logger("collector");
  const std::string& name = lane.forwarder->name();
  // A forwarder that takes serialized events gets them as byte ranges of the
  // spool's records: no parse, no allocation per event (the file forwarder
  // prints JSON straight from them). For the others, the batches of one read
  // are parsed into an arena and released together: their messages cost no
  // allocation and no destructor each (only strings longer than
  // std::string's inline buffer still go to the heap).
  const bool serialized = lane.forwarder->TakesSerialized();
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64u << 10;
  arena_options.max_block_size = 1u << 20;
  google::protobuf::Arena arena(arena_options);
  std::vector<const v1::Event*> events;
  std::vector<absl::string_view> serialized_events;
  for (;;) {
    uint64_t seen;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      seen = appended_;
    }
    auto records = spool_->Read(lane.cursor, kReadRecords, kReadBytes);
    if (!records.ok()) {
      log->error("forwarder {}: reading the spool: {}", name, records.status().message());
    }
    if (!records.ok() || records->empty()) {
      absl::MutexLock lock(&mu_);
      auto more = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return appended_ != seen || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&more), absl::Milliseconds(500));
      continue;
    }
    events.clear();
    serialized_events.clear();
    arena.Reset();
    for (const SpoolRecord& r : *records) {
      if (serialized) {
        if (!SplitEvents(r.payload, serialized_events)) {
          log->error("forwarder {}: spool record {} does not parse; skipped", name, r.index);
        }
        continue;
      }
      auto* batch = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
      if (!batch->ParseFromString(r.payload)) {
        log->error("forwarder {}: spool record {} does not parse; skipped", name, r.index);
        continue;
      }
      for (const v1::Event& e : batch->events()) events.push_back(&e);
    }
    const size_t count = serialized ? serialized_events.size() : events.size();
    absl::Duration backoff = absl::Milliseconds(200);
    for (;;) {
      absl::Status s = serialized ? lane.forwarder->SendSerialized(serialized_events) : lane.forwarder->Send(events);
      if (s.ok()) break;
      lane.failed->Increment(count);
      static RateLimit limit(absl::Seconds(10));
      if (uint64_t held; limit.Allow(held)) {
        log->warn("forwarder {}: {} events not delivered, retrying: {} ({} more since)", name, count, s.message(),
                  held);
      }
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      // Cursor stays: the same batch is retried, after stopping on the next start.
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), backoff)) return;
      backoff = std::min(backoff * 2, config_.max_retry_backoff);
    }
    lane.delivered->Increment(count);
    const absl::Time now = absl::Now();
    auto observe = [&](absl::Time t) {
      if (t != absl::InfinitePast()) lane.latency->Observe(absl::ToDoubleSeconds(now - t));
    };
    for (absl::string_view e : serialized_events) observe(EventTime(e));
    for (const v1::Event* e : events) {
      if (e->has_time()) observe(absl::FromUnixSeconds(e->time().seconds()) + absl::Nanoseconds(e->time().nanos()));
    }
    lane.cursor = records->back().index + 1;
    if (absl::Status s = WriteFileAtomically(lane.cursor_path, absl::StrCat(lane.cursor.load(), "\n"), false);
        !s.ok()) {
      log->warn("forwarder {}: {}", name, s.message());
    }
    ReleaseConsumed();
  }
}

}  // namespace vigil::collector
