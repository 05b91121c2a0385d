#include "rules/literal_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vigil::rules {

absl::StatusOr<LiteralSet> LiteralSet::Build(const std::vector<std::string>& literals) {
  LiteralSet set;
  // Each byte a literal has gets its own class; every other byte shares 0.
  size_t bytes = 0;
  for (const std::string& l : literals) {
    bytes += l.size();
    for (unsigned char c : l) {
      if (set.class_of_[c] == 0) set.class_of_[c] = static_cast<uint16_t>(set.classes_++);
    }
  }
  const size_t max_states = bytes + 1;
  if (max_states * set.classes_ > kMaxTransitions) {
    return absl::ResourceExhaustedError(absl::StrCat(literals.size(), " literals of ", bytes,
                                                     " bytes in all need up to ", max_states * set.classes_,
                                                     " transitions, over ", kMaxTransitions));
  }
  const uint32_t k = set.classes_;
  // The trie: 0 is "none yet" for every state but the root's children.
  std::vector<uint32_t> next(k, 0);
  std::vector<std::vector<int>> ends(1);
  for (size_t i = 0; i < literals.size(); ++i) {
    uint32_t s = 0;
    for (unsigned char c : literals[i]) {
      const size_t at = s * k + set.class_of_[c];
      if (next[at] == 0) {
        next[at] = static_cast<uint32_t>(ends.size());
        ends.emplace_back();
        next.resize(next.size() + k, 0);
      }
      s = next[at];
    }
    ends[s].push_back(static_cast<int>(i));
  }
  // Breadth first, each state's missing transitions are its longest proper
  // suffix's (already complete: it is shallower), and it ends what that
  // suffix ends.
  std::vector<uint32_t> suffix(ends.size(), 0);
  std::vector<uint32_t> order = {0};  // breadth first
  order.reserve(ends.size());
  for (uint32_t c = 0; c < k; ++c) {
    if (next[c] != 0) order.push_back(next[c]);
  }
  for (size_t at = 1; at < order.size(); ++at) {
    const uint32_t s = order[at];
    const std::vector<int>& inherited = ends[suffix[s]];
    ends[s].insert(ends[s].end(), inherited.begin(), inherited.end());
    for (uint32_t c = 0; c < k; ++c) {
      const uint32_t via_suffix = next[suffix[s] * k + c];
      uint32_t& t = next[s * k + c];
      if (t == 0) {
        t = via_suffix;
      } else {
        suffix[t] = via_suffix;
        order.push_back(t);
      }
    }
  }
  // States numbered breadth first, so that the rows a text visits most (the
  // root's and those a byte or two from it) share cache lines.
  std::vector<uint32_t> renumbered(order.size());
  for (size_t i = 0; i < order.size(); ++i) renumbered[order[i]] = static_cast<uint32_t>(i);
  set.next_.resize(next.size());
  set.ends_begin_.reserve(order.size() + 1);
  for (size_t i = 0; i < order.size(); ++i) {
    const uint32_t old = order[i];
    for (uint32_t c = 0; c < k; ++c) {
      const uint32_t t = next[old * k + c];
      set.next_[i * k + c] = renumbered[t] | (ends[t].empty() ? 0 : kEndsLiteral);
    }
    std::vector<int>& e = ends[old];
    std::sort(e.begin(), e.end());
    e.erase(std::unique(e.begin(), e.end()), e.end());
    set.ends_begin_.push_back(static_cast<uint32_t>(set.ends_.size()));
    set.ends_.insert(set.ends_.end(), e.begin(), e.end());
  }
  set.ends_begin_.push_back(static_cast<uint32_t>(set.ends_.size()));
  return set;
}

bool LiteralSet::Find(absl::string_view text, std::vector<int>& found) const {
  const size_t before = found.size();
  auto add = [&](uint32_t state) {
    found.insert(found.end(), ends_.begin() + ends_begin_[state], ends_.begin() + ends_begin_[state + 1]);
  };
  if (ends_begin_[1] != ends_begin_[0]) add(0);  // an empty literal
  const uint32_t* next = next_.data();
  const uint16_t* class_of = class_of_.data();
  const uint32_t k = classes_;
  uint32_t s = 0;
  for (unsigned char c : text) {
    const uint32_t t = next[s * k + class_of[c]];
    s = t & ~kEndsLiteral;
    if ((t & kEndsLiteral) != 0) add(s);
  }
  if (found.size() == before) return false;
  if (found.size() - before > 1) {
    std::sort(found.begin() + before, found.end());
    found.erase(std::unique(found.begin() + before, found.end()), found.end());
  }
  return true;
}

}  // namespace vigil::rules
