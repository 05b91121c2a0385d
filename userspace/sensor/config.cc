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
  if (c.max_args < 1) return bad("max args must be at least 1");
  if (c.queue_capacity < 1) return bad("queue capacity must be at least 1");
  if (c.process_cache_size < 16) return bad("process cache size ", c.process_cache_size, " must be at least 16");
  if (c.exit_grace < absl::ZeroDuration()) return bad("exit grace must not be negative");
  if (c.health_interval < absl::Seconds(1)) return bad("health interval must be at least 1s");
  if (c.node_name.empty()) return bad("node name is empty");
  if (c.output.empty()) return bad("output is empty (use - for stdout)");
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
  return absl::OkStatus();
}

}  // namespace vigil
