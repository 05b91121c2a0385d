#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "loader/probe_set.h"
#include "rules/sigma_detector.h"
#include "uplink/uplink.h"

namespace vigil {

// The output that is none: no JSON lines are encoded at all.
inline constexpr char kNoOutput[] = "/dev/null";

// Everything the sensor is told, validated once; libraries get parts of it
// by const reference and never read flags themselves.
struct SensorConfig {
  std::string node_name;
  std::string output = "-";  // JSON lines: "-" for stdout, a file path, or kNoOutput
  LoaderConfig loader;
  uint32_t max_args = 256;
  size_t queue_capacity = 65536;
  size_t queue_max_bytes = 64u << 20;  // the same queue, bounded by its records' bytes too
  size_t process_cache_size = 32768;
  absl::Duration exit_grace = absl::Seconds(30);
  uint32_t max_ancestors = 8;
  uint32_t ancestor_arg_bytes = 1024;
  absl::Duration health_interval = absl::Seconds(60);
  size_t dns_cache_size = 4096;  // (process, address) -> name pairs for connect events
  absl::Duration dns_cache_max_age = absl::Minutes(5);
  // Streaming to vigil-collector: off while uplink.target is empty. The
  // sensor fills in the identity's node, version, kernel and instance id.
  UplinkOptions uplink;
  // A vigil-collector on this node runs this file: its calls are not
  // reported, like the sensor's own (loader/daemons.h). Empty: none.
  std::string collector_exe;
  // Local API and metrics (vigilctl).
  std::string api_socket = "/run/vigil/sensor.sock";  // empty: no local API
  size_t api_queue_capacity = 4096;                   // events buffered per tail subscriber
  std::string metrics_address = "127.0.0.1:9476";     // host:port of /metrics, /healthz, /readyz; empty: off

  // Container and pod enrichment (userspace/container). A socket "auto" means
  // the runtime's standard path when it exists at start, "" means not asked.
  bool container_enrichment = true;
  std::string cgroup_root;  // cgroup2 mount; empty: from /proc/self/mountinfo
  std::string containerd_socket = "auto";
  std::vector<std::string> containerd_namespaces = {"k8s.io", "default", "moby"};
  std::string cri_socket = "auto";
  std::string docker_socket = "auto";
  absl::Duration runtime_timeout = absl::Seconds(2);
  absl::Duration container_wait = absl::Milliseconds(200);
  size_t container_cache_size = 16384;
  size_t container_metadata_cache_size = 8192;

  // Detection (userspace/rules): Sigma rules evaluated on every event, alerts
  // to every output. The sensor fills in rules.node.
  bool detection = true;
  SigmaDetectorOptions rules;
};

// InvalidArgument naming the first bad setting.
absl::Status Validate(const SensorConfig& config);

}  // namespace vigil
