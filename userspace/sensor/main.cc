// vigil-sensor: loads Vigil's eBPF probes and streams enriched events.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/synchronization/mutex.h"
#include "common/config_file.h"
#include "common/log.h"
#include "common/version.h"
#include "selftest/all_checks.h"
#include "selftest/runner.h"
#include "sensor/sensor.h"

constexpr char kDefaultRulesDir[] = "/etc/vigil/rules";

ABSL_FLAG(std::string, node_name, "", "node name in events (default: $NODE_NAME, else the host name)");
ABSL_FLAG(std::string, output, "-",
          "where JSON-lines events go: - for stdout, or a file (appended); /dev/null: none, nothing is encoded");
ABSL_FLAG(uint32_t, ring_buffer_bytes, 8u << 20, "kernel ring buffer size in bytes (power of two)");
ABSL_FLAG(absl::Duration, batch_interval, absl::Milliseconds(40),
          "longest an event waits in the kernel's ring buffer while events flow (1ms to 1s): the probes wake the "
          "sensor at most this often; longer costs less CPU, shorter delays events and alerts less");
ABSL_FLAG(uint32_t, max_arg_bytes, 8192, "argv bytes captured per exec (at most 32768); longer is flagged truncated");
ABSL_FLAG(uint32_t, max_args, 256, "argv entries kept per exec; more is flagged truncated");
ABSL_FLAG(uint64_t, queue_capacity, 65536, "records buffered between the ring buffer reader and the pipeline");
ABSL_FLAG(uint64_t, process_cache_size, 32768, "processes remembered for lineage");
ABSL_FLAG(absl::Duration, exit_grace, absl::Seconds(30),
          "how long an exited process, and a removed container's cgroup and metadata, stay in the caches");
ABSL_FLAG(uint32_t, max_ancestors, 8, "ancestors listed on exec events");
ABSL_FLAG(uint32_t, ancestor_arg_bytes, 1024,
          "argv bytes kept per ancestor on exec events; longer is flagged truncated");
ABSL_FLAG(absl::Duration, health_interval, absl::Seconds(60), "interval between sensor health events");
ABSL_FLAG(std::string, kernel_btf, "", "BTF file for this kernel (default: /sys/kernel/btf/vmlinux)");
ABSL_FLAG(std::string, hooks, "auto",
          "auto: the best hook each kernel offers; tracepoint: raw tracepoints only (the stable ABI)");
ABSL_FLAG(std::string, collector, "", "vigil-collector address host:port to stream events to; empty: no uplink");
ABSL_FLAG(bool, collector_plaintext, false, "talk to the collector without TLS (only on a trusted network)");
ABSL_FLAG(bool, collector_gzip, false,
          "gzip the batches to the collector: many times fewer bytes on the network, for several times the sensor's "
          "CPU per event (docs/BENCHMARKS.md)");
ABSL_FLAG(std::string, collector_ca, "", "PEM file: the CA that signed the collector's certificate");
ABSL_FLAG(std::string, collector_cert, "", "PEM file: this node's client certificate for mTLS");
ABSL_FLAG(std::string, collector_key, "", "PEM file: the client certificate's private key");
ABSL_FLAG(std::string, collector_exe, "auto",
          "a vigil-collector on this node runs this file: its own calls are not reported, like the sensor's; "
          "auto: vigil-collector beside this sensor's executable; empty: none");
ABSL_FLAG(uint64_t, uplink_queue_bytes, 64u << 20,
          "serialized bytes of events waiting for the spool; more are dropped (counted)");
ABSL_FLAG(std::string, spool_dir, "/var/lib/vigil/spool", "where events wait until the collector has them");
ABSL_FLAG(uint64_t, spool_max_bytes, 256ull << 20, "spool cap; when reached the oldest events go (counted)");
ABSL_FLAG(absl::Duration, collector_max_backoff, absl::Seconds(30), "longest wait between reconnect attempts");
ABSL_FLAG(std::string, cluster, "", "cluster name sent to the collector (default: $CLUSTER_NAME)");
ABSL_FLAG(std::string, cloud, "", "cloud provider sent to the collector: aws, gcp, azure, onprem... ($CLOUD)");
ABSL_FLAG(std::string, api_socket, "/run/vigil/sensor.sock",
          "unix socket of the local API (vigilctl), created mode 0600; empty: off");
