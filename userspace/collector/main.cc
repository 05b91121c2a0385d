// vigil-collector: receives every sensor's event stream over gRPC, keeps it
// durably, forwards it.
#include <signal.h>

#include <iostream>
#include <optional>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "collector/azure/azure_logs_forwarder.h"
#include "collector/collector.h"
#include "collector/json_lines_forwarder.h"
#include "common/config_file.h"
#include "common/file.h"
#include "common/log.h"
#include "common/version.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7443", "gRPC address sensors stream to (port 0: any free port)");
ABSL_FLAG(bool, plaintext, false, "accept sensors without TLS (only on a trusted network, e.g. loopback)");
ABSL_FLAG(std::string, ca, "", "PEM file: the CA whose client certificates are accepted (mTLS)");
ABSL_FLAG(std::string, cert, "", "PEM file: the collector's certificate");
ABSL_FLAG(std::string, key, "", "PEM file: the collector's private key");
ABSL_FLAG(std::string, spool_dir, "/var/lib/vigil/collector", "durable spool and forwarder cursors");
ABSL_FLAG(uint64_t, spool_max_bytes, 4ull << 30, "spool cap; when reached the oldest batches go (counted)");
ABSL_FLAG(uint64_t, max_batch_bytes, 8u << 20, "largest batch a sensor may send (gRPC max receive size)");
ABSL_FLAG(uint64_t, max_events_per_batch, 10000, "most events in one batch");
ABSL_FLAG(int, max_streams_per_node, 4, "Publish streams one node may hold open at once");
ABSL_FLAG(uint64_t, memory_quota_bytes, 1ull << 30, "gRPC server memory quota (buffers of every connection)");
ABSL_FLAG(std::string, forwarders, "file", "comma-separated: file (JSON lines), stdout, azure-logs");
ABSL_FLAG(std::string, file_path, "/var/lib/vigil/collector/events.jsonl", "the file forwarder's output");
ABSL_FLAG(uint64_t, file_max_bytes, 100u << 20, "the file forwarder rotates its output at this size");
ABSL_FLAG(uint32_t, file_max_files, 5, "the file forwarder keeps this many files (current and rotated)");
ABSL_FLAG(std::string, port_file, "", "once listening, write the port number to this file");
// ---- azure-logs forwarder and metrics (int5); keys as in deploy/azure/README.md ----
ABSL_FLAG(std::string, azure_endpoint, "",
          "azure-logs: DCE logs ingestion URL, https://<dce>.<region>.ingest.monitor.azure.com");
ABSL_FLAG(std::string, azure_dcr_immutable_id, "", "azure-logs: the DCR's immutableId (dcr-...)");
ABSL_FLAG(std::string, azure_stream, "Custom-VigilEvents_CL", "azure-logs: stream declared in the DCR");
ABSL_FLAG(std::string, azure_alerts_stream, "Custom-VigilAlerts_CL", "azure-logs: DCR stream for alerts");
ABSL_FLAG(std::string, azure_cluster, "", "azure-logs: cluster name for the Cluster column");
ABSL_FLAG(std::string, azure_tenant_id, "", "azure-logs: Entra tenant (default $AZURE_TENANT_ID)");
ABSL_FLAG(std::string, azure_client_id, "", "azure-logs: application (client) id (default $AZURE_CLIENT_ID)");
ABSL_FLAG(std::string, azure_client_secret_file, "", "azure-logs: file holding the client secret");
ABSL_FLAG(std::string, azure_federated_token_file, "",
          "azure-logs: workload-identity token file (default $AZURE_FEDERATED_TOKEN_FILE)");
ABSL_FLAG(std::string, azure_authority_host, "https://login.microsoftonline.com",
          "azure-logs: Entra host (default $AZURE_AUTHORITY_HOST)");
ABSL_FLAG(std::string, azure_scope, "https://monitor.azure.com//.default", "azure-logs: token scope");
ABSL_FLAG(std::string, azure_ca_bundle, "", "azure-logs: PEM bundle replacing the system's trusted CAs");
ABSL_FLAG(std::string, azure_proxy, "", "azure-logs: http://host:port CONNECT proxy (default $HTTPS_PROXY)");
ABSL_FLAG(std::string, azure_dead_letter_dir, "/var/lib/vigil/collector/dead-letter",
          "azure-logs: where refused batches are parked");
