#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "vigil/v1/collector.pb.h"

namespace vigil::collector {

// A sensor resends every batch it has no ack for: after its stream broke,
// after it was stopped with acks in flight, after the collector was stopped
// with acks unsent. The filter remembers the last batches each sensor stored
// (its cluster and node, the batch's sequence and a fingerprint of its event
// ids), so a resend is acknowledged again, not stored twice. A batch is a
// resend only when both its sequence and its events match: a sensor whose
// spool was wiped starts its sequences again, and those batches are new.
//
// Bounded: `per_sensor` batches per sensor (at least the sensor's in-flight
// window: resends are of unacknowledged batches) and `max_sensors` sensors,
// the least recently seen forgotten first. Thread-safe.
class ResendFilter {
 public:
  struct Options {
    size_t per_sensor = 256;
    size_t max_sensors = 16384;
  };
  explicit ResendFilter(Options options) : options_(options) {}

  // Event ids, in order, hashed with FNV-1a: stable across runs, so the
  // table can be saved.
  static uint64_t Fingerprint(const v1::PublishRequest& batch);

  struct Stored {
    bool resent = false;  // stored before: acknowledge again, do not store
    // Where the stored copy is, to sync through before acknowledging; none
    // for a batch stored by an earlier run (it is durable).
    std::optional<uint64_t> spool_index;
  };
  // Stores `batch` through `append` (which returns its spool index) unless
  // it was stored before, in a copy `may_be_lost` does not doubt (a failed
  // sync covered it: Spool::MayBeLost). The filter's lock is held meanwhile,
  // so two streams of one sensor (an old one not yet torn down) cannot both
  // store it.
  absl::StatusOr<Stored> StoreOnce(const v1::PublishRequest& batch,
                                   absl::FunctionRef<absl::StatusOr<uint64_t>()> append,
                                   absl::FunctionRef<bool(uint64_t spool_index)> may_be_lost);

  // One line per remembered batch whose stored copy `durable` confirms (it
  // syncs through it); a batch left out is stored again if resent after the
  // restart. Load() takes what Save() wrote, and refuses a corrupt file as a
  // whole (the caller starts empty).
  absl::Status Save(const std::string& path, absl::FunctionRef<bool(uint64_t spool_index)> durable);
  absl::Status Load(const std::string& path);
  size_t sensors();

 private:
  struct Batch {
    uint64_t fingerprint;
    std::optional<uint64_t> spool_index;
  };
  struct Sensor {
    std::map<uint64_t, Batch> batches;  // by sequence
    std::list<std::string>::iterator lru;
  };
  Sensor& Touch(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(Sensor& sensor, uint64_t sequence, Batch batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Sensor> sensors_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recent first
};

}  // namespace vigil::collector
