#include "sensor/sensor.h"

#include <malloc.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/rate_limit.h"
#include "common/thread_name.h"
#include "dns/dns_names.h"
#include "google/protobuf/util/time_util.h"
#include "loader/families.h"
#include "loader/kernel.h"
#include "sensor/sensor_metrics.h"
#include "sink/json_lines_sink.h"
#include "sink/metrics_sinks.h"

namespace vigil {

namespace {

constexpr absl::Duration kTrimInterval = absl::Seconds(10);
constexpr int kTrimThreshold = 8 << 20;
constexpr int kMmapThreshold = 4 << 20;  // above the uplink's largest batch
// Quiet time after a change to the rule files before they are reloaded: an
// editor's save or a ConfigMap update is several file operations.
constexpr absl::Duration kRulesDebounce = absl::Milliseconds(300);

std::vector<std::unique_ptr<RuntimeClient>> RuntimeClients(const SensorConfig& config) {
  std::vector<std::unique_ptr<RuntimeClient>> clients;
  const std::string containerd = ResolveRuntimeSocket(config.containerd_socket, "containerd");
  const std::string cri = ResolveRuntimeSocket(config.cri_socket, "cri-o");
  const std::string docker = ResolveRuntimeSocket(config.docker_socket, "docker");
  auto log = Logger("container");
  if (!containerd.empty()) {
    log->info("containerd at {}", containerd);
    clients.push_back(NewContainerdClient(containerd, config.containerd_namespaces, config.runtime_timeout));
  }
  if (!cri.empty()) {
    log->info("CRI runtime at {}", cri);
    clients.push_back(NewCriClient(cri, config.runtime_timeout));
  }
  if (!docker.empty()) {
    log->info("docker at {}", docker);
    clients.push_back(NewDockerClient(docker, config.runtime_timeout));
  }
  return clients;
}

std::string RandomInstanceId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x", rd(), rd());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Sensor>> Sensor::Create(const SensorConfig& config,
                                                       std::vector<std::unique_ptr<Sink>> extra_sinks) {
  if (absl::Status s = Validate(config); !s.ok()) return s;
  if (absl::Status s = CheckCapabilities(); !s.ok()) return s;
  if (absl::Status s =
          CheckBtf(config.loader.kernel_btf.empty() ? "/sys/kernel/btf/vmlinux" : config.loader.kernel_btf);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = EnsureKernelFilesystems(); !s.ok()) return s;
  RaiseMemlockLimit();

  std::unique_ptr<Sensor> sensor(new Sensor(config));
  std::vector<std::unique_ptr<Sink>> sinks = std::move(extra_sinks);
  // /dev/null (the DaemonSet's setting, events go to the collector): no
  // JSON-lines sink at all, rather than every event encoded for nothing.
  if (config.output != kNoOutput) {
    auto sink = JsonLinesSink::Open(config.output);
    if (!sink.ok()) return sink.status();
    sinks.push_back(*std::move(sink));
  }
  const std::string instance_id = RandomInstanceId();
  if (!config.uplink.target.empty()) {
    UplinkOptions uplink_options = config.uplink;
    v1::SensorIdentity& id = uplink_options.identity;
    id.set_node(config.node_name);
    id.set_sensor_version(VIGIL_VERSION);
    id.set_instance_id(instance_id);
    if (utsname u{}; uname(&u) == 0) id.set_kernel(u.release);
    auto uplink = Uplink::Create(uplink_options);
    if (!uplink.ok() && !absl::IsUnavailable(uplink.status())) return uplink.status();
    if (uplink.ok()) {
      sensor->uplink_ = uplink->get();
      sinks.push_back(*std::move(uplink));
    } else {
      // The spool cannot be used (its disk is gone, read-only, full): local
      // detection, the output and the API go on; health says the uplink is down.
      Logger("sensor")->error("no uplink to the collector: {}", uplink.status().message());
      sensor->uplink_down_ = true;
    }
  }
  sinks.push_back(sensor->hub_.MakeSink());
  sinks.push_back(MakeLatencySink(sensor->metrics_));
  if (config.detection) sinks.push_back(MakeAlertCounterSink(sensor->metrics_));

  auto probes = ProbeSet::Load(config.loader, BuiltinFamilies(config.loader));
  if (!probes.ok()) return probes.status();
  sensor->probes_ = *std::move(probes);
  auto daemons = DaemonWatch::Start(sensor->probes_->daemons_fd(), {.collector_exe = config.collector_exe});
  if (!daemons.ok()) return daemons.status();
  sensor->daemons_ = *std::move(daemons);

  // /proc is read after the probes are in, so a process started in between
  // is seen by one or the other.
  auto cache = std::make_unique<ProcessCache>(ProcessCacheOptions{
      .node = config.node_name,
      .max_entries = config.process_cache_size,
      .exit_grace = config.exit_grace,
      .max_ancestors = config.max_ancestors,
      .max_arg_bytes = config.loader.max_arg_bytes,
      .max_args = config.max_args,
      .ancestor_arg_bytes = config.ancestor_arg_bytes,
  });
  cache->SeedFromProc();
  sensor->process_cache_ = cache.get();
  std::vector<std::unique_ptr<Enricher>> enrichers;
  enrichers.push_back(std::move(cache));
  enrichers.push_back(std::make_unique<DnsNames>(
      DnsNamesOptions{.max_entries = config.dns_cache_size, .max_age = config.dns_cache_max_age}));
  if (config.container_enrichment) {
    auto containers = ContainerEnricher::Create(
        ContainerEnricherOptions{
            .cgroup_root = config.cgroup_root,
            .max_cgroups = config.container_cache_size,
            .max_containers = config.container_metadata_cache_size,
            .pending_wait = config.container_wait,
            // A removed container serves its late events as long as an exited process does.
            .removed_grace = config.exit_grace,
        },
        RuntimeClients(config));
    if (!containers.ok()) return containers.status();
    sensor->containers_ = containers->get();
    enrichers.push_back(*std::move(containers));
  }

  std::unique_ptr<Detector> detector;
  if (config.detection) {
    SigmaDetectorOptions options = config.rules;
    options.node = config.node_name;
    auto sigma = SigmaDetector::Create(std::move(options), sensor->process_cache_);
    if (!sigma.ok()) {
      return absl::Status(sigma.status().code(), absl::StrCat("detection rules: ", sigma.status().message()));
    }
    const v1::ListRulesResponse rules = (*sigma)->Stats().rules;
    Logger("rules")->info("{} detection rules loaded from {}", rules.rules_size(),
                          absl::StrJoin(rules.sources(), ", "));
    sensor->detector_ = sigma->get();
    detector = *std::move(sigma);
  }

  sensor->pipeline_ = std::make_unique<Pipeline>(
      PipelineOptions{.queue_capacity = config.queue_capacity,
                      .queue_max_bytes = config.queue_max_bytes,
                      .instance_id = instance_id},
      Decoder(DecoderOptions{.node = config.node_name, .max_args = config.max_args}, &sensor->clock_),
      std::move(enrichers), std::move(detector), std::move(sinks));
  Pipeline* pipeline = sensor->pipeline_.get();
  auto ring = RingBuffer::Open(sensor->probes_->ring_buffer_fd(),
                               [pipeline](absl::Span<const uint8_t> record) { pipeline->Submit(record); });
  if (!ring.ok()) return ring.status();
  sensor->ring_ = *std::move(ring);
  if (absl::Status s = sensor->StartServices(); !s.ok()) return s;
  return sensor;
}

absl::Status Sensor::StartServices() {
  if (detector_ != nullptr) {
    std::vector<std::string> watched = config_.rules.rule_paths;
    for (const std::string* p : {&config_.rules.exceptions_file, &config_.rules.lists_dir}) {
      if (!p->empty()) watched.push_back(*p);
    }
    auto watcher = PathWatcher::Start(watched, {".yml", ".yaml", ".txt"}, kRulesDebounce,
                                      [this] { ReloadRules("a rules file changed"); });
    if (watcher.ok()) {
      rules_watcher_ = *std::move(watcher);
    } else {
      Logger("rules")->warn("rule files are not watched, reload with SIGHUP: {}", watcher.status().message());
    }
  }
  if (!config_.metrics_address.empty()) {
    metrics_.OnScrape([this](metrics::Registry& r) {
      ExportSensorMetrics(Health(false).health(), probes_->probes(), r);
      ExportStageMetrics(StageReports(), r);
      if (detector_ != nullptr) ExportDetectorMetrics(detector_->Stats(), r);
      r.GetGauge("vigil_ready", "1 once the probes are attached and the pipeline runs.").Set(ready_ ? 1 : 0);
    });
    metrics_.GetGauge("vigil_build_info", "Always 1; the labels name the build.", {{"version", VIGIL_VERSION}}).Set(1);
    auto http = metrics::HttpServer::Start(config_.metrics_address, &metrics_,
                                           {.healthy = nullptr, .ready = [this] { return ready_.load(); }});
    if (!http.ok()) return http.status();
    http_ = *std::move(http);
  }
  if (!config_.api_socket.empty()) {
    auto api = ApiServer::Start(
        ApiServerOptions{.socket_path = config_.api_socket, .default_queue_capacity = config_.api_queue_capacity},
        &hub_, [this] { return StatusReport(); },
        detector_ == nullptr ? ApiServer::RulesFn()
                             : ApiServer::RulesFn([this]() -> absl::StatusOr<v1::ListRulesResponse> {
                                 return detector_->Stats().rules;
                               }));
    if (!api.ok()) return api.status();
    api_ = *std::move(api);
  }
  return absl::OkStatus();
}

v1::StatusResponse Sensor::StatusReport() {
  v1::StatusResponse r;
  r.set_version(VIGIL_VERSION);
  r.set_node(config_.node_name);
  if (utsname u{}; uname(&u) == 0) r.set_kernel(u.release);
  r.set_btf(config_.loader.kernel_btf.empty() ? "/sys/kernel/btf/vmlinux" : config_.loader.kernel_btf);
  *r.mutable_started() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(started_));
  r.set_ready(ready_);
  for (const ProbeState& p : probes_->probes()) {
    v1::ProbeStatus* out = r.add_probes();
    out->set_family(p.family);
    out->set_name(p.name);
    out->set_hook(p.hook);
    out->set_attached(p.attached);
    out->set_missed(p.missed);
    for (const std::string& n : p.notes) out->add_notes(n);
  }
  *r.mutable_counters() = Health(false).health();
  if (http_ != nullptr) r.set_metrics_address(http_->address());
  // Every stage says how it is (pipeline_->Report), in pipeline order.
  for (const StageReport& report : StageReports()) {
    v1::ComponentStatus* c = r.add_components();
    c->set_name(report.name);
    c->set_state(report.state);
    auto& d = *c->mutable_details();
    for (const StageReport::Value& v : report.values) {
      // Counters and sizes are whole numbers: no exponent for large ones.
      d[v.key] = v.value == std::floor(v.value) ? absl::StrCat(static_cast<int64_t>(v.value)) : absl::StrCat(v.value);
    }
    for (const auto& [key, note] : report.notes) d[key] = note;
  }
  return r;
}