ABSL_FLAG(uint64_t, api_queue_capacity, 4096,
          "events buffered per `vigilctl tail`; a slow one loses its own events, counted, never anyone else's");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9476",
          "host:port serving /metrics (Prometheus), /healthz and /readyz; empty: off");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");
ABSL_FLAG(uint32_t, tcp_socket_entries, 16384, "TCP sockets whose owning process the kernel remembers until close");
ABSL_FLAG(uint32_t, net_pending_entries, 4096, "threads inside a network syscall the kernel tracks at once");
ABSL_FLAG(uint32_t, file_pending_entries, 16384,
          "threads inside a reported file syscall the kernel tracks at once, between its entry and its result");
ABSL_FLAG(uint32_t, security_pending_entries, 4096,
          "threads inside a watched security syscall the kernel tracks at once (a quarter of these for mount, "
          "module loads and memfd_create)");
ABSL_FLAG(uint64_t, dns_cache_size, 4096, "DNS answers remembered per (process, address) to name connect events");
ABSL_FLAG(absl::Duration, dns_cache_max_age, absl::Minutes(5), "longest a DNS answer names connect events");
ABSL_FLAG(bool, self_test, false,
          "load every probe, cause the activity each watches, check its events, print one VIGIL-SELFTEST line "
          "per probe and exit (non-zero if an attached probe fails); events still go to --output");
ABSL_FLAG(std::string, self_test_break, "",
          "test only: exec makes the exec probe need a 5.11+ kernel, to prove the kernel matrix catches it");
// Container and pod enrichment.
ABSL_FLAG(bool, container_enrichment, true, "label events with their container, pod and image");
ABSL_FLAG(std::string, cgroup_root, "",
          "where cgroup2 is mounted (default: from /proc/self/mountinfo); the DNS probes attach to its root");
ABSL_FLAG(std::string, containerd_socket, "auto",
          "containerd's socket; auto: /run/containerd/containerd.sock if there; empty: none");
ABSL_FLAG(std::vector<std::string>, containerd_namespaces, std::vector<std::string>({"k8s.io", "default", "moby"}),
          "containerd namespaces to look containers up in, in this order");
ABSL_FLAG(std::string, cri_socket, "auto", "a CRI runtime's socket (CRI-O); auto: /run/crio/crio.sock if there");
ABSL_FLAG(std::string, docker_socket, "auto", "the Docker Engine's socket; auto: /run/docker.sock if there");
ABSL_FLAG(absl::Duration, runtime_timeout, absl::Seconds(2), "deadline of one call to a container runtime");
ABSL_FLAG(absl::Duration, container_wait, absl::Milliseconds(200),
          "how long the events of a new cgroup are parked for its container's metadata, from its first event "
          "(other events go on meanwhile)");
ABSL_FLAG(uint64_t, container_cache_size, 16384, "cgroups remembered with their container");
ABSL_FLAG(uint64_t, container_metadata_cache_size, 8192, "containers remembered with their runtime metadata");
ABSL_FLAG(bool, module_syscall_fallback, false,
          "on kernels without module support (no module tracepoints), still report module-load attempts, "
          "through raw syscall tracepoints that add to every syscall's cost");
ABSL_FLAG(std::vector<std::string>, disable, {},
          "probes not to load, comma-separated: a family (file), a probe (open) or family/probe (file/open)");
ABSL_FLAG(std::vector<std::string>, sensitive_paths, vigil::FileFilterConfig::DefaultSensitivePaths(),
          "path prefixes whose opens are reported even read-only; a relative entry is under every home directory");
ABSL_FLAG(std::vector<std::string>, file_include, {},
          "when set, only file events under these absolute path prefixes (and sensitive paths) are reported");
ABSL_FLAG(std::vector<std::string>, file_exclude, {}, "absolute path prefixes whose file events are never reported");
ABSL_FLAG(bool, file_writes_only, true, "report opens only for write/create/truncate (and of sensitive paths)");
// Detection (Sigma rules, docs/rules.md).
ABSL_FLAG(bool, detection, true, "evaluate the detection rules on every event and emit alerts");
ABSL_FLAG(std::vector<std::string>, rules, std::vector<std::string>({kDefaultRulesDir}),
          "Sigma rule files and directories (every *.yml/*.yaml below), besides the embedded rules; the default "
          "is used only when it exists. Reloaded on SIGHUP and when they change");
