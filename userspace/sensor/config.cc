#include "sensor/config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "vigil_abi.h"

namespace vigil {

absl::Status Validate(const SensorConfig& c) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  const uint32_t ring = c.loader.ring_buffer_bytes;
  const auto page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  if (ring < page || (ring & (ring - 1)) != 0) {
    return bad("ring buffer size ", ring, " must be a power of two and at least the page size (", page, ")");
  }
  if (c.loader.max_arg_bytes < 1 || c.loader.max_arg_bytes > VIGIL_ARGS_MAX) {
    return bad("max argv bytes ", c.loader.max_arg_bytes, " must be between 1 and ", VIGIL_ARGS_MAX);
  }
  if (const absl::Duration d = c.loader.wakeup_interval; d < absl::Milliseconds(1) || d > absl::Seconds(1)) {
    return bad("batch interval ", absl::FormatDuration(d), " must be between 1ms and 1s");
  }
  if (c.max_args < 1) return bad("max args must be at least 1");
  if (c.queue_capacity < 1) return bad("queue capacity must be at least 1");
  if (c.queue_max_bytes < (1u << 20)) return bad("queue bytes must be at least 1 MiB");
  if (c.process_cache_size < 16) return bad("process cache size ", c.process_cache_size, " must be at least 16");
  if (c.exit_grace < absl::ZeroDuration()) return bad("exit grace must not be negative");
  if (c.health_interval < absl::Seconds(1)) return bad("health interval must be at least 1s");
  if (c.loader.tcp_socket_entries < 1) return bad("tcp socket entries must be at least 1");
  if (c.loader.net_pending_entries < 1) return bad("network pending entries must be at least 1");
  if (c.loader.file_pending_entries < 1) return bad("file pending entries must be at least 1");
  if (c.loader.security_pending_entries < 4) return bad("security pending entries must be at least 4");
  if (c.dns_cache_size < 1) return bad("dns cache size must be at least 1");
  if (c.dns_cache_max_age < absl::ZeroDuration()) return bad("dns cache max age must not be negative");
  if (c.node_name.empty()) return bad("node name is empty");
  if (c.output.empty()) return bad("output is empty (use - for stdout)");
  if (!c.uplink.target.empty()) {
    if (!c.uplink.plaintext && (c.uplink.ca_file.empty() || c.uplink.cert_file.empty() || c.uplink.key_file.empty())) {
      return bad(
          "--collector needs --collector_ca, --collector_cert and --collector_key (mTLS), "
          "or --collector_plaintext");
    }
    if (c.uplink.spool.dir.empty()) return bad("spool directory is empty");
    if (c.uplink.spool.max_bytes < 2 * c.uplink.spool.segment_bytes) {
      return bad("spool cap ", c.uplink.spool.max_bytes, " must be at least two segments (",
                 2 * c.uplink.spool.segment_bytes, " bytes)");
    }
  }
  if (c.api_queue_capacity < 1) return bad("API queue capacity must be at least 1");
  if (c.container_cache_size < 16) return bad("container cache size ", c.container_cache_size, " must be at least 16");
  if (c.container_metadata_cache_size < 16) {
    return bad("container metadata cache size ", c.container_metadata_cache_size, " must be at least 16");
  }
  if (c.container_wait < absl::ZeroDuration() || c.container_wait > absl::Seconds(5)) {
    return bad("container wait must be between 0 and 5s");
  }
  if (c.runtime_timeout <= absl::ZeroDuration()) return bad("runtime timeout must be positive");
  for (const auto* list : {&c.loader.file.sensitive, &c.loader.file.include, &c.loader.file.exclude}) {
    for (const std::string& prefix : *list) {
      if (prefix.empty() || prefix.size() > VIGIL_PREFIX_MAX) {
        return bad("file path prefix \"", prefix, "\" must have 1 to ", VIGIL_PREFIX_MAX, " bytes");
      }
      if (list != &c.loader.file.sensitive && prefix[0] != '/') {
        return bad("file include/exclude prefix \"", prefix, "\" is not absolute");
      }
    }
  }
  if (c.detection && c.rules.aggregation_window < absl::ZeroDuration()) {
    return bad("alert aggregation window must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace vigil
