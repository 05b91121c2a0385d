#include "collector/azure/config.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil::collector {
namespace {

absl::Status RequireHttps(const std::string& url, absl::string_view key) {
  if (!absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("azure-logs ", key, " must be an https:// URL, got \"", url, "\""));
  }
  return absl::OkStatus();
}

void FillFromEnv(std::string& field, const char* name) {
  if (!field.empty()) return;
  if (const char* value = std::getenv(name); value != nullptr) field = value;
}

}  // namespace

absl::Status Validate(const AzureLogsConfig& config) {
  if (auto s = RequireHttps(config.endpoint, "endpoint"); !s.ok()) return s;
  if (auto s = RequireHttps(config.authority_host, "authority_host"); !s.ok()) return s;
  if (config.dcr_immutable_id.empty()) return absl::InvalidArgumentError("azure-logs dcr_immutable_id is required");
  if (config.stream.empty()) return absl::InvalidArgumentError("azure-logs stream is required");
  if (config.alerts_stream.empty()) return absl::InvalidArgumentError("azure-logs alerts_stream is required");
  if (config.alerts_stream == config.stream) {
    // The two tables have different columns: one stream cannot feed both.
    return absl::InvalidArgumentError("azure-logs alerts_stream must differ from stream");
  }
  if (config.tenant_id.empty()) return absl::InvalidArgumentError("azure-logs tenant_id is required");
  if (config.client_id.empty()) return absl::InvalidArgumentError("azure-logs client_id is required");
  if (config.client_secret.empty() == config.federated_token_file.empty()) {
    return absl::InvalidArgumentError("azure-logs needs exactly one of client_secret and federated_token_file");
  }
  if (config.dead_letter_dir.empty()) return absl::InvalidArgumentError("azure-logs dead_letter_dir is required");
  if (config.max_call_bytes < 1024) return absl::InvalidArgumentError("azure-logs max_call_bytes must be >= 1024");
  if (config.request_timeout <= absl::ZeroDuration() || config.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("azure-logs timeouts must be positive");
  }
  if (config.initial_backoff <= absl::ZeroDuration() || config.max_backoff < config.initial_backoff) {
    return absl::InvalidArgumentError("azure-logs backoff must be positive, max_backoff >= initial_backoff");
  }
  if (config.retry_budget <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("azure-logs retry_budget must be positive");
  }
  return absl::OkStatus();
}

void ApplyWorkloadIdentityEnvironment(AzureLogsConfig& config) {
  FillFromEnv(config.tenant_id, "AZURE_TENANT_ID");
  FillFromEnv(config.client_id, "AZURE_CLIENT_ID");
  if (config.client_secret.empty()) FillFromEnv(config.federated_token_file, "AZURE_FEDERATED_TOKEN_FILE");
  // Only in place of the public cloud's default: a host set explicitly wins.
  if (const char* host = std::getenv("AZURE_AUTHORITY_HOST");
      host != nullptr && *host != '\0' && config.authority_host == AzureLogsConfig().authority_host) {
    config.authority_host = host;
  }
  // The webhook's host ends in '/'; the token path is appended with one.
  while (absl::EndsWith(config.authority_host, "/")) config.authority_host.pop_back();
}

}  // namespace vigil::collector
