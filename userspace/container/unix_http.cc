#include "container/unix_http.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace {

struct Sink {
  std::string* body;
  size_t max;
  bool overflow = false;
};

size_t Write(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body->size() + size * n > sink->max) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(data, size * n);
  return size * n;
}

}  // namespace

absl::StatusOr<HttpReply> UnixSocketGet(const std::string& socket, const std::string& path, absl::Duration timeout,
                                        size_t max_body) {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(init)));
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  HttpReply reply;
  Sink sink{&reply.body, max_body};
  char error[CURL_ERROR_SIZE] = {};
  // The host name only fills the Host header on a unix socket; the Docker
  // CLI sends "docker".
  const std::string url = absl::StrCat("http://docker", path);
  const long ms = static_cast<long>(absl::ToInt64Milliseconds(timeout));
  curl_easy_setopt(curl.get(), CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, ms);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Write);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (sink.overflow)
    return absl::ResourceExhaustedError(absl::StrCat(socket, ": reply to ", path, " over ", max_body, " bytes"));
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(socket, ": ", error[0] != '\0' ? error : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace vigil
