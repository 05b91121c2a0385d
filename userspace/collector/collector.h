#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "collector/forwarder.h"
#include "collector/resend_filter.h"
#include "collector/validate.h"
#include "metrics/registry.h"
#include "spool/spool.h"

namespace vigil::collector {

struct CollectorConfig {
  std::string listen = "0.0.0.0:7443";
  bool plaintext = false;  // no TLS: only when asked for explicitly
  std::string ca_file;     // PEM: clients must present a certificate signed by this CA
  std::string cert_file;   // PEM: the collector's certificate
  std::string key_file;
  std::string spool_dir = "/var/lib/vigil/collector";
  uint64_t spool_max_bytes = 4ull << 30;
  uint64_t max_batch_bytes = 8u << 20;  // gRPC max receive message size
  BatchLimits limits;
  // Publish streams one node may hold open at once (a sensor needs one; a
  // reconnect overlaps the old stream's teardown for a moment).
  int max_streams_per_node = 4;
  // gRPC's memory quota for the server (buffers of every connection).
  uint64_t memory_quota_bytes = 1ull << 30;
  absl::Duration max_retry_backoff = absl::Seconds(30);  // between failed forwarder sends
};

absl::Status Validate(const CollectorConfig& config);

// vigil-collector: a gRPC server for every sensor's Publish stream, a
// durable spool and one thread per forwarder reading it through its own
// cursor.
//
// Durability (fsync policy): a batch is acknowledged only after it is
// written to the spool and fdatasync'ed (concurrent streams share one
// fdatasync); so an acknowledged batch survives a collector crash and a
// power loss. A crash between the write and the ack costs nothing but a
// resend. Resends are recognised (ResendFilter) and acknowledged without
// storing twice; the filter is saved on a normal stop, so only a crash can
// make a resend a stored duplicate (identifiable by its event ids). A normal
// stop (Shutdown) first drains: each stream acknowledges what it stored and
// then ends with UNAVAILABLE before storing anything more. Forwarder cursors
// (<spool>/cursors/<name>) are written after each delivered batch but not
// fsynced: after a power loss a forwarder may repeat batches, never skip them.
class Collector {
 public:
  // The vigil_collector_* metrics go to `metrics` (which must outlive the
  // collector, and not be scraped once it is gone: a scrape hook reads the
  // spool), or to a registry of its own when null.
  static absl::StatusOr<std::unique_ptr<Collector>> Start(const CollectorConfig& config,
                                                          std::vector<std::unique_ptr<Forwarder>> forwarders,
                                                          metrics::Registry* metrics = nullptr);
  ~Collector();
  int port() const { return port_; }
  // Taking streams: started and not shutting down (/readyz).
  bool ready() const { return serving_; }
  // Stops taking streams, lets forwarders finish their current batch, saves cursors.
  void Shutdown();

 private:
  class Service;
  struct Lane {
    std::unique_ptr<Forwarder> forwarder;
    std::string cursor_path;
    std::atomic<uint64_t> cursor{0};
    std::thread thread;
    metrics::Counter* delivered = nullptr;  // events
    metrics::Counter* failed = nullptr;     // events of failed Send attempts
    metrics::Histogram* latency = nullptr;  // seconds from the event to its delivery
  };
  struct StreamMetrics {
    metrics::Gauge* streams = nullptr;
    metrics::Counter* batches_received = nullptr;
    metrics::Counter* batches_acked = nullptr;
    metrics::Counter* batches_refused = nullptr;
    metrics::Counter* batches_resent = nullptr;
    metrics::Counter* events_received = nullptr;
    metrics::Counter* events_acked = nullptr;
    metrics::Counter* events_refused = nullptr;
  };

  explicit Collector(CollectorConfig config);
  void RegisterMetrics(metrics::Registry& registry);
  void Forward(Lane& lane);
  void ReleaseConsumed();
  void OnAppended();
  // Counts a Publish stream of `node`; false when it has too many already.
  bool BeginNodeStream(const std::string& node);
  void EndNodeStream(const std::string& node);

  const CollectorConfig config_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  int port_ = 0;
  std::unique_ptr<metrics::Registry> own_metrics_;
  StreamMetrics stream_metrics_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> draining_{false};
  ResendFilter resend_filter_{ResendFilter::Options{}};
  std::string resend_filter_path_;

  absl::Mutex streams_mu_;
  absl::flat_hash_map<std::string, int> node_streams_ ABSL_GUARDED_BY(streams_mu_);

  absl::Mutex mu_;
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // bumped at each append, wakes forwarders
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::collector
