#include "azure_emulator.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil::testing {
namespace {

constexpr char kJwtBearer[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
constexpr char kMonitorScope[] = "https://monitor.azure.com//.default";

// Entra's error shape: {"error": ..., "error_description": "AADSTS...: ..."}.
void EntraError(httplib::Response& res, int status, const std::string& error, const std::string& description) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", error}, {"error_description", description}}.dump(), "application/json");
}

// The Logs Ingestion API's error shape: {"error": {"code": ..., "message": ...}}.
void IngestError(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(), "application/json");
}

}  // namespace

AzureEmulator::AzureEmulator(const AzureEmulatorOptions& options)
    : options_(options), server_(options.cert_file.c_str(), options.key_file.c_str()) {}

absl::StatusOr<std::unique_ptr<AzureEmulator>> AzureEmulator::Start(const AzureEmulatorOptions& options) {
  std::unique_ptr<AzureEmulator> e(new AzureEmulator(options));
  if (!e->server_.is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("emulator TLS setup failed for ", options.cert_file));
  }
  e->server_.Post(R"(/([^/]+)/oauth2/v2\.0/token)",
                  [raw = e.get()](const httplib::Request& req, httplib::Response& res) { raw->HandleToken(req, res); });
  e->server_.Post(
      R"(/dataCollectionRules/([^/]+)/streams/([^/]+))",
      [raw = e.get()](const httplib::Request& req, httplib::Response& res) { raw->HandleIngest(req, res); });
  e->server_.Post("/vigil-emulator/control", [raw = e.get()](const httplib::Request& req, httplib::Response& res) {
    raw->HandleControl(req, res);
  });
  // ?stream=Custom-...: only that stream's rows.
  e->server_.Get("/vigil-emulator/rows", [raw = e.get()](const httplib::Request& req, httplib::Response& res) {
    auto rows = req.has_param("stream") ? raw->Rows(req.get_param_value("stream")) : raw->Rows();
    res.set_content(nlohmann::json(rows).dump(), "application/json");
  });
  if (!options.rows_file.empty()) {
    e->rows_file_ = std::fopen(options.rows_file.c_str(), "ae");
    if (e->rows_file_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("cannot open ", options.rows_file));
  }
  e->port_ = e->server_.bind_to_any_port("127.0.0.1");
  if (e->port_ <= 0) return absl::UnavailableError("emulator cannot bind 127.0.0.1");
  e->thread_ = std::thread([raw = e.get()] { raw->server_.listen_after_bind(); });
  return e;
}

AzureEmulator::~AzureEmulator() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
  if (rows_file_ != nullptr) std::fclose(rows_file_);
}

std::string AzureEmulator::url() const { return absl::StrCat("https://127.0.0.1:", port_); }

void AzureEmulator::FailNext(int count, int status, int retry_after_seconds, std::string body) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < count; ++i) faults_.push_back({Fault::kStatus, status, retry_after_seconds, body, {}});
}

void AzureEmulator::DropNext(int count) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < count; ++i) faults_.push_back({Fault::kDrop, 0, -1, "", {}});
}

void AzureEmulator::SlowNext(int count, absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < count; ++i) faults_.push_back({Fault::kSlow, 0, -1, "", delay});
}

void AzureEmulator::ClearFaults() {
  absl::MutexLock lock(&mu_);
  faults_.clear();
}

void AzureEmulator::SetMaxRowsPerCall(size_t rows) {
  absl::MutexLock lock(&mu_);
  max_rows_per_call_ = rows;
}

void AzureEmulator::SetClientAssertion(std::string assertion) {
  absl::MutexLock lock(&mu_);
  options_.client_assertion = std::move(assertion);
}

void AzureEmulator::RevokeTokens() {
  absl::MutexLock lock(&mu_);
  tokens_.clear();
}

std::vector<nlohmann::json> AzureEmulator::Rows() const {
  absl::MutexLock lock(&mu_);
  return rows_;
}