std::vector<StageReport> Sensor::StageReports() const {
  std::vector<StageReport> reports;
  pipeline_->Report(reports);
  // Stages the configuration left out, named so status shows why.
  if (detector_ == nullptr) reports.push_back({.name = "detector", .state = "disabled"});
  if (containers_ == nullptr) reports.push_back({.name = "containers", .state = "disabled"});
  if (uplink_down_) {
    reports.push_back(
        {.name = "uplink", .state = "down", .notes = {{"error", "the spool could not be opened (see the log)"}}});
  }
  return reports;
}

void Sensor::ReloadRules(absl::string_view why) {
  auto log = Logger("rules");
  if (detector_ == nullptr) {
    log->info("{}: detection is off, nothing to reload", why);
    return;
  }
  if (absl::Status s = detector_->Reload(); !s.ok()) {
    log->error("{}: reload failed, the rules in force stay: {}", why, s.message());
    return;
  }
  log->info("{}: {} detection rules reloaded", why, detector_->Stats().rules.rules_size());
}

Sensor::~Sensor() {
  rules_watcher_.reset();
  api_.reset();
  http_.reset();
  stop_reader_ = true;
  if (reader_.joinable()) reader_.join();
}

void Sensor::ReadLoop() {
  RateLimit limit(absl::Seconds(10));
  const absl::Duration busy = config_.loader.wakeup_interval;
  const absl::Duration idle = std::max(kIdlePoll, busy);
  absl::Duration timeout = idle;
  while (!stop_reader_.load(std::memory_order_relaxed)) {
    // The probes wake the reader at most once per batch interval
    // (vigil_emit), so a record written just after a wake-up wakes nobody:
    // while records flow, the next poll waits no longer than that interval,
    // which bounds any record's wait; on an idle node it waits longer.
    absl::StatusOr<int> n = ring_->Poll(absl::ToInt64Milliseconds(timeout));
    if (!n.ok()) {
      if (uint64_t held; limit.Allow(held)) Logger("sensor")->error("{} ({} more)", n.status().message(), held);
    }
    timeout = n.ok() && *n > 0 ? busy : idle;
    pipeline_->Publish();
  }
}

