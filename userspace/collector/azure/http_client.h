#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil::collector {

struct HttpResponse {
  long status = 0;
  std::string body;  // the first 64 KiB
  std::optional<absl::Duration> retry_after;
};

struct HttpOptions {
  std::string ca_bundle;  // empty: the system trust store
  std::string proxy;      // empty: libcurl's HTTPS_PROXY/NO_PROXY environment
  absl::Duration timeout = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(10);
};

// What one header line of a response says, into `response`: Retry-After in
// seconds (the form the Logs Ingestion API sends with 429); a status line
// starts a new set of headers. Any bytes: the server or a proxy chose them.
void ParseHeaderLine(absl::string_view line, HttpResponse& response);

// A response body for a log line or an error message: at most `max_bytes` of
// it, control characters escaped (EscapeControls), so an endpoint or a proxy
// can neither flood the log nor forge a line in it.
std::string PrintableBody(absl::string_view body, size_t max_bytes = 1024);

// HTTPS POSTs through one libcurl handle, so connections (and their TLS
// sessions) are reused between calls. Not thread-safe.
class HttpClient {
 public:
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(const HttpOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; a failure to get one (DNS, connect, TLS,
  // timeout, dropped connection) is Unavailable, or DeadlineExceeded for a
  // timeout, with libcurl's reason.
  absl::StatusOr<HttpResponse> Post(const std::string& url, const std::vector<std::string>& headers,
                                    absl::string_view body);

 private:
  explicit HttpClient(CURL* curl) : curl_(curl) {}
  CURL* curl_;
};

}  // namespace vigil::collector