ABSL_FLAG(bool, embedded_rules, true, "load the default rules compiled into the sensor");
ABSL_FLAG(std::string, rules_exceptions, "/etc/vigil/exceptions.yml",
          "the user's alert exceptions (YAML), kept apart from the rules; missing: none");
ABSL_FLAG(std::string, rules_lists_dir, "/etc/vigil/lists",
          "value lists for the rules' |expand placeholders: <dir>/<name>.txt replaces the embedded list <name>");
ABSL_FLAG(absl::Duration, alert_aggregation_window, absl::Seconds(60),
          "identical alerts (same rule, same process or container) within this window are sent once, then "
          "once more with their count");

namespace {

std::string FlagOrEnv(const std::string& flag, const char* env) {
  if (!flag.empty()) return flag;
  const char* v = std::getenv(env);
  return v != nullptr ? v : "";
}

std::string DefaultNodeName() {
  if (const char* env = std::getenv("NODE_NAME"); env != nullptr && *env != '\0') return env;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, which leaves absl::Mutex's
  // deadlock detection on: a lock-order graph kept up on every acquisition,
  // ~5 % of the sensor's CPU under load (perf). Off, as in upstream's
  // release builds; the unit tests, which do not run this main, keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage("Vigil eBPF runtime sensor. Streams process events as JSON lines.");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return vigil::VersionString("vigil-sensor") + "\n"; };
  absl::SetFlagsUsageConfig(usage);
  if (std::optional<int> exit_code = vigil::ConfigureFromArgs(argc, argv,
                                                              {.program = "vigil-sensor",
                                                               .description = std::string(absl::ProgramUsageMessage()),
                                                               .default_path = "/etc/vigil/sensor.yaml",
                                                               .env_prefix = "VIGIL_SENSOR_",
                                                               .flags_file = __FILE__})) {
    return *exit_code;
  }

  if (!vigil::SetLogLevel(absl::GetFlag(FLAGS_log_level))) {
    std::cerr << "vigil-sensor: unknown --log-level " << absl::GetFlag(FLAGS_log_level) << "\n";
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
  config.loader.wakeup_interval = absl::GetFlag(FLAGS_batch_interval);
  config.loader.max_arg_bytes = absl::GetFlag(FLAGS_max_arg_bytes);
  config.loader.kernel_btf = absl::GetFlag(FLAGS_kernel_btf);
  config.max_args = absl::GetFlag(FLAGS_max_args);
  config.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
  config.process_cache_size = absl::GetFlag(FLAGS_process_cache_size);
  config.exit_grace = absl::GetFlag(FLAGS_exit_grace);
  config.max_ancestors = absl::GetFlag(FLAGS_max_ancestors);
  config.ancestor_arg_bytes = absl::GetFlag(FLAGS_ancestor_arg_bytes);
  config.health_interval = absl::GetFlag(FLAGS_health_interval);
  config.loader.tcp_socket_entries = absl::GetFlag(FLAGS_tcp_socket_entries);
  config.loader.net_pending_entries = absl::GetFlag(FLAGS_net_pending_entries);
  config.loader.file_pending_entries = absl::GetFlag(FLAGS_file_pending_entries);
  config.loader.security_pending_entries = absl::GetFlag(FLAGS_security_pending_entries);
  config.dns_cache_size = absl::GetFlag(FLAGS_dns_cache_size);
  config.dns_cache_max_age = absl::GetFlag(FLAGS_dns_cache_max_age);
  config.loader.break_probe = absl::GetFlag(FLAGS_self_test_break);
  if (!config.loader.break_probe.empty() && config.loader.break_probe != "exec") {
    std::cerr << "vigil-sensor: --self-test-break must be exec or empty, not " << config.loader.break_probe << "\n";
    return 2;
  }
  config.uplink.target = absl::GetFlag(FLAGS_collector);
  config.uplink.plaintext = absl::GetFlag(FLAGS_collector_plaintext);
  config.uplink.gzip = absl::GetFlag(FLAGS_collector_gzip);
  config.uplink.ca_file = absl::GetFlag(FLAGS_collector_ca);
  config.uplink.cert_file = absl::GetFlag(FLAGS_collector_cert);
  config.uplink.key_file = absl::GetFlag(FLAGS_collector_key);
  config.collector_exe = absl::GetFlag(FLAGS_collector_exe);
  if (config.collector_exe == "auto") {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    config.collector_exe = ec ? "" : (self.parent_path() / "vigil-collector").string();
  }
  config.uplink.queue_max_bytes = absl::GetFlag(FLAGS_uplink_queue_bytes);
  config.uplink.spool.dir = absl::GetFlag(FLAGS_spool_dir);
  config.uplink.spool.max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  config.uplink.spool.segment_bytes = std::min<uint64_t>(8u << 20, config.uplink.spool.max_bytes / 4);
  config.uplink.max_backoff = absl::GetFlag(FLAGS_collector_max_backoff);
  config.uplink.identity.set_cluster(FlagOrEnv(absl::GetFlag(FLAGS_cluster), "CLUSTER_NAME"));
  config.uplink.identity.set_cloud(FlagOrEnv(absl::GetFlag(FLAGS_cloud), "CLOUD"));
  config.api_socket = absl::GetFlag(FLAGS_api_socket);
  config.api_queue_capacity = absl::GetFlag(FLAGS_api_queue_capacity);
  config.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  config.container_enrichment = absl::GetFlag(FLAGS_container_enrichment);
  config.cgroup_root = absl::GetFlag(FLAGS_cgroup_root);
  config.loader.cgroup_root = config.cgroup_root;  // DNS probes attach to its root
  config.containerd_socket = absl::GetFlag(FLAGS_containerd_socket);
  config.containerd_namespaces = absl::GetFlag(FLAGS_containerd_namespaces);
  config.cri_socket = absl::GetFlag(FLAGS_cri_socket);
  config.docker_socket = absl::GetFlag(FLAGS_docker_socket);
  config.runtime_timeout = absl::GetFlag(FLAGS_runtime_timeout);
  config.container_wait = absl::GetFlag(FLAGS_container_wait);
  config.container_cache_size = absl::GetFlag(FLAGS_container_cache_size);
  config.container_metadata_cache_size = absl::GetFlag(FLAGS_container_metadata_cache_size);
  config.loader.module_syscall_fallback = absl::GetFlag(FLAGS_module_syscall_fallback);
  config.loader.disabled = absl::GetFlag(FLAGS_disable);
  config.loader.file.sensitive = absl::GetFlag(FLAGS_sensitive_paths);
  config.loader.file.include = absl::GetFlag(FLAGS_file_include);
  config.loader.file.exclude = absl::GetFlag(FLAGS_file_exclude);
  config.loader.file.writes_only = absl::GetFlag(FLAGS_file_writes_only);
  config.detection = absl::GetFlag(FLAGS_detection);
  for (const std::string& path : absl::GetFlag(FLAGS_rules)) {
    // The default directory is optional; a path the user names must exist.
    if (path == kDefaultRulesDir && access(path.c_str(), F_OK) != 0) continue;
    config.rules.rule_paths.push_back(path);
  }
  config.rules.embedded_rules = absl::GetFlag(FLAGS_embedded_rules);
  config.rules.exceptions_file = absl::GetFlag(FLAGS_rules_exceptions);
  config.rules.lists_dir = absl::GetFlag(FLAGS_rules_lists_dir);
  config.rules.aggregation_window = absl::GetFlag(FLAGS_alert_aggregation_window);
  if (absl::GetFlag(FLAGS_self_test)) {
    config.loader.verifier_stats = true;
    // Its checks make from this process the calls they look for.
    config.loader.quiet_self = false;
    config.collector_exe.clear();
    // A one-shot check serves nothing: it must not take a running sensor's
    // socket or port.
    config.api_socket.clear();
    config.metrics_address.clear();
    // It checks the probes' events; rules would only add alerts on its own
    // deliberately suspicious activity.
    config.detection = false;
    return vigil::selftest::RunSelfTest(config, vigil::selftest::AllChecks(), std::cout);
  }

  // Signals are taken synchronously by the main thread; every thread the
  // sensor starts inherits this mask. SIGHUP reloads the rules.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto sensor = vigil::Sensor::Create(config);
  if (!sensor.ok()) {
    std::cerr << "vigil-sensor: " << sensor.status().message() << "\n";
    return 1;
  }
  absl::Status status = (*sensor)->Run([&](absl::Duration timeout) {
    timespec ts = absl::ToTimespec(timeout);
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig <= 0) return false;
    vigil::Logger("sensor")->info("received {}", strsignal(sig));
    if (sig == SIGHUP) {
      (*sensor)->ReloadRules("SIGHUP");
      return false;
    }
    return true;
  });
  if (!status.ok()) {
    std::cerr << "vigil-sensor: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
