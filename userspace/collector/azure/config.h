#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace vigil::collector {

// Settings of the azure-logs forwarder (Azure Monitor Logs Ingestion API),
// filled by vigil-collector's main.cc from flags, config file and the
// workload-identity environment, and validated once.
struct AzureLogsConfig {
  // Data collection endpoint, or the DCR's own logs ingestion endpoint:
  // https://<name>.<region>.ingest.monitor.azure.com
  std::string endpoint;
  std::string dcr_immutable_id;                         // dcr-0123...; the DCR's immutableId, not its name
  std::string stream = "Custom-VigilEvents_CL";         // every event kind but alerts
  std::string alerts_stream = "Custom-VigilAlerts_CL";  // alerts (see StreamOf in rows.h)
  // The Cluster column of every row: events name their node, not their
  // cluster, and one collector serves one cluster.
  std::string cluster;

  // Microsoft Entra application (service principal or managed identity).
  std::string tenant_id;
  std::string client_id;
  // Exactly one of these: a client secret, or a federated token file
  // (workload identity as AKS, EKS and GKE project it; read again for every
  // token request, because the kubelet rotates it).
  std::string client_secret;
  std::string federated_token_file;
  std::string authority_host = "https://login.microsoftonline.com";
  std::string scope = "https://monitor.azure.com//.default";

  // Empty: the system's trust store. Otherwise a PEM bundle that replaces it.
  std::string ca_bundle;
  // Empty: libcurl's environment (HTTPS_PROXY, NO_PROXY). Otherwise
  // http://host:port of an HTTPS (CONNECT) proxy, used for every host.
  std::string proxy;

  // Where batches Azure refuses for good (400, 403, ...) are parked as
  // replayable files, never dropped.
  std::string dead_letter_dir;
  uint64_t dead_letter_max_bytes = 1ull << 30;  // past it, refused batches stay in the spool

  // The documented limit of one call is 1 MB; rows are packed so the JSON
  // body (before gzip, so the compressed body is smaller still) stays under it.
  size_t max_call_bytes = 1000 * 1000;
  absl::Duration request_timeout = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(60);
  // The longest a 429's Retry-After is obeyed.
  absl::Duration max_retry_after = absl::Minutes(5);
  // How long one Send keeps retrying before it hands the batch back to the
  // collector (which retries it later from its spool). Short, so a collector
  // shutting down is not held up: giving up costs nothing, delivered rows and
  // a pending Retry-After are remembered for the next Send.
  absl::Duration retry_budget = absl::Seconds(20);
  // A token is renewed this long before it expires (at most half its life).
  absl::Duration token_refresh_margin = absl::Minutes(5);
};

// InvalidArgument naming the first bad setting.
absl::Status Validate(const AzureLogsConfig& config);

// Fills the settings a workload-identity webhook projects into the pod
// (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE,
// AZURE_AUTHORITY_HOST) where `config` leaves them empty (or, for the
// authority host, at its default). The token file only without a client
// secret. For main.cc.
void ApplyWorkloadIdentityEnvironment(AzureLogsConfig& config);

}  // namespace vigil::collector
