#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {

struct HttpReply {
  long status = 0;
  std::string body;
};

// GET `path` from an HTTP server on a unix socket (the Docker Engine API):
// one request per connection ("Connection: close"), the body delimited by
// Content-Length, by chunked transfer coding, or by the end of the
// connection. Unavailable when the socket does not answer within `timeout`
// in all; a body over `max_body` is an error.
//
// Written here rather than with libcurl: the sensor needs only this GET, and
// libcurl brought ~3.7 MiB of resident libraries (gnutls, krb5, ldap, ssh2,
// p11-kit...) into every sensor, Docker or not.
absl::StatusOr<HttpReply> UnixSocketGet(const std::string& socket, const std::string& path, absl::Duration timeout,
                                        size_t max_body = 8u << 20);

// The reply in `raw`, what the server has sent so far: status line,
// headers, body. nullopt while more bytes are needed (`at_end`: the server
// has closed, none will come); an error when it is not an HTTP/1.x response
// or its body is over `max_body`. Exposed for tests.
absl::StatusOr<std::optional<HttpReply>> ParseHttpReply(absl::string_view raw, size_t max_body, bool at_end);

}  // namespace vigil
