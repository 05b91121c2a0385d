#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "pipeline/stage.h"
#include "spool/spool.h"
#include "vigil/v1/collector.grpc.pb.h"

namespace vigil {

struct UplinkOptions {
  std::string target;      // collector, host:port
  bool plaintext = false;  // no TLS at all: only when asked for explicitly
  // Off by default: on an exec storm it costs the sensor about as much CPU
  // as everything else it does per event together, for ~27x fewer bytes.
  bool gzip = false;
  std::string ca_file;                 // PEM: the CA that signed the collector's certificate
  std::string cert_file;               // PEM: this node's client certificate
  std::string key_file;                // PEM: its private key
  SpoolOptions spool;                  // dir and cap; not durable (see uplink.cc)
  size_t queue_capacity = 65536;       // events between the pipeline and the spool
  size_t queue_max_bytes = 64u << 20;  // and their serialized bytes (an exec event can be ~40 KiB)
  // Events per batch, at most: more than a batch delay brings at 1,600
  // execs/s (~960), so that at high rates a batch is cut by time or bytes.
  // Each batch costs the sensor ~2 ms of thread wake-ups and system calls
  // (spool write, gRPC's threads, the ack), whatever it holds.
  size_t batch_events = 2048;
  // Serialized bytes per batch: one batch is one gRPC message, which must
  // stay below the sensor's send limit (kMaxMessageBytes in uplink.cc) and
  // the collector's receive limit (--max_batch_bytes, 8 MiB by default).
  size_t batch_bytes = 1u << 20;
  absl::Duration batch_delay = absl::Milliseconds(200);  // longest an event waits for its batch
  size_t max_in_flight = 64;                             // batches sent and not yet acknowledged
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration shutdown_grace = absl::Seconds(5);  // to deliver what is spooled when stopping
  v1::SensorIdentity identity;
};

class BufferPool;

struct UplinkStats {
  uint64_t dropped_queue = 0;  // events lost: queue to the spool full
  uint64_t spool_errors = 0;   // events lost: the spool could not be written
  SpoolStats spool;            // evicted_items: events lost to the spool cap
  uint64_t queue_depth = 0;
  uint64_t queue_bytes = 0;
  uint64_t acked_sequence = 0;
  uint64_t sessions = 0;           // streams opened
  uint64_t split_batches = 0;      // spooled batches too large to send, re-spooled in parts
  uint64_t dropped_oversized = 0;  // events lost: one alone is larger than the collector takes
  bool connected = false;

  // Every event lost on the way to the collector, whatever the reason.
  uint64_t lost() const { return dropped_queue + spool_errors + dropped_oversized + spool.evicted_items; }
};

// The sink that streams events to vigil-collector. Never blocks the
// pipeline: Write() only queues (bounded; a full queue drops and counts).
// A batching thread writes batches to the on-disk spool, a sending thread
// streams them from the spool and deletes them once the collector
// acknowledged them as durable. What is spooled and unacknowledged survives
// a restart and is sent first on the next start.
class Uplink : public Sink {
 public:
  // Unavailable when the spool directory cannot be used (the caller may go
  // on without an uplink); other errors are the options'.
  static absl::StatusOr<std::unique_ptr<Uplink>> Create(const UplinkOptions& options);
  // Spools what is queued, then tries for `shutdown_grace` to deliver it.
  ~Uplink() override;

  absl::Status Write(const v1::Event& event) override;
  absl::Status Flush() override;
  UplinkStats Stats() const;
  void Report(std::vector<StageReport>& out) const override;

 private:
  Uplink(UplinkOptions options, std::unique_ptr<Spool> spool, std::shared_ptr<grpc::Channel> channel, uint64_t acked);
  void BatchLoop();
  void SendLoop();
  // One Publish stream, until it breaks or the uplink stops. True when the
  // collector acknowledged something.
  bool Session();
  void OnAck(uint64_t sequence);
  // The last acknowledged sequence, into the acked file (reader thread).
  absl::Status WriteAcked(uint64_t sequence);
  // A batch on its way: its spool index and its bytes, a serialized run of
  // PublishRequest.events, in a buffer it may share with other batches.
  struct Batch {
    uint64_t index = 0;
    std::shared_ptr<const std::string> buffer;
    absl::string_view payload;  // in *buffer
  };
  // Re-spools the events of `batch`, too large to send as one message, as
  // batches of at most `max_bytes` each (an event larger alone is dropped,
  // counted).
  void Split(const Batch& batch, size_t max_bytes);
  // A record is in the spool at `index`: the sender may take it.
  void Appended(uint64_t index);
  // The batcher's batch is in the spool: the sender may take it from memory.
  void Appended(Batch batch);
  // The oldest batch held for the sender, taken out (fresh_ is not empty).
  Batch PopFresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The batches to send from `next` on, at most `window`: from memory when
  // the batcher just spooled them, else read back from the spool.
  absl::StatusOr<std::vector<Batch>> Take(uint64_t next, uint64_t window);

  const UplinkOptions options_;
  const std::unique_ptr<Spool> spool_;
  // The writer's buffers, back once gRPC has sent what they held.
  const std::shared_ptr<BufferPool> buffers_;
  const std::shared_ptr<grpc::Channel> channel_;
  // Collector.Publish with the request as bytes: a spooled batch is already
  // a serialized PublishRequest, sent without being parsed and serialized
  // again. (The generated stub's own factory, typed for bytes.)
  const grpc::internal::RpcMethod publish_;
  const std::string ack_path_;
  UniqueFd ack_file_;  // open once, rewritten in place

  // Events waiting for the spool, already in their wire form: each one is
  // a `PublishRequest.events` entry (tag, length, serialized event), so any
  // run of them is a serialized PublishRequest. Serialized once, by Write(),
  // and never parsed on the way to the spool: no copy of the message, no
  // allocation per event on the pipeline thread.
  struct Queued {
    std::string bytes;
    std::vector<size_t> ends;  // where each event's entry ends in `bytes`
  };
  mutable absl::Mutex queue_mu_;
  Queued queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stop_batching_ ABSL_GUARDED_BY(queue_mu_) = false;

  mutable absl::Mutex mu_;
  uint64_t appended_ ABSL_GUARDED_BY(mu_);  // next spool index to be written
  uint64_t acked_ ABSL_GUARDED_BY(mu_);     // highest sequence acknowledged
  // Batches spooled and not yet taken by the sender, in index order and
  // bounded by bytes: sent without being read back from the spool (a read,
  // a zero-filled buffer and a checksum over up to a MiB each). The oldest
  // go first when the sender lags, as while the collector is away; the
  // spool has them all.
  std::deque<Batch> fresh_ ABSL_GUARDED_BY(mu_);
  size_t fresh_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // of the open stream
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sessions_ ABSL_GUARDED_BY(mu_) = 0;
  // Sender thread only: the largest message sent since the collector last
  // refused one as too large (its limit may be below ours).
  size_t max_message_bytes_;
  std::atomic<uint64_t> split_batches_{0};
  std::atomic<uint64_t> dropped_oversized_{0};

  std::atomic<uint64_t> dropped_queue_{0};
  std::atomic<uint64_t> spool_errors_{0};
  std::thread batcher_;
  std::thread sender_;
};

}  // namespace vigil
