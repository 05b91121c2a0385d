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
// Container and pod enrichment.
ABSL_FLAG(bool, container_enrichment, true, "label events with their container, pod and image");
ABSL_FLAG(std::string, cgroup_root, "", "where cgroup2 is mounted (default: from /proc/self/mountinfo)");
ABSL_FLAG(std::string, containerd_socket, "auto",
          "containerd's socket; auto: /run/containerd/containerd.sock if there; empty: none");
ABSL_FLAG(std::vector<std::string>, containerd_namespaces, std::vector<std::string>({"k8s.io", "default", "moby"}),
          "containerd namespaces to look containers up in, in this order");
ABSL_FLAG(std::string, cri_socket, "auto", "a CRI runtime's socket (CRI-O); auto: /run/crio/crio.sock if there");
ABSL_FLAG(std::string, docker_socket, "auto", "the Docker Engine's socket; auto: /run/docker.sock if there");
ABSL_FLAG(absl::Duration, runtime_timeout, absl::Seconds(2), "deadline of one call to a container runtime");
ABSL_FLAG(absl::Duration, container_wait, absl::Milliseconds(200),
          "how long an event of a new cgroup waits for its container's metadata");
ABSL_FLAG(uint64_t, container_cache_size, 16384, "cgroups remembered with their container");
ABSL_FLAG(uint64_t, container_metadata_cache_size, 8192, "containers remembered with their runtime metadata");

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
  config.container_enrichment = absl::GetFlag(FLAGS_container_enrichment);
  config.cgroup_root = absl::GetFlag(FLAGS_cgroup_root);
  config.containerd_socket = absl::GetFlag(FLAGS_containerd_socket);
  config.containerd_namespaces = absl::GetFlag(FLAGS_containerd_namespaces);
  config.cri_socket = absl::GetFlag(FLAGS_cri_socket);
  config.docker_socket = absl::GetFlag(FLAGS_docker_socket);
  config.runtime_timeout = absl::GetFlag(FLAGS_runtime_timeout);
  config.container_wait = absl::GetFlag(FLAGS_container_wait);
  config.container_cache_size = absl::GetFlag(FLAGS_container_cache_size);
  config.container_metadata_cache_size = absl::GetFlag(FLAGS_container_metadata_cache_size);

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
