#include "collector/azure/token_source.h"

#include <curl/curl.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace vigil::collector {
namespace {

std::string FormEscape(absl::string_view value) {
  std::unique_ptr<char, decltype(&curl_free)> escaped(curl_easy_escape(nullptr, value.data(), value.size()),
                                                      &curl_free);
  return escaped ? std::string(escaped.get()) : std::string();
}

}  // namespace

absl::StatusOr<std::string> TokenSource::RequestBody() const {
  std::string body = absl::StrCat("grant_type=client_credentials&client_id=", FormEscape(config_.client_id),
                                  "&scope=", FormEscape(config_.scope));
  if (!config_.client_secret.empty()) {
    absl::StrAppend(&body, "&client_secret=", FormEscape(config_.client_secret));
    return body;
  }
  // Read for every request: the kubelet rewrites the projected token before
  // it expires (hourly by default on AKS), and an old one is refused.
  std::ifstream in(config_.federated_token_file);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", config_.federated_token_file));
  std::stringstream contents;
  contents << in.rdbuf();
  std::string assertion(absl::StripAsciiWhitespace(contents.str()));
  if (assertion.empty()) return absl::FailedPreconditionError(absl::StrCat(config_.federated_token_file, " is empty"));
  absl::StrAppend(&body,
                  "&client_assertion_type=", FormEscape("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                  "&client_assertion=", FormEscape(assertion));
  return body;
}

absl::StatusOr<AccessToken> ParseTokenResponse(absl::string_view body, absl::string_view url) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("access_token") || !json["access_token"].is_string()) {
    return absl::UnauthenticatedError(absl::StrCat("token response from ", url, " has no access_token"));
  }
  // expires_in is a number in the v2.0 endpoint's answer, a string in some
  // older and sovereign-cloud ones.
  int64_t expires_in = 0;
  const auto& e = json.contains("expires_in") ? json["expires_in"] : nlohmann::json();
  if (e.is_number_integer()) {
    expires_in = e.get<int64_t>();
  } else if (e.is_string()) {
    (void)absl::SimpleAtoi(e.get<std::string>(), &expires_in);
  }
  const std::string& token = json["access_token"].get_ref<const std::string&>();
  // RFC 6750's b64token: the token goes into an Authorization header as is,
  // so anything else (a CR LF above all) would let the endpoint add headers
  // to our calls to the ingestion API.
  const bool b64token = !token.empty() && absl::c_all_of(token, [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           absl::string_view("-._~+/=").find(c) != absl::string_view::npos;
  });
  if (!b64token) {
    return absl::UnauthenticatedError(
        absl::StrCat("token response from ", url, " has an access_token that is not a bearer token"));
  }
  if (expires_in <= 0)
    return absl::UnauthenticatedError(absl::StrCat("token response from ", url, " has no expires_in"));
  return AccessToken{.token = token, .lifetime = std::min(absl::Seconds(expires_in), kMaxTokenLifetime)};
}

absl::StatusOr<std::string> TokenSource::Get() {
  absl::Time now = absl::Now();
  if (!token_.empty() && now < refresh_at_) return token_;
  auto body = RequestBody();
  if (!body.ok()) return body.status();
  std::string url = absl::StrCat(config_.authority_host, "/", config_.tenant_id, "/oauth2/v2.0/token");
  auto response = http_.Post(url, {"Content-Type: application/x-www-form-urlencoded"}, *body);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    // Entra's error body names the problem (AADSTS code) and has no secrets.
    std::string what =
        absl::StrCat("token request to ", url, " answered ", response->status, ": ", PrintableBody(response->body));
    if (response->status == 429 || response->status >= 500) return absl::UnavailableError(what);
    return absl::UnauthenticatedError(what);
  }
  auto parsed = ParseTokenResponse(response->body, url);
  if (!parsed.ok()) return parsed.status();
  token_ = std::move(parsed->token);
  const absl::Duration lifetime = parsed->lifetime;
  refresh_at_ = now + lifetime - std::min(config_.token_refresh_margin, lifetime / 2);
  Logger("azure")->debug("new access token, valid {}", absl::FormatDuration(lifetime));
  return token_;
}

}  // namespace vigil::collector