std::vector<nlohmann::json> AzureEmulator::Rows(const std::string& stream) const {
  absl::MutexLock lock(&mu_);
  std::vector<nlohmann::json> rows;
  for (size_t i = 0; i < rows_.size(); ++i) {
    if (row_streams_[i] == stream) rows.push_back(rows_[i]);
  }
  return rows;
}

std::vector<IngestCall> AzureEmulator::Calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int AzureEmulator::token_requests() const {
  absl::MutexLock lock(&mu_);
  return token_forms_.size();
}

std::vector<httplib::Params> AzureEmulator::TokenForms() const {
  absl::MutexLock lock(&mu_);
  return token_forms_;
}

// POST /{tenant}/oauth2/v2.0/token, the client-credentials grant as
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow describes it.
void AzureEmulator::HandleToken(const httplib::Request& req, httplib::Response& res) {
  absl::MutexLock lock(&mu_);
  token_forms_.push_back(req.params);
  auto param = [&](const char* key) { return req.has_param(key) ? req.get_param_value(key) : std::string(); };
  if (!absl::StartsWith(req.get_header_value("Content-Type"), "application/x-www-form-urlencoded")) {
    return EntraError(res, 400, "invalid_request", "AADSTS900144: form body required");
  }
  if (req.matches[1] != options_.tenant_id) {
    return EntraError(res, 400, "invalid_request", "AADSTS90002: Tenant not found");
  }
  if (param("grant_type") != "client_credentials") {
    return EntraError(res, 400, "unsupported_grant_type", "AADSTS70003: grant_type must be client_credentials");
  }
  if (param("client_id") != options_.client_id) {
    return EntraError(res, 400, "unauthorized_client", "AADSTS700016: Application not found in the directory");
  }
  if (param("scope") != kMonitorScope) {
    return EntraError(res, 400, "invalid_scope", "AADSTS70011: The provided value for scope is not valid");
  }
  if (req.has_param("client_secret")) {
    if (options_.client_secret.empty() || param("client_secret") != options_.client_secret) {
      return EntraError(res, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided");
    }
  } else if (param("client_assertion_type") == kJwtBearer) {
    if (options_.client_assertion.empty() || param("client_assertion") != options_.client_assertion) {
      return EntraError(res, 400, "invalid_client",
                        "AADSTS700024: Client assertion is not within its valid time range");
    }
  } else {
    return EntraError(res, 400, "invalid_client", "AADSTS7000218: client_assertion or client_secret required");
  }
  std::string token = absl::StrCat("emulator-token-", ++next_token_, "-", absl::ToUnixNanos(absl::Now()));
  tokens_[token] = absl::Now() + absl::Seconds(options_.token_lifetime_seconds);
  res.set_content(nlohmann::json{{"token_type", "Bearer"},
                                 {"expires_in", options_.token_lifetime_seconds},
                                 {"ext_expires_in", options_.token_lifetime_seconds},
                                 {"access_token", token}}
                      .dump(),
                  "application/json");
}

int AzureEmulator::Check(const httplib::Request& req, IngestCall& call, std::vector<nlohmann::json>& rows,
                         std::string& error) {
  if (req.matches[1] != options_.dcr_immutable_id) return error = "DCR not found", 404;
  call.stream = req.matches[2];
  auto stream = options_.streams.find(call.stream);
  if (stream == options_.streams.end()) return error = "stream not declared in the DCR", 400;
  if (req.get_param_value("api-version") != "2023-01-01") return error = "unsupported api-version", 400;
  std::string auth = req.get_header_value("Authorization");
  if (!absl::StartsWith(auth, "Bearer ")) return error = "bearer token required", 401;
  call.token = auth.substr(7);
  auto it = tokens_.find(call.token);
  if (it == tokens_.end() || it->second <= absl::Now()) return error = "token unknown or expired", 401;
  if (!absl::StartsWith(req.get_header_value("Content-Type"), "application/json")) {
    return error = "Content-Type must be application/json", 415;
  }
  if (req.get_header_value("Content-Encoding") != "gzip") return error = "Content-Encoding: gzip expected", 400;
  // httplib has already gunzipped the body; Content-Length is what was sent.
  (void)absl::SimpleAtoi(req.get_header_value("Content-Length"), &call.wire_bytes);
  call.json_bytes = req.body.size();
  if (call.wire_bytes > options_.max_call_bytes || call.json_bytes > options_.max_call_bytes) {
    return error = "request over 1 MB", 413;
  }
  auto body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_array()) return error = "body must be a JSON array", 400;
  for (const auto& row : body) {
    absl::Time t;
    std::string parse_error;
    if (!row.is_object() || !row.contains("TimeGenerated") || !row["TimeGenerated"].is_string() ||
        !absl::ParseTime(absl::RFC3339_full, row["TimeGenerated"].get<std::string>(), &t, &parse_error)) {
      return error = "every row must be an object with an ISO 8601 TimeGenerated", 400;
    }
    if (stream->second.empty()) continue;
    if (std::string why = CheckRow(stream->second, row); !why.empty()) return error = why, 400;
  }
  call.rows = body.size();
  if (max_rows_per_call_ != 0 && body.size() > max_rows_per_call_) return error = "request too large", 413;
  rows = body.get<std::vector<nlohmann::json>>();
  return 0;
}