ABSL_FLAG(uint64_t, azure_max_call_bytes, 1000 * 1000, "azure-logs: JSON bytes per call (the API's limit is 1 MB)");
ABSL_FLAG(absl::Duration, azure_request_timeout, absl::Seconds(30), "azure-logs: per call");
ABSL_FLAG(absl::Duration, azure_connect_timeout, absl::Seconds(10), "azure-logs: per connection");
ABSL_FLAG(absl::Duration, azure_initial_backoff, absl::Seconds(1), "azure-logs: first retry wait (408, 5xx, errors)");
ABSL_FLAG(uint64_t, azure_dead_letter_max_bytes, 1ull << 30,
          "azure-logs: cap of the dead-letter directory; past it refused batches wait in the spool");
ABSL_FLAG(absl::Duration, azure_max_retry_after, absl::Minutes(5), "azure-logs: longest Retry-After obeyed");
ABSL_FLAG(absl::Duration, azure_max_backoff, absl::Seconds(60), "azure-logs: longest retry wait");
ABSL_FLAG(absl::Duration, azure_retry_budget, absl::Seconds(20),
          "azure-logs: how long one batch is retried before it goes back to the spool");
ABSL_FLAG(absl::Duration, azure_token_refresh_margin, absl::Minutes(5),
          "azure-logs: renew a token this long before expiry");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9477",
          "host:port serving /metrics, /healthz and /readyz; empty: off");
// ---- end of azure-logs forwarder and metrics ----
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");

