#pragma once

// Vigil's own daemons, whose calls no probe reports (vigil_daemons in
// bpf/include/vigil_common.bpf.h): the sensor itself and a vigil-collector on
// the same node. Their bookkeeping (spool segments, acks, cursor files, map
// reads) reported as events would be shipped, acknowledged and written
// again: a loop that fills an idle node's stream. Their children are not
// daemons, and any other process touching Vigil's files is reported.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil {

// Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot,
// which the kernel side compares with the task's start_boottime.
absl::StatusOr<uint64_t> ProcessStartTicks(pid_t pid);

// Puts process `tgid` (as this process's /proc numbers it) into
// vigil_daemons, the map behind `map_fd`.
absl::Status AddDaemon(int map_fd, uint32_t tgid);

struct DaemonWatchOptions {
  // A process counts as the collector when /proc/<pid>/exe is this file (same
  // device and inode): the kernel sets that link at exec, so neither a name
  // nor argv can fake it. Empty: no collector is watched.
  std::string collector_exe;
  absl::Duration interval = absl::Seconds(1);
};

// Keeps the collectors in vigil_daemons (the map behind `map_fd`, not owned)
// as they come and go, looked for every `interval` on a thread of its own.
// (The sensor is put there by ProbeSet::Load, before any probe is attached.)
class DaemonWatch {
 public:
  static absl::StatusOr<std::unique_ptr<DaemonWatch>> Start(int map_fd, DaemonWatchOptions options);
  ~DaemonWatch();
  DaemonWatch(const DaemonWatch&) = delete;
  DaemonWatch& operator=(const DaemonWatch&) = delete;

  // One pass over /proc now (Start runs one before it returns).
  void Scan();
  // The collectors in the map now, by tgid.
  std::vector<uint32_t> collectors() const;

 private:
  DaemonWatch(int map_fd, DaemonWatchOptions options) : map_fd_(map_fd), options_(std::move(options)) {}

  const int map_fd_;
  const DaemonWatchOptions options_;
  mutable absl::Mutex mu_;
  std::vector<uint32_t> collectors_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vigil
