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

// Strictly canonical decimal (no sign, no leading zero), so that a parsed id
// formats back to itself: the digits from `p` up to the first non-digit.
// Returns where they end, or nullptr. One pass, no search first: the process
// cache parses two ids or more per event.
const char* ParseDigits(const char* p, const char* end, uint64_t max, uint64_t& out) {
  const char* const begin = p;
  uint64_t v = 0;
  for (; p != end && static_cast<unsigned char>(*p - '0') <= 9; ++p) {
    const auto digit = static_cast<uint64_t>(*p - '0');
    if (p - begin < 19) {
      v = v * 10 + digit;  // 19 digits cannot overflow
    } else if (p - begin > 19 || __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, digit, &v)) {
      return nullptr;
    }
  }
  if (p == begin || (*begin == '0' && p - begin > 1) || v > max) return nullptr;
  out = v;
  return p;
}

}  // namespace

bool ParseExecId(absl::string_view exec_id, absl::string_view node, uint32_t& pid, uint64_t& start_ticks) {
  if (exec_id.size() < node.size() + 4 || exec_id.substr(0, node.size()) != node || exec_id[node.size()] != ':') {
    return false;
  }
  const char* const end = exec_id.data() + exec_id.size();
  uint64_t t = 0, p = 0;
  const char* at = ParseDigits(exec_id.data() + node.size() + 1, end, UINT64_MAX, t);
  if (at == nullptr || at == end || *at != ':') return false;
  at = ParseDigits(at + 1, end, UINT32_MAX, p);
  if (at != end) return false;
  pid = static_cast<uint32_t>(p);
  start_ticks = t;
  return true;
}

}  // namespace vigil
