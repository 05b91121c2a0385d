#include "common/exec_id.h"

#include "absl/strings/numbers.h"

namespace vigil {

std::string ExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks) {
  std::string id;
  AssignExecId(node, pid, start_ticks, id);
  return id;
}

void AssignExecId(absl::string_view node, uint32_t pid, uint64_t start_ticks, std::string& out) {
  // ":<ticks>:<pid>" on the stack, then two copies rather than five appends:
  // the decoder and the process cache write two or more ids per event.
  char tail[2 * absl::numbers_internal::kFastToBufferSize];
  char* end = tail;
  *end++ = ':';
  end = absl::numbers_internal::FastIntToBuffer(start_ticks, end);
  *end++ = ':';
  end = absl::numbers_internal::FastIntToBuffer(pid, end);
  out.assign(node.data(), node.size());
  out.append(tail, static_cast<size_t>(end - tail));
}

namespace {

// Strictly canonical decimal, so that a parsed id formats back to itself.
bool ParseDigits(absl::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v)) {
      return false;
    }
  }
  if (v > max) return false;
  out = v;
  return true;
}

}  // namespace

bool ParseExecId(absl::string_view exec_id, absl::string_view node, uint32_t& pid, uint64_t& start_ticks) {
  if (exec_id.size() < node.size() + 4 || exec_id.substr(0, node.size()) != node || exec_id[node.size()] != ':') {
    return false;
  }
  absl::string_view rest = exec_id.substr(node.size() + 1);
  const size_t colon = rest.find(':');
  uint64_t p = 0, t = 0;
  if (colon == absl::string_view::npos || !ParseDigits(rest.substr(0, colon), UINT64_MAX, t) ||
      !ParseDigits(rest.substr(colon + 1), UINT32_MAX, p)) {
    return false;
  }
  pid = static_cast<uint32_t>(p);
  start_ticks = t;
  return true;
}

}  // namespace vigil
