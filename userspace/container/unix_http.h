#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil {

struct HttpReply {
  long status = 0;
  std::string body;
};

// GET `path` from an HTTP server on a unix socket (the Docker Engine API),
// with libcurl (CURLOPT_UNIX_SOCKET_PATH): chunked replies, keep-alive and
// redirects are libcurl's business, not ours. Unavailable when the socket
// does not answer within `timeout`; a body over `max_body` is an error.
absl::StatusOr<HttpReply> UnixSocketGet(const std::string& socket, const std::string& path, absl::Duration timeout,
                                        size_t max_body = 8u << 20);

}  // namespace vigil
