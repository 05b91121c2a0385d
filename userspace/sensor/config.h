#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "loader/probe_set.h"

namespace vigil {

// Everything the sensor is told, validated once; libraries get parts of it
// by const reference and never read flags themselves.
struct SensorConfig {
  std::string node_name;
  std::string output = "-";  // JSON lines: "-" for stdout, or a file path
  LoaderConfig loader;
  uint32_t max_args = 256;
  size_t queue_capacity = 65536;
  size_t process_cache_size = 32768;
  absl::Duration exit_grace = absl::Seconds(30);
  uint32_t max_ancestors = 8;
  absl::Duration health_interval = absl::Seconds(60);
  size_t dns_cache_size = 4096;  // (process, address) -> name pairs for connect events
  absl::Duration dns_cache_max_age = absl::Minutes(5);
};

// InvalidArgument naming the first bad setting.
absl::Status Validate(const SensorConfig& config);

}  // namespace vigil
