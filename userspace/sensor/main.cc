// vigil-sensor: loads Vigil's eBPF probes and streams enriched events.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/log.h"
#include "sensor/sensor.h"

ABSL_FLAG(std::string, node_name, "", "node name in events (default: $NODE_NAME, else the host name)");
ABSL_FLAG(std::string, output, "-", "where JSON-lines events go: - for stdout, or a file (appended)");
ABSL_FLAG(uint32_t, ring_buffer_bytes, 8u << 20, "kernel ring buffer size in bytes (power of two)");
ABSL_FLAG(uint32_t, max_arg_bytes, 8192, "argv bytes captured per exec (at most 32768); longer is flagged truncated");
ABSL_FLAG(uint32_t, max_args, 256, "argv entries kept per exec; more is flagged truncated");
ABSL_FLAG(uint64_t, queue_capacity, 65536, "records buffered between the ring buffer reader and the pipeline");
ABSL_FLAG(uint64_t, process_cache_size, 32768, "processes remembered for lineage");
ABSL_FLAG(absl::Duration, exit_grace, absl::Seconds(30), "how long an exited process stays in the cache");
ABSL_FLAG(uint32_t, max_ancestors, 8, "ancestors listed on exec events");
ABSL_FLAG(absl::Duration, health_interval, absl::Seconds(60), "interval between sensor health events");
ABSL_FLAG(std::string, kernel_btf, "", "BTF file for this kernel (default: /sys/kernel/btf/vmlinux)");
ABSL_FLAG(std::string, hooks, "auto",
          "auto: the best hook each kernel offers; tracepoint: raw tracepoints only (the stable ABI)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");
ABSL_FLAG(std::vector<std::string>, disable, {},
          "probes not to load, comma-separated: a family (file), a probe (open) or family/probe (file/open)");
ABSL_FLAG(std::vector<std::string>, sensitive_paths, vigil::FileFilterConfig::DefaultSensitivePaths(),
          "path prefixes whose opens are reported even read-only; a relative entry is under every home directory");
ABSL_FLAG(std::vector<std::string>, file_include, {},
          "when set, only file events under these absolute path prefixes (and sensitive paths) are reported");
ABSL_FLAG(std::vector<std::string>, file_exclude, {}, "absolute path prefixes whose file events are never reported");
ABSL_FLAG(bool, file_writes_only, true, "report opens only for write/create/truncate (and of sensitive paths)");

namespace {

std::string DefaultNodeName() {
  if (const char* env = std::getenv("NODE_NAME"); env != nullptr && *env != '\0') return env;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Vigil eBPF runtime sensor. Streams process events as JSON lines.");
  absl::ParseCommandLine(argc, argv);

  if (!vigil::SetLogLevel(absl::GetFlag(FLAGS_log_level))) {
    std::cerr << "vigil-sensor: unknown --log_level " << absl::GetFlag(FLAGS_log_level) << "\n";
    return 2;
  }
  vigil::SensorConfig config;
  if (const std::string hooks = absl::GetFlag(FLAGS_hooks); hooks == "tracepoint") {
    config.loader.hooks = vigil::HookPolicy::kTracepointOnly;
  } else if (hooks != "auto") {
    std::cerr << "vigil-sensor: --hooks must be auto or tracepoint, not " << hooks << "\n";
    return 2;
  }
  config.node_name = absl::GetFlag(FLAGS_node_name).empty() ? DefaultNodeName() : absl::GetFlag(FLAGS_node_name);
  config.output = absl::GetFlag(FLAGS_output);
  config.loader.ring_buffer_bytes = absl::GetFlag(FLAGS_ring_buffer_bytes);
  config.loader.max_arg_bytes = absl::GetFlag(FLAGS_max_arg_bytes);
  config.loader.kernel_btf = absl::GetFlag(FLAGS_kernel_btf);
  config.max_args = absl::GetFlag(FLAGS_max_args);
  config.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
  config.process_cache_size = absl::GetFlag(FLAGS_process_cache_size);
  config.exit_grace = absl::GetFlag(FLAGS_exit_grace);
  config.max_ancestors = absl::GetFlag(FLAGS_max_ancestors);
  config.health_interval = absl::GetFlag(FLAGS_health_interval);
  config.loader.disabled = absl::GetFlag(FLAGS_disable);
  config.loader.file.sensitive = absl::GetFlag(FLAGS_sensitive_paths);
  config.loader.file.include = absl::GetFlag(FLAGS_file_include);
  config.loader.file.exclude = absl::GetFlag(FLAGS_file_exclude);
  config.loader.file.writes_only = absl::GetFlag(FLAGS_file_writes_only);

  // Signals are taken synchronously by the main thread; every thread the
  // sensor starts inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto sensor = vigil::Sensor::Create(config);
  if (!sensor.ok()) {
    std::cerr << "vigil-sensor: " << sensor.status().message() << "\n";
    return 1;
  }
  absl::Status status = (*sensor)->Run([&](absl::Duration timeout) {
    timespec ts = absl::ToTimespec(timeout);
    int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig > 0) vigil::Logger("sensor")->info("received {}", strsignal(sig));
    return sig > 0;
  });
  if (!status.ok()) {
    std::cerr << "vigil-sensor: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