absl::Status Sensor::Run(const std::function<bool(absl::Duration)>& wait_for_stop) {
  auto log = Logger("sensor");
  // Both of glibc's thresholds fixed. Left to itself, glibc raises its trim
  // threshold to twice the largest mmap'ed block ever freed (up to 64 MiB),
  // and a thread's arena gives back its top only above it: after one burst
  // the sensor would keep megabytes it no longer uses. What an arena keeps
  // on top below kTrimThreshold goes back at the next malloc_trim (below).
  // Blocks below kMmapThreshold come from the arenas: with glibc's default
  // of 128 KiB, every new buffer for an uplink batch (up to 1 MiB: read back
  // from the spool after a reconnect, or a writer's buffer the uplink's pool
  // did not keep) would be an mmap faulted in page by page, ~25 us a fault
  // on a paravirtualised host.
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  pipeline_->Start();
  reader_ = std::thread([this] { ReadLoop(); });
  NameThread(reader_, "vigil-ring");
  log->info("streaming events from {} probes to {}{}", probes_->probes().size(), config_.output,
            config_.uplink.target.empty() ? "" : " and to the collector at " + config_.uplink.target);
  ready_ = true;

  absl::Time next_health = absl::Now() + config_.health_interval;
  absl::Time next_trim = absl::Now() + kTrimInterval;
  while (!wait_for_stop(absl::Seconds(1))) {
    clock_.Resync();
    LogNewDrops();
    if (absl::Now() >= next_health) {
      pipeline_->Inject(Health(false));
      next_health = absl::Now() + config_.health_interval;
    }
    if (absl::Now() >= next_trim) {
      // After a burst (thousands of short-lived processes or containers)
      // the caches shrink back, but glibc keeps freed pages inside its
      // arenas: give them back, so the sensor's RSS follows its caches.
      // 0.17-0.30 ms a call, measured with uprobes during churn.
      malloc_trim(0);
      next_trim = absl::Now() + kTrimInterval;
    }
  }

  log->info("stopping: detaching probes and draining");
  ready_ = false;
  probes_->Detach();
  stop_reader_ = true;
  reader_.join();
  absl::Status drained = ring_->Drain().status();
  LogNewDrops();
  pipeline_->Inject(Health(true));
  pipeline_->Stop();
  return drained;
}

