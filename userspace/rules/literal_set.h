#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::rules {

// Which of a set of literals a text holds, found in one pass over its bytes:
// an Aho-Corasick automaton, its transitions one flat table over the byte
// classes the literals use. The detector's literal index asks this of most
// events' command lines, file names and images, and nearly always finds
// nothing: the pass is a table load per byte, with no lock and no set-up
// (RE2::Set, which this replaces, took a reader lock and ~650 instructions
// before the first byte, and its lazily built states were scattered over
// the heap: a tenth of the pipeline's cache misses).
class LiteralSet {
 public:
  // Transitions the table may hold (4 bytes each): a larger set, such as a
  // threat-intel list expanded into one rule, is refused.
  static constexpr size_t kMaxTransitions = size_t{1} << 22;

  // Literals are matched byte for byte, as given (an empty one is in every
  // text). ResourceExhausted when the table would exceed kMaxTransitions.
  static absl::StatusOr<LiteralSet> Build(const std::vector<std::string>& literals);

  // Appends to `found` the index (into Build's literals) of each literal
  // `text` holds, each once, in increasing order. Returns whether any.
  bool Find(absl::string_view text, std::vector<int>& found) const;

 private:
  // A transition's top bit: the state it leads to ends a literal.
  static constexpr uint32_t kEndsLiteral = uint32_t{1} << 31;

  std::array<uint16_t, 256> class_of_{};  // 0: a byte no literal has; up to 256 others
  uint32_t classes_ = 1;
  std::vector<uint32_t> next_;        // [state * classes_ + class], with kEndsLiteral
  std::vector<uint32_t> ends_begin_;  // per state (and one past the last), into ends_
  std::vector<int> ends_;             // the literals each state ends, its suffixes' included
};

}  // namespace vigil::rules
