#include "collector/azure/http_client.h"

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/utf8.h"

namespace vigil::collector {
namespace {

constexpr size_t kMaxResponseBody = 64 * 1024;

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t len = size * n;
  if (response->body.size() < kMaxResponseBody) {
    response->body.append(data, std::min(len, kMaxResponseBody - response->body.size()));
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  size_t len = size * n;
  ParseHeaderLine(absl::string_view(data, len), *static_cast<HttpResponse*>(user));
  return len;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

void ParseHeaderLine(absl::string_view line, HttpResponse& response) {
  // A new status line (after a proxy's CONNECT reply or a 100 Continue)
  // starts a new set of headers.
  if (absl::StartsWith(line, "HTTP/")) response.retry_after.reset();
  if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(12));
    int64_t seconds;
    if (absl::SimpleAtoi(value, &seconds) && seconds >= 0) response.retry_after = absl::Seconds(seconds);
  }
}

std::string PrintableBody(absl::string_view body, size_t max_bytes) {
  if (body.size() <= max_bytes) return EscapeControls(body);
  return absl::StrCat(EscapeControls(body.substr(0, max_bytes)), "... (", body.size(), " bytes)");
}

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(const HttpOptions& options) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::unique_ptr<HttpClient> client(new HttpClient(curl));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(options.timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
  if (!options.ca_bundle.empty()) {
    // Replaces the default store: only this bundle's CAs are trusted.
    curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_bundle.c_str());
    curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  }
  if (!options.proxy.empty()) {
    curl_easy_setopt(curl, CURLOPT_PROXY, options.proxy.c_str());
    // An explicit proxy is used for every host, whatever NO_PROXY says.
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "");
    curl_easy_setopt(curl, CURLOPT_HTTPPROXYTUNNEL, 1L);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  return client;
}

HttpClient::~HttpClient() { curl_easy_cleanup(curl_); }

absl::StatusOr<HttpResponse> HttpClient::Post(const std::string& url, const std::vector<std::string>& headers,
                                              absl::string_view body) {
  HttpResponse response;
  std::unique_ptr<curl_slist, SlistDeleter> list;
  // No "Expect: 100-continue" round trip before large bodies.
  std::vector<std::string> all = headers;
  all.push_back("Expect:");
  for (const std::string& h : all) {
    curl_slist* head = curl_slist_append(list.get(), h.c_str());
    if (head == nullptr) return absl::ResourceExhaustedError("curl_slist_append");
    (void)list.release();  // `head` is the same list, now one longer
    list.reset(head);
  }

  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_POST, 1L);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &response);
  CURLcode rc = curl_easy_perform(curl_);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    std::string what = absl::StrCat("POST ", url, ": ", curl_easy_strerror(rc), error[0] ? ": " : "", error);
    if (rc == CURLE_OPERATION_TIMEDOUT) return absl::DeadlineExceededError(what);
    return absl::UnavailableError(what);
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace vigil::collector
