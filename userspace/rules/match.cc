// Evaluating compiled rules against one event.

#include "absl/strings/match.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "rules/ruleset.h"

namespace vigil::rules {
namespace {

// Glob over a pattern whose wildcard characters are flagged, so that an
// escaped '*' in a Sigma value stays a literal.
bool FlaggedGlob(absl::string_view pat, const std::vector<bool>* wild, absl::string_view s) {
  auto is = [&](size_t p, char c) { return pat[p] == c && (wild == nullptr || (*wild)[p]); };
  size_t p = 0, i = 0, star = absl::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && is(p, '*')) {
      star = p++;
      mark = i;
      continue;
    }
    if (p < pat.size() && (is(p, '?') || (pat[p] == s[i] && !is(p, '*')))) {
      ++p;
      ++i;
      continue;
    }
    if (star != absl::string_view::npos) {
      p = star + 1;
      i = ++mark;
      continue;
    }
    return false;
  }
  while (p < pat.size() && is(p, '*')) ++p;
  return p == pat.size();
}

// An address as 16 bytes, IPv4 as ::ffff:a.b.c.d.
bool ParseIp(absl::string_view text, uint8_t out[16]) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.size() >= sizeof(buf)) return false;
  memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, buf, out) == 1;
}

bool InNet(const uint8_t ip[16], const uint8_t net[16], int bits) {
  int full = bits / 8;
  if (memcmp(ip, net, full) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip[full] & mask) == (net[full] & mask);
}

bool EvalNode(const Rule& rule, int node, EventContext& ctx);

bool EvalSelection(const Rule& rule, int index, EventContext& ctx) {
  int8_t& memo = ctx.selection_memo()[index];
  if (memo >= 0) return memo == 1;
  bool result = false;
  for (const std::vector<FieldMatch>& all_of : rule.selections[index].alternatives) {
    bool ok = true;
    for (const FieldMatch& m : all_of) {
      if (!MatchField(m, ctx)) {
        ok = false;
        break;
      }
    }
    if (ok) {
      result = true;
      break;
    }
  }
  memo = result ? 1 : 0;
  return result;
}

bool EvalNode(const Rule& rule, int index, EventContext& ctx) {
  const CondNode& n = rule.nodes[index];
  switch (n.type) {
    case CondNode::kSelection:
      return EvalSelection(rule, n.selection, ctx);
    case CondNode::kAnd:
      for (int k : n.kids) {
        if (!EvalNode(rule, k, ctx)) return false;
      }
      return true;
    case CondNode::kOr:
      for (int k : n.kids) {
        if (EvalNode(rule, k, ctx)) return true;
      }
      return false;
    case CondNode::kNot:
      return !EvalNode(rule, n.kids[0], ctx);
    case CondNode::kOneOf:
      for (int s : n.kids) {
        if (EvalSelection(rule, s, ctx)) return true;
      }
      return false;
    case CondNode::kAllOf:
      for (int s : n.kids) {
        if (!EvalSelection(rule, s, ctx)) return false;
      }
      return true;
  }
  return false;
}

}  // namespace

bool GlobMatch(absl::string_view pattern, absl::string_view text) { return FlaggedGlob(pattern, nullptr, text); }

bool Pattern::Match(absl::string_view raw, absl::string_view lower) const {
  absl::string_view v = cased ? raw : lower;
  switch (op) {
    case kEquals:
      return v == text;
    // Most values fail on their first or last character: test it before
    // calling memcmp.
    case kPrefix:
      return v.size() >= text.size() && (text.empty() || v[0] == text[0]) && absl::StartsWith(v, text);
    case kSuffix:
      return v.size() >= text.size() && (text.empty() || v.back() == text.back()) && absl::EndsWith(v, text);
    case kContains:
      return absl::StrContains(v, text);
    case kGlob:
      return FlaggedGlob(text, &wild, v);
    case kRegex:
      return RE2::PartialMatch(re2::StringPiece(raw.data(), raw.size()), *re);
    case kCidr: {
      uint8_t ip[16];
      return ParseIp(raw, ip) && InNet(ip, net, prefix_bits);
    }
    case kGt:
    case kGte:
    case kLt:
    case kLte: {
      double d;
      if (!absl::SimpleAtod(raw, &d)) return false;
      return op == kGt ? d > number : op == kGte ? d >= number : op == kLt ? d < number : d <= number;
    }
    case kNull:
      return raw.empty();
  }
  return false;
}

bool MatchField(const FieldMatch& m, EventContext& ctx) {
  EventContext::Values v = ctx.Get(m.field);
  switch (m.kind) {
    case FieldMatch::kExists:
      return v.size > 0;
    case FieldMatch::kAbsent:
      return v.size == 0;
    case FieldMatch::kValues:
      break;
  }
  auto any_value = [&](const Pattern& p) {
    if (v.size == 0) return p.op == Pattern::kNull;
    for (size_t i = 0; i < v.size; ++i) {
      if (p.Match(v.raw[i], v.lower[i])) return true;
    }
    return false;
  };
  if (m.all) {
    for (const Pattern& p : m.patterns) {
      if (!any_value(p)) return false;
    }
    return true;
  }
  for (const Pattern& p : m.patterns) {
    if (any_value(p)) return true;
  }
  return false;
}

bool EvaluateRule(const Rule& rule, EventContext& ctx) {
  std::fill_n(ctx.selection_memo().begin(), rule.selections.size(), -1);
  return EvalNode(rule, rule.root, ctx);
}

// Exposed for the compiler's cidr values.
bool ParseIpAddress(absl::string_view text, uint8_t out[16]) { return ParseIp(text, out); }

}  // namespace vigil::rules