void AzureEmulator::HandleIngest(const httplib::Request& req, httplib::Response& res) {
  std::optional<Fault> fault;
  {
    absl::MutexLock lock(&mu_);
    if (!faults_.empty()) {
      fault = faults_.front();
      faults_.pop_front();
    }
  }
  if (fault && fault->kind == Fault::kSlow) absl::SleepFor(fault->delay);
  absl::MutexLock lock(&mu_);
  IngestCall call;
  call.at = absl::Now();
  if (fault && fault->kind == Fault::kDrop) {
    call.status = -1;
    calls_.push_back(call);
    // Headers go out, then the connection closes before the body.
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink&) { return false; });
    return;
  }
  if (fault && fault->kind == Fault::kStatus) {
    call.status = fault->status;
    calls_.push_back(call);
    if (fault->retry_after >= 0) res.set_header("Retry-After", std::to_string(fault->retry_after));
    return IngestError(res, fault->status, "Injected", fault->body.empty() ? "injected fault" : fault->body);
  }
  std::vector<nlohmann::json> rows;
  std::string error;
  call.status = Check(req, call, rows, error);
  if (call.status != 0) {
    calls_.push_back(call);
    return IngestError(res, call.status, "InvalidRequest", error);
  }
  call.status = 204;
  calls_.push_back(call);
  for (auto& row : rows) {
    if (rows_file_ != nullptr) std::fprintf(rows_file_, "%s\n", row.dump().c_str());
    if (!options_.keep_rows) continue;
    rows_.push_back(std::move(row));
    row_streams_.push_back(call.stream);
  }
  if (rows_file_ != nullptr) std::fflush(rows_file_);
  res.status = 204;
}

// For emulators run as a process: the same faults as the methods, as JSON,
// e.g. {"fail": {"count": 3, "status": 429, "retry_after": 2}}.
void AzureEmulator::HandleControl(const httplib::Request& req, httplib::Response& res) {
  auto c = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!c.is_object()) {
    res.status = 400;
    return;
  }
  if (c.contains("fail")) {
    const auto& f = c["fail"];
    FailNext(f.value("count", 1), f.value("status", 500), f.value("retry_after", -1), f.value("body", ""));
  }
  if (c.contains("drop")) DropNext(c["drop"].get<int>());
  if (c.contains("slow")) SlowNext(c["slow"].value("count", 1), absl::Milliseconds(c["slow"].value("ms", 1000)));
  if (c.contains("max_rows_per_call")) SetMaxRowsPerCall(c["max_rows_per_call"].get<size_t>());
  res.status = 204;
}

}  // namespace vigil::testing
