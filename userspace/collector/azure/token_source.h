#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/azure/config.h"
#include "collector/azure/http_client.h"

namespace vigil::collector {

// What a token endpoint's 200 answer says: the token and how long it is
// valid. The lifetime is capped at a day (Entra's are 1-24 h): an endpoint
// that claims longer (years, INT64_MAX) would otherwise have its token used
// until the API refuses it. Errors are Unauthenticated and name `url`.
struct AccessToken {
  std::string token;
  absl::Duration lifetime;
};
inline constexpr absl::Duration kMaxTokenLifetime = absl::Hours(24);
absl::StatusOr<AccessToken> ParseTokenResponse(absl::string_view body, absl::string_view url);

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
