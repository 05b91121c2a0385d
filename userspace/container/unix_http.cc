#include "container/unix_http.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/unique_fd.h"

namespace vigil {
namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;
constexpr size_t kMaxChunkLine = 1024;  // a chunk's size and its extensions

absl::Status Malformed(absl::string_view why) { return absl::DataLossError(absl::StrCat("bad HTTP reply: ", why)); }

// Walks the chunked body in `in`; appends the data to `out` when given.
// nullopt while incomplete.
absl::StatusOr<std::optional<bool>> Dechunk(absl::string_view in, size_t max_body, std::string* out) {
  size_t total = 0;
  for (;;) {
    const size_t eol = in.find("\r\n");
    if (eol == absl::string_view::npos) {
      if (in.size() > kMaxChunkLine) return Malformed("chunk size line too long");
      return std::nullopt;
    }
    if (eol > kMaxChunkLine) return Malformed("chunk size line too long");
    absl::string_view hex = in.substr(0, eol);
    hex = hex.substr(0, hex.find(';'));  // extensions are ignored
    hex = absl::StripAsciiWhitespace(hex);
    uint64_t size = 0;
    if (hex.empty() || hex.size() > 15 || !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit) ||
        !absl::SimpleHexAtoi(hex, &size)) {
      return Malformed("bad chunk size");
    }
    in.remove_prefix(eol + 2);
    if (size == 0) {
      // The trailer section, read past (nothing in it is needed), ends with an empty line.
      if (absl::StartsWith(in, "\r\n") || absl::StrContains(in, "\r\n\r\n")) return true;
      if (in.size() > kMaxHeaderBytes) return Malformed("trailers too long");
      return std::nullopt;
    }
    if (total + size > max_body) return absl::ResourceExhaustedError(absl::StrCat("body over ", max_body, " bytes"));
    if (in.size() < size + 2) return std::nullopt;
    if (in.substr(size, 2) != "\r\n") return Malformed("chunk not followed by CRLF");
    if (out != nullptr) out->append(in.data(), size);
    total += size;
    in.remove_prefix(size + 2);
  }
}

}  // namespace

absl::StatusOr<std::optional<HttpReply>> ParseHttpReply(absl::string_view raw, size_t max_body, bool at_end) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == absl::string_view::npos) {
    if (raw.size() > kMaxHeaderBytes) return Malformed(absl::StrCat("headers over ", kMaxHeaderBytes, " bytes"));
    if (at_end) return Malformed("connection closed before the end of the headers");
    return std::nullopt;
  }
  if (head_end > kMaxHeaderBytes) return Malformed(absl::StrCat("headers over ", kMaxHeaderBytes, " bytes"));
  std::vector<absl::string_view> lines = absl::StrSplit(raw.substr(0, head_end), "\r\n");

  // "HTTP/1.1 200 OK"
  HttpReply reply;
  absl::string_view status_line = lines[0];
  if (!absl::ConsumePrefix(&status_line, "HTTP/1.") || status_line.size() < 5 || !absl::ascii_isdigit(status_line[0]) ||
      status_line[1] != ' ') {
    return Malformed("no HTTP/1.x status line");
  }
  absl::string_view code = status_line.substr(2, 3);
  int status = 0;
  if (!std::all_of(code.begin(), code.end(), absl::ascii_isdigit) || !absl::SimpleAtoi(code, &status) ||
      (status_line.size() > 5 && status_line[5] != ' ')) {
    return Malformed("bad status code");
  }
  reply.status = status;

  std::optional<uint64_t> length;
  bool chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) return Malformed("bad header line");
    const absl::string_view name = lines[i].substr(0, colon);
    const absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      uint64_t n = 0;
      if (value.empty() || !std::all_of(value.begin(), value.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(value, &n) || (length && *length != n)) {
        return Malformed("bad Content-Length");
      }
      length = n;
    } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      // Only chunked alone: a compressed body was not asked for.
      if (!absl::EqualsIgnoreCase(value, "chunked")) return Malformed(absl::StrCat("transfer coding ", value));
      chunked = true;
    }
  }

  absl::string_view body = raw.substr(head_end + 4);
  // No Expect was sent, so nothing informational is due.
  if (status < 200) return Malformed(absl::StrCat("unexpected status ", status));
  if (status == 204 || status == 304) return reply;  // bodiless (RFC 9112 section 6.3)
  if (chunked) {
    absl::StatusOr<std::optional<bool>> done = Dechunk(body, max_body, nullptr);
    if (!done.ok()) return done.status();
    if (!done->has_value()) {
      if (at_end) return Malformed("connection closed inside the chunked body");
      return std::nullopt;
    }
    (void)Dechunk(body, max_body, &reply.body);
    return reply;
  }
  if (length) {
    if (*length > max_body) return absl::ResourceExhaustedError(absl::StrCat("body over ", max_body, " bytes"));
    if (body.size() < *length) {
      if (at_end) return Malformed(absl::StrCat("connection closed after ", body.size(), " of ", *length, " bytes"));
      return std::nullopt;
    }
    reply.body.assign(body.data(), *length);
    return reply;
  }
  // Delimited by the end of the connection.
  if (body.size() > max_body) return absl::ResourceExhaustedError(absl::StrCat("body over ", max_body, " bytes"));
  if (!at_end) return std::nullopt;
  reply.body.assign(body.data(), body.size());
  return reply;
}

