#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/azure/config.h"
#include "collector/azure/http_client.h"

namespace vigil::collector {

// A Microsoft Entra access token for the Logs Ingestion API, from the OAuth
// 2.0 client-credentials flow with a secret or with a federated assertion
// (workload identity), cached until shortly before it expires. Not
// thread-safe; the forwarder serializes.
class TokenSource {
 public:
  TokenSource(const AzureLogsConfig& config, HttpClient& http) : config_(config), http_(http) {}

  // The cached token, or a new one when it is missing or about to expire.
  absl::StatusOr<std::string> Get();
  // Forgets the cached token (after the API answered 401 to it).
  void Invalidate() { token_.clear(); }

 private:
  absl::StatusOr<std::string> RequestBody() const;

  const AzureLogsConfig& config_;
  HttpClient& http_;
  std::string token_;
  absl::Time refresh_at_ = absl::InfinitePast();
};

}  // namespace vigil::collector