v1::Event Sensor::Health(bool final) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_SENSOR_HEALTH);
  event.set_node(config_.node_name);
  *event.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  v1::SensorHealth* h = event.mutable_health();
  h->set_final(final);
  const PipelineCounters pc = pipeline_->Counters();
  auto kc = probes_->ReadCounters();
  if (!kc.ok()) Logger("sensor")->warn("{}", kc.status().message());
  uint64_t decode_errors = 0;
  for (uint16_t k = 0; k < VIGIL_KIND_MAX; ++k) {
    decode_errors += pc.decode_errors[k];
    const auto& c = kc.ok() ? (*kc)[k] : std::array<uint64_t, VIGIL_CNT_MAX>{};
    if (c[VIGIL_CNT_SENT] + c[VIGIL_CNT_DROP_RINGBUF] + c[VIGIL_CNT_DROP_SCRATCH] + pc.received[k] == 0) continue;
    v1::KindCounters* out = h->add_kinds();
    out->set_kind(KindName(k));
    out->set_sent(c[VIGIL_CNT_SENT]);
    out->set_dropped_ringbuf(c[VIGIL_CNT_DROP_RINGBUF]);
    out->set_dropped_scratch(c[VIGIL_CNT_DROP_SCRATCH]);
    out->set_read_errors(c[VIGIL_CNT_READ_ERROR]);
    out->set_received(pc.received[k]);
    out->set_dropped_queue(pc.dropped_queue[k]);
  }
  h->set_decode_errors(decode_errors);
  h->set_queue_depth(pc.queue_depth);
  h->set_queue_bytes(pc.queue_bytes);
  h->set_process_cache_size(process_cache_->size());
  h->set_process_cache_evictions(process_cache_->evictions());
  if (uplink_ != nullptr) {
    const UplinkStats us = uplink_->Stats();
    v1::UplinkHealth* u = h->mutable_uplink();
    u->set_dropped_queue(us.dropped_queue);
    u->set_dropped_spool_cap(us.spool.evicted_items);
    u->set_spool_errors(us.spool_errors);
    u->set_spool_corrupt(us.spool.corrupt_records + us.spool.truncated_records);
    u->set_spool_bytes(us.spool.bytes);
    u->set_pending_batches(us.spool.next_index - std::max(us.spool.first_index, us.acked_sequence + 1));
    u->set_acked_sequence(us.acked_sequence);
    u->set_connected(us.connected);
    u->set_split_batches(us.split_batches);
    u->set_dropped_oversized(us.dropped_oversized);
    u->set_queue_depth(us.queue_depth);
    u->set_queue_bytes(us.queue_bytes);
  }
  if (uplink_down_) h->mutable_uplink()->set_connected(false);
  if (containers_ != nullptr) {
    const ContainerCacheStats cs = containers_->Stats();
    h->set_container_cache_size(cs.size);
    h->set_container_cache_evictions(cs.evictions);
    h->set_container_metadata_timeouts(cs.metadata_timeouts);
    h->set_container_runtime_errors(cs.runtime_errors);
    h->set_container_metadata_cache_size(cs.containers);
  }
  return event;
}

void Sensor::LogNewDrops() {
  auto kc = probes_->ReadCounters();
  const PipelineCounters pc = pipeline_->Counters();
  uint64_t kernel = 0, queue = 0;
  for (size_t k = 0; k < VIGIL_KIND_MAX; ++k) {
    if (kc.ok()) kernel += (*kc)[k][VIGIL_CNT_DROP_RINGBUF] + (*kc)[k][VIGIL_CNT_DROP_SCRATCH];
    queue += pc.dropped_queue[k];
  }
  uint64_t uplink = 0;
  if (uplink_ != nullptr) uplink = uplink_->Stats().lost();
  if (kernel + queue + uplink == drops_logged_) return;
  static RateLimit limit(absl::Seconds(10));
  if (uint64_t held; limit.Allow(held)) {
    Logger("sensor")->warn(
        "events lost so far: {} in the kernel (ring buffer full), {} in the sensor (queue full), {} on the way to "
        "the collector (uplink queue full, spool cap or spool errors)",
        kernel, queue, uplink);
    drops_logged_ = kernel + queue + uplink;
  }
}

}  // namespace vigil