absl::StatusOr<HttpReply> UnixSocketGet(const std::string& socket, const std::string& path, absl::Duration timeout,
                                        size_t max_body) {
  const absl::Time deadline = absl::Now() + timeout;
  auto unavailable = [&](absl::string_view what) { return absl::UnavailableError(absl::StrCat(socket, ": ", what)); };
  // Waits for `events` on `fd` until the deadline.
  auto wait = [&](int fd, short events) -> absl::Status {
    for (;;) {
      const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (ms <= 0) return unavailable(absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
      pollfd p{fd, events, 0};
      const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
      if (n > 0) return absl::OkStatus();
      if (n < 0 && errno != EINTR) return unavailable(absl::StrCat("poll: ", std::strerror(errno)));
    }
  };

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.empty() || socket.size() >= sizeof(addr.sun_path)) return absl::InvalidArgumentError("bad socket path");
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return unavailable(absl::StrCat("socket: ", std::strerror(errno)));
  // A unix socket connects at once or not at all (EAGAIN: its backlog is full).
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return unavailable(absl::StrCat("connect: ", std::strerror(errno)));
  }

  // The host name only fills the Host header on a unix socket; the Docker
  // CLI sends "docker".
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: docker\r\nUser-Agent: vigil\r\nAccept: application/json\r\n",
                   "Connection: close\r\n\r\n");
  for (size_t off = 0; off < request.size();) {
    const ssize_t n = send(fd.get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (absl::Status s = wait(fd.get(), POLLOUT); !s.ok()) return s;
    } else {
      return unavailable(absl::StrCat("send: ", std::strerror(errno)));
    }
  }

  // Chunk framing counts too, within reason.
  const size_t max_raw = kMaxHeaderBytes + 2 * max_body + 4096;
  std::string raw;
  char buf[64 << 10];
  for (;;) {
    if (absl::Status s = wait(fd.get(), POLLIN); !s.ok()) return s;
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return unavailable(absl::StrCat("read: ", std::strerror(errno)));
    }
    raw.append(buf, static_cast<size_t>(n));
    absl::StatusOr<std::optional<HttpReply>> reply = ParseHttpReply(raw, max_body, n == 0);
    if (!reply.ok()) {
      return absl::Status(reply.status().code(), absl::StrCat(socket, ": ", path, ": ", reply.status().message()));
    }
    if (reply->has_value()) return std::move(**reply);
    if (raw.size() > max_raw) {
      return absl::ResourceExhaustedError(absl::StrCat(socket, ": reply to ", path, " over ", max_raw, " bytes"));
    }
  }
}

}  // namespace vigil