namespace {

// The azure-logs settings from the --azure_* flags and the workload-identity
// environment, validated.
absl::StatusOr<vigil::collector::AzureLogsConfig> AzureLogsConfigFromFlags() {
  vigil::collector::AzureLogsConfig c;
  c.endpoint = absl::GetFlag(FLAGS_azure_endpoint);
  c.dcr_immutable_id = absl::GetFlag(FLAGS_azure_dcr_immutable_id);
  c.stream = absl::GetFlag(FLAGS_azure_stream);
  c.alerts_stream = absl::GetFlag(FLAGS_azure_alerts_stream);
  c.cluster = absl::GetFlag(FLAGS_azure_cluster);
  c.tenant_id = absl::GetFlag(FLAGS_azure_tenant_id);
  c.client_id = absl::GetFlag(FLAGS_azure_client_id);
  // A file, so the secret is not in the process's command line.
  if (const std::string path = absl::GetFlag(FLAGS_azure_client_secret_file); !path.empty()) {
    auto secret = vigil::ReadFile(path);
    if (!secret.ok()) return secret.status();
    c.client_secret = std::string(absl::StripTrailingAsciiWhitespace(*secret));
  }
  c.federated_token_file = absl::GetFlag(FLAGS_azure_federated_token_file);
  c.authority_host = absl::GetFlag(FLAGS_azure_authority_host);
  c.scope = absl::GetFlag(FLAGS_azure_scope);
  c.ca_bundle = absl::GetFlag(FLAGS_azure_ca_bundle);
  c.proxy = absl::GetFlag(FLAGS_azure_proxy);
  c.dead_letter_dir = absl::GetFlag(FLAGS_azure_dead_letter_dir);
  c.dead_letter_max_bytes = absl::GetFlag(FLAGS_azure_dead_letter_max_bytes);
  c.max_call_bytes = absl::GetFlag(FLAGS_azure_max_call_bytes);
  c.request_timeout = absl::GetFlag(FLAGS_azure_request_timeout);
  c.connect_timeout = absl::GetFlag(FLAGS_azure_connect_timeout);
  c.initial_backoff = absl::GetFlag(FLAGS_azure_initial_backoff);
  c.max_backoff = absl::GetFlag(FLAGS_azure_max_backoff);
  c.max_retry_after = absl::GetFlag(FLAGS_azure_max_retry_after);
  c.retry_budget = absl::GetFlag(FLAGS_azure_retry_budget);
  c.token_refresh_margin = absl::GetFlag(FLAGS_azure_token_refresh_margin);
  vigil::collector::ApplyWorkloadIdentityEnvironment(c);
  if (absl::Status s = vigil::collector::Validate(c); !s.ok()) return s;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, which leaves absl::Mutex's
  // deadlock detection on: a lock-order graph kept up on every acquisition,
  // ~5 % of the sensor's CPU under load (perf). Off, as in upstream's
  // release builds; the unit tests, which do not run this main, keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage("Vigil collector: receives sensor streams, spools them durably, forwards them.");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return vigil::VersionString("vigil-collector") + "\n"; };
  absl::SetFlagsUsageConfig(usage);
  if (std::optional<int> exit_code = vigil::ConfigureFromArgs(argc, argv,
                                                              {.program = "vigil-collector",
                                                               .description = std::string(absl::ProgramUsageMessage()),
                                                               .default_path = "/etc/vigil/collector.yaml",
                                                               .env_prefix = "VIGIL_COLLECTOR_",
                                                               .flags_file = __FILE__})) {
    return *exit_code;
  }
  if (!vigil::SetLogLevel(absl::GetFlag(FLAGS_log_level))) {
    std::cerr << "vigil-collector: unknown --log-level " << absl::GetFlag(FLAGS_log_level) << "\n";
    return 2;
  }
  vigil::collector::CollectorConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.plaintext = absl::GetFlag(FLAGS_plaintext);
  config.ca_file = absl::GetFlag(FLAGS_ca);
  config.cert_file = absl::GetFlag(FLAGS_cert);
  config.key_file = absl::GetFlag(FLAGS_key);
  config.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  config.spool_max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  config.max_batch_bytes = absl::GetFlag(FLAGS_max_batch_bytes);
  config.limits.max_events = absl::GetFlag(FLAGS_max_events_per_batch);
  config.max_streams_per_node = absl::GetFlag(FLAGS_max_streams_per_node);
  config.memory_quota_bytes = absl::GetFlag(FLAGS_memory_quota_bytes);
  if (absl::Status s = vigil::collector::Validate(config); !s.ok()) {
    std::cerr << "vigil-collector: " << s.message() << "\n";
    return 2;
  }

  vigil::metrics::Registry metrics("vigil_collector_");
  std::vector<std::unique_ptr<vigil::collector::Forwarder>> forwarders;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_forwarders), ',', absl::SkipEmpty())) {
    if (name == "azure-logs") {
      auto azure = AzureLogsConfigFromFlags();
      auto f = azure.ok() ? vigil::collector::MakeAzureLogsForwarder(*azure, &metrics) : azure.status();
      if (!f.ok()) {
        std::cerr << "vigil-collector: azure-logs: " << f.status().message() << "\n";
        return 2;
      }
      forwarders.push_back(*std::move(f));
      continue;
    }
    absl::StatusOr<std::unique_ptr<vigil::collector::JsonLinesForwarder>> f;
    if (name == "file") {
      f = vigil::collector::JsonLinesForwarder::Open("file", absl::GetFlag(FLAGS_file_path),
                                                     absl::GetFlag(FLAGS_file_max_bytes),
                                                     absl::GetFlag(FLAGS_file_max_files));
    } else if (name == "stdout") {
      f = vigil::collector::JsonLinesForwarder::Open("stdout", "-", 0, 1);
    } else {
      std::cerr << "vigil-collector: unknown forwarder " << name << " (file, stdout, azure-logs)\n";
      return 2;
    }
    if (!f.ok()) {
      std::cerr << "vigil-collector: " << f.status().message() << "\n";
      return 1;
    }
    forwarders.push_back(*std::move(f));
  }

  // Signals are taken synchronously by the main thread; every thread the
  // collector starts inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto collector = vigil::collector::Collector::Start(config, std::move(forwarders), &metrics);
  if (!collector.ok()) {
    std::cerr << "vigil-collector: " << collector.status().message() << "\n";
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    if (absl::Status s = vigil::WriteFileAtomically(port_file, absl::StrCat((*collector)->port(), "\n"), false);
        !s.ok()) {
      std::cerr << "vigil-collector: " << s.message() << "\n";
      return 1;
    }
  }
  std::unique_ptr<vigil::metrics::HttpServer> http;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_address); !address.empty()) {
    vigil::collector::Collector* c = collector->get();
    auto server =
        vigil::metrics::HttpServer::Start(address, &metrics, {.healthy = nullptr, .ready = [c] { return c->ready(); }});
    if (!server.ok()) {
      std::cerr << "vigil-collector: metrics on " << address << ": " << server.status().message() << "\n";
      return 1;
    }
    http = *std::move(server);
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  vigil::Logger("collector")->info("received {}: stopping", strsignal(sig));
  (*collector)->Shutdown();
  http.reset();
  return 0;
}
