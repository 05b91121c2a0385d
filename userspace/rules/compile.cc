// Sigma YAML -> Ruleset. Every refusal names file:line:column (1-based) of
// the YAML node at fault.

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "re2/filtered_re2.h"
#include "rules/embedded.h"
#include "rules/ruleset.h"

namespace vigil::rules {
namespace {

namespace fs = std::filesystem;

struct Source {
  std::string name;  // file path, or "embedded:rules/x.yml"
  std::string text;
  bool embedded = false;
};

// Ignores a document's events but where it starts: that tells whether the
// parser moved.
class DocumentStart : public YAML::EventHandler {
 public:
  YAML::Mark mark;
  void OnDocumentStart(const YAML::Mark& m) override { mark = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// YAML::LoadAll, except that it ends: yaml-cpp 0.7's never returns when a
// stray ',' follows a document (its parser hands back the same empty
// document forever and the list grows until memory runs out; found by
// fuzz/rules_fuzzer). The documents are walked first, and one that starts
// where the one before it did is a syntax error there.
std::vector<YAML::Node> LoadDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  std::optional<YAML::Mark> last;
  for (DocumentStart doc; parser.HandleNextDocument(doc);) {
    if (last && last->pos == doc.mark.pos) throw YAML::ParserException(doc.mark, "no document can start here");
    last = doc.mark;
  }
  return YAML::LoadAll(text);
}

// A refusal: where and why.
absl::Status Refuse(const std::string& file, const YAML::Mark& mark, absl::string_view reason, int column_offset = 0) {
  if (mark.is_null()) return absl::InvalidArgumentError(absl::StrCat(file, ":1:1: ", reason));
  return absl::InvalidArgumentError(
      absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1 + column_offset, ": ", reason));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read: ", strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every rule file below the given paths: directories are walked for *.yml and
// *.yaml (sorted, so the load order does not depend on the file system).
absl::Status CollectFiles(const std::vector<std::string>& paths, std::vector<Source>& out) {
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        std::string ext = it->path().extension().string();
        if (ext == ".yml" || ext == ".yaml") found.push_back(it->path().string());
      }
      if (ec) return absl::NotFoundError(absl::StrCat(path, ": ", ec.message()));
      std::sort(found.begin(), found.end());
      for (std::string& f : found) {
        auto text = ReadFile(f);
        if (!text.ok()) return text.status();
        out.push_back({std::move(f), *std::move(text), false});
      }
    } else if (fs::exists(path, ec)) {
      auto text = ReadFile(path);
      if (!text.ok()) return text.status();
      out.push_back({path, *std::move(text), false});
    } else {
      return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ParseListText(absl::string_view text) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    values.emplace_back(line);
  }
  return values;
}

const char* kTactics[] = {
    "reconnaissance",       "resource-development", "initial-access",    "execution", "persistence",
    "privilege-escalation", "defense-evasion",      "credential-access", "discovery", "lateral-movement",
    "collection",           "command-and-control",  "exfiltration",      "impact"};

class Compiler {
 public:
  Compiler(const CompileOptions& options, Ruleset& out) : options_(options), out_(out) {}

  absl::Status CompileFile(const Source& src);
  absl::Status CompileCorrelations();
  absl::Status CompileExceptions(const std::string& path);
  void Index();

 private:
  absl::Status CompileRule(const Source& src, const YAML::Node& doc);
  absl::Status CompileInfo(const std::string& file, const YAML::Node& doc, RuleInfo& info);
  absl::Status CompileSelection(const std::string& file, const YAML::Node& value, Category category, Selection& sel);
  absl::Status CompileFieldMatch(const std::string& file, const YAML::Node& key, const YAML::Node& value,
                                 Category category, FieldMatch& m);
  absl::Status CompileCondition(const std::string& file, const YAML::Node& cond, Rule& rule);
  absl::StatusOr<std::vector<std::string>> List(absl::string_view name);
  absl::Status Field(const std::string& file, const YAML::Mark& mark, absl::string_view name, Category category,
                     FieldRef& ref);

  struct PendingCorrelation {
    std::string file;
    YAML::Node doc;
    bool embedded;
  };

  const CompileOptions& options_;
  Ruleset& out_;
  std::vector<PendingCorrelation> correlations_;
  absl::flat_hash_map<std::string, std::vector<std::string>> lists_;
  absl::flat_hash_map<std::string, int> proto_slots_;
  // Where each rule id was first defined, to refuse duplicates.
  absl::flat_hash_map<std::string, std::string> ids_;
};

absl::Status Compiler::Field(const std::string& file, const YAML::Mark& mark, absl::string_view name, Category category,
                             FieldRef& ref) {
  std::string error;
  if (!ResolveField(name, category, ref, error)) return Refuse(file, mark, error);
  if (ref.id == FieldId::kProtoPath) {
    auto [it, added] = proto_slots_.try_emplace(ref.name, out_.slots);
    if (added) ++out_.slots;
    ref.slot = it->second;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Compiler::List(absl::string_view name) {
  if (auto it = lists_.find(name); it != lists_.end()) return it->second;
  std::vector<std::string> values;
  bool found = false;
  if (!options_.lists_dir.empty()) {
    std::string path = absl::StrCat(options_.lists_dir, "/", name, ".txt");
    std::error_code ec;
    if (fs::exists(path, ec)) {
      auto text = ReadFile(path);
      if (!text.ok()) return text.status();
      values = ParseListText(*text);
      found = true;
      out_.sources.push_back(path);
    }
  }
  if (!found) {
    for (const EmbeddedFile& f : EmbeddedLists()) {
      if (f.name == name) {
        values = ParseListText(f.text);
        found = true;
      }
    }
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat("value list %", name, "% not found (no ", name, ".txt in ",
                                            options_.lists_dir.empty() ? "<no lists dir>" : options_.lists_dir,
                                            ", no embedded list of that name)"));
  }
  lists_[name] = values;
  return values;
}

// How one selection value becomes patterns.
struct Modifiers {
  enum Op { kEquals, kContains, kStartsWith, kEndsWith, kRe, kCidr, kGt, kGte, kLt, kLte } op = kEquals;
  bool all = false, cased = false, exists = false, expand = false, windash = false;
  bool base64 = false, base64offset = false;
  bool re_i = false, re_m = false, re_s = false;
};

// Sigma string -> text + wildcard flags: `*` and `?` are wildcards, `\*`,
// `\?` and `\\` their literals; any other backslash is itself.
void ParseSigmaString(absl::string_view in, std::string& text, std::vector<bool>& wild) {
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\\' && i + 1 < in.size() && (in[i + 1] == '*' || in[i + 1] == '?' || in[i + 1] == '\\')) {
      text.push_back(in[++i]);
      wild.push_back(false);
    } else {
      text.push_back(c);
      wild.push_back(c == '*' || c == '?');
    }
  }
}

// Chooses the cheapest matcher for a wildcard pattern.
Pattern MakeStringPattern(absl::string_view value, const Modifiers& mods) {
  Pattern p;
  p.cased = mods.cased;
  std::string text;
  std::vector<bool> wild;
  if (mods.op == Modifiers::kContains || mods.op == Modifiers::kEndsWith) {
    text.push_back('*');
    wild.push_back(true);
  }
  ParseSigmaString(value, text, wild);
  if (mods.op == Modifiers::kContains || mods.op == Modifiers::kStartsWith) {
    text.push_back('*');
    wild.push_back(true);
  }
  if (!p.cased) absl::AsciiStrToLower(&text);
  size_t n = text.size();
  bool lead = n > 0 && wild[0] && text[0] == '*';
  bool trail = n > 1 && wild[n - 1] && text[n - 1] == '*';
  size_t inner_wild = 0;
  for (size_t i = (lead ? 1 : 0); i < n - (trail ? 1 : 0); ++i) inner_wild += wild[i];
  if (inner_wild > 0 || (n == 1 && lead)) {
    if (n == 1 && lead) {
      p.op = Pattern::kContains;  // "*": any value
      return p;
    }
    p.op = Pattern::kGlob;
    p.text = std::move(text);
    p.wild = std::move(wild);
    return p;
  }
  p.text = text.substr(lead ? 1 : 0, n - (lead ? 1 : 0) - (trail ? 1 : 0));
  p.op = lead && trail ? Pattern::kContains : lead ? Pattern::kSuffix : trail ? Pattern::kPrefix : Pattern::kEquals;
  return p;
}

// `windash`: every dash or slash that starts an option, in each of the
// spellings Windows tools accept.
std::vector<std::string> WindashVariants(const std::string& v) {
  static const char* kDashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};
  std::vector<std::string> out;
  for (const char* d : kDashes) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
      bool start = (v[i] == '-' || v[i] == '/') && (i == 0 || v[i - 1] == ' ');
      if (start) {
        s += d;
      } else {
        s += v[i];
      }
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

// `base64offset`: the three encodings of a value at each offset in a
// base64 stream, trimmed to the characters that do not depend on neighbours.
std::vector<std::string> Base64OffsetVariants(const std::string& v) {
  static const int kStart[] = {0, 2, 3};
  static const int kEnd[] = {0, -3, -2};
  std::vector<std::string> out;
  for (int i = 0; i < 3; ++i) {
    std::string enc = absl::Base64Escape(std::string(i, ' ') + v);
    int end = kEnd[(v.size() + i) % 3];
    int len = static_cast<int>(enc.size()) + end - kStart[i];
    if (len > 0) out.push_back(enc.substr(kStart[i], len));
  }
  return out;
}

bool IsNumber(absl::string_view s) {
  double d;
  return absl::SimpleAtod(s, &d);
}

absl::Status Compiler::CompileFieldMatch(const std::string& file, const YAML::Node& key, const YAML::Node& value,
                                         Category category, FieldMatch& m) {
  std::string spec = key.as<std::string>();
  std::vector<std::string> parts = absl::StrSplit(spec, '|');
  if (parts[0].empty()) {
    return Refuse(file, key.Mark(), "keyword search (a value without a field name) is not supported");
  }
  if (auto st = Field(file, key.Mark(), parts[0], category, m.field); !st.ok()) return st;
  Modifiers mods;
  bool re = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& mod = parts[i];
    auto op = [&](Modifiers::Op o) -> absl::Status {
      if (mods.op != Modifiers::kEquals) {
        return Refuse(file, key.Mark(), absl::StrCat("modifier ", mod, " conflicts with an earlier one"));
      }
      mods.op = o;
      return absl::OkStatus();
    };
    absl::Status st;
    if (mod == "contains") {
      st = op(Modifiers::kContains);
    } else if (mod == "startswith") {
      st = op(Modifiers::kStartsWith);
    } else if (mod == "endswith") {
      st = op(Modifiers::kEndsWith);
    } else if (mod == "re") {
      st = op(Modifiers::kRe);
      re = true;
    } else if (re && (mod == "i" || mod == "m" || mod == "s")) {
      (mod == "i" ? mods.re_i : mod == "m" ? mods.re_m : mods.re_s) = true;
    } else if (mod == "cidr") {
      st = op(Modifiers::kCidr);
    } else if (mod == "gt") {
      st = op(Modifiers::kGt);
    } else if (mod == "gte") {
      st = op(Modifiers::kGte);
    } else if (mod == "lt") {
      st = op(Modifiers::kLt);
    } else if (mod == "lte") {
      st = op(Modifiers::kLte);
    } else if (mod == "all") {
      mods.all = true;
    } else if (mod == "cased") {
      mods.cased = true;
    } else if (mod == "exists") {
      mods.exists = true;
    } else if (mod == "expand") {
      mods.expand = true;
    } else if (mod == "windash") {
      mods.windash = true;
    } else if (mod == "base64") {
      mods.base64 = true;
    } else if (mod == "base64offset") {
      mods.base64offset = true;
    } else if (mod == "utf16le" || mod == "utf16be" || mod == "utf16" || mod == "wide") {
      st = Refuse(file, key.Mark(),
                  absl::StrCat("modifier ", mod, " is not supported (UTF-16 encodings are a Windows log matter)"));
    } else if (mod == "fieldref") {
      st = Refuse(file, key.Mark(), "modifier fieldref is not supported (comparing two fields)");
    } else {
      st = Refuse(file, key.Mark(), absl::StrCat("unknown modifier ", mod));
    }
    if (!st.ok()) return st;
  }
  const char* type_name = m.field.type == FieldType::kBool     ? "a boolean (true/false)"
                          : m.field.type == FieldType::kNumber ? "a number"
                          : m.field.type == FieldType::kIp     ? "an address"
                                                               : "text";
  if ((mods.base64 || mods.base64offset) && mods.op != Modifiers::kContains && mods.op != Modifiers::kEquals) {
    return Refuse(file, key.Mark(), "base64 modifiers combine only with contains");
  }

  std::vector<YAML::Node> values;
  if (value.IsSequence()) {
    for (const YAML::Node& v : value) values.push_back(v);
    if (values.empty()) return Refuse(file, value.Mark(), "empty list of values");
  } else if (value.IsScalar() || value.IsNull()) {
    values.push_back(value);
  } else {
    return Refuse(file, value.Mark(), absl::StrCat("the value of ", spec, " must be a value or a list of values"));
  }
  for (const YAML::Node& v : values) {
    if (!v.IsScalar() && !v.IsNull()) return Refuse(file, v.Mark(), "nested lists or maps are not values");
  }

  if (mods.exists) {
    std::string v = values[0].IsNull() ? "" : absl::AsciiStrToLower(values[0].Scalar());
    if (values.size() != 1 || (v != "true" && v != "false")) {
      return Refuse(file, values[0].Mark(), "type mismatch: exists takes true or false");
    }
    m.kind = v == "true" ? FieldMatch::kExists : FieldMatch::kAbsent;
    return absl::OkStatus();
  }
  m.all = mods.all;

  // Type checks that do not depend on the value.
  if (mods.op == Modifiers::kCidr && m.field.type != FieldType::kIp) {
    return Refuse(file, key.Mark(), absl::StrCat("type mismatch: cidr on ", m.field.name, ", which is ", type_name));
  }
  if ((mods.op == Modifiers::kGt || mods.op == Modifiers::kGte || mods.op == Modifiers::kLt ||
       mods.op == Modifiers::kLte) &&
      m.field.type != FieldType::kNumber) {
    return Refuse(file, key.Mark(),
                  absl::StrCat("type mismatch: numeric comparison on ", m.field.name, ", which is ", type_name));
  }
  if (m.field.type == FieldType::kBool && mods.op != Modifiers::kEquals) {
    return Refuse(file, key.Mark(),
                  absl::StrCat("type mismatch: ", parts[1], " on ", m.field.name, ", which is ", type_name));
  }

  for (const YAML::Node& v : values) {
    if (v.IsNull()) {
      Pattern p;
      p.op = Pattern::kNull;
      m.patterns.push_back(std::move(p));
      continue;
    }
    const std::string& scalar = v.Scalar();
    std::vector<std::string> texts = {scalar};
    if (mods.expand) {
      std::vector<std::string> expanded;
      for (const std::string& t : texts) {
        size_t a = t.find('%');
        size_t b = a == std::string::npos ? a : t.find('%', a + 1);
        if (b == std::string::npos) {
          return Refuse(file, v.Mark(), "expand needs a %placeholder% in the value");
        }
        auto list = List(absl::string_view(t).substr(a + 1, b - a - 1));
        if (!list.ok()) return Refuse(file, v.Mark(), list.status().message());
        for (const std::string& item : *list) expanded.push_back(t.substr(0, a) + item + t.substr(b + 1));
      }
      texts = std::move(expanded);
      if (texts.empty()) {
        return Refuse(file, v.Mark(), "expand: the value list is empty, so the rule could never match");
      }
    }
    if (mods.windash) {
      std::vector<std::string> all;
      for (const std::string& t : texts) {
        for (std::string& w : WindashVariants(t)) all.push_back(std::move(w));
      }
      texts = std::move(all);
    }
    if (mods.base64offset || mods.base64) {
      std::vector<std::string> all;
      for (const std::string& t : texts) {
        if (mods.base64) {
          all.push_back(absl::Base64Escape(t));
        } else {
          for (std::string& b : Base64OffsetVariants(t)) all.push_back(std::move(b));
        }
      }
      texts = std::move(all);
      mods.cased = true;  // base64 is case-sensitive
    }
    for (const std::string& t : texts) {
      Pattern p;
      switch (mods.op) {
        case Modifiers::kRe: {
          RE2::Options o;
          o.set_log_errors(false);
          o.set_case_sensitive(!mods.re_i);
          o.set_dot_nl(mods.re_s);
          o.set_never_nl(false);
          std::string pattern = mods.re_m ? "(?m)" + t : t;
          auto re = std::make_shared<RE2>(pattern, o);
          if (!re->ok()) {
            return Refuse(file, v.Mark(), absl::StrCat("bad regular expression '", t, "': ", re->error()));
          }
          p.op = Pattern::kRegex;
          p.re = std::move(re);
          break;
        }
        case Modifiers::kCidr: {
          std::vector<std::string> a = absl::StrSplit(t, '/');
          int bits = 0;
          if (a.size() != 2 || !ParseIpAddress(a[0], p.net) || !absl::SimpleAtoi(a[1], &bits)) {
            return Refuse(file, v.Mark(), absl::StrCat("type mismatch: '", t, "' is not a network (a.b.c.d/n)"));
          }
          bool v4 = a[0].find(':') == std::string::npos;
          if (bits < 0 || bits > (v4 ? 32 : 128)) {
            return Refuse(file, v.Mark(), absl::StrCat("prefix length out of range in '", t, "'"));
          }
          p.op = Pattern::kCidr;
          p.prefix_bits = v4 ? bits + 96 : bits;
          break;
        }
        case Modifiers::kGt:
        case Modifiers::kGte:
        case Modifiers::kLt:
        case Modifiers::kLte:
          if (!absl::SimpleAtod(t, &p.number)) {
            return Refuse(file, v.Mark(), absl::StrCat("type mismatch: '", t, "' is not a number"));
          }
          p.op = mods.op == Modifiers::kGt    ? Pattern::kGt
                 : mods.op == Modifiers::kGte ? Pattern::kGte
                 : mods.op == Modifiers::kLt  ? Pattern::kLt
                                              : Pattern::kLte;
          break;
        default: {
          if (m.field.type == FieldType::kBool) {
            std::string b = absl::AsciiStrToLower(t);
            if (b != "true" && b != "false") {
              return Refuse(file, v.Mark(),
                            absl::StrCat("type mismatch: ", m.field.name, " is ", type_name, ", not '", t, "'"));
            }
            p.op = Pattern::kEquals;
            p.text = b;
            break;
          }
          if (m.field.type == FieldType::kNumber && mods.op == Modifiers::kEquals) {
            std::string digits;
            for (char c : t) {
              if (c != '*' && c != '?') digits.push_back(c);
            }
            if (!digits.empty() && !IsNumber(digits)) {
              return Refuse(file, v.Mark(),
                            absl::StrCat("type mismatch: ", m.field.name, " is ", type_name, ", not '", t, "'"));
            }
          }
          p = MakeStringPattern(t, mods);
        }
      }
      m.patterns.push_back(std::move(p));
    }
  }
  return absl::OkStatus();
}

absl::Status Compiler::CompileSelection(const std::string& file, const YAML::Node& value, Category category,
                                        Selection& sel) {
  auto one_map = [&](const YAML::Node& map) -> absl::Status {
    std::vector<FieldMatch> all_of;
    for (const auto& kv : map) {
      FieldMatch m;
      if (auto st = CompileFieldMatch(file, kv.first, kv.second, category, m); !st.ok()) return st;
      all_of.push_back(std::move(m));
    }
    if (all_of.empty()) return Refuse(file, map.Mark(), "empty selection");
    sel.alternatives.push_back(std::move(all_of));
    return absl::OkStatus();
  };
  if (value.IsMap()) return one_map(value);
  if (value.IsSequence()) {
    for (const YAML::Node& item : value) {
      if (!item.IsMap()) {
        return Refuse(file, item.Mark(), "keyword search (a value without a field name) is not supported");
      }
      if (auto st = one_map(item); !st.ok()) return st;
    }
    if (sel.alternatives.empty()) return Refuse(file, value.Mark(), "empty selection");
    return absl::OkStatus();
  }
  return Refuse(file, value.Mark(), "a selection must be a map of fields or a list of maps");
}

// condition := or; or := and ('or' and)*; and := not ('and' not)*;
// not := 'not' not | '(' or ')' | ('1'|'any'|'all') 'of' (pattern|'them') | name
class ConditionParser {
 public:
  static constexpr char kAggregation[] =
      "aggregations in the condition ('| count() ...') are not supported; use a correlation rule";

  ConditionParser(absl::string_view text, Rule& rule) : text_(text), rule_(rule) {}

  // Index of the root node, or -1 with error() and error_offset() set.
  int Parse() {
    Next();
    int n = Or();
    if (n >= 0 && tok_ == "|") return Fail(kAggregation);
    if (n >= 0 && !tok_.empty()) return Fail(absl::StrCat("unexpected '", tok_, "'"));
    return n;
  }
  const std::string& error() const { return error_; }
  size_t error_offset() const { return error_offset_; }

 private:
  int Fail(std::string why) {
    if (error_.empty()) {
      error_ = std::move(why);
      error_offset_ = tok_pos_;
    }
    return -1;
  }
  static bool IsWordChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '*' || c == '-' || c == '.'; }
  void Next() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
    tok_pos_ = pos_;
    if (pos_ >= text_.size()) {
      tok_ = "";
      return;
    }
    if (!IsWordChar(text_[pos_])) {
      tok_ = text_.substr(pos_++, 1);
      return;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && IsWordChar(text_[pos_])) ++pos_;
    tok_ = text_.substr(start, pos_ - start);
  }
  bool Is(absl::string_view word) const { return absl::EqualsIgnoreCase(tok_, word); }
  int Add(CondNode n) {
    rule_.nodes.push_back(std::move(n));
    return static_cast<int>(rule_.nodes.size()) - 1;
  }
  int Or() {
    int left = And();
    if (left < 0) return -1;
    if (!Is("or")) return left;
    CondNode n{CondNode::kOr};
    n.kids.push_back(left);
    while (Is("or")) {
      Next();
      int right = And();
      if (right < 0) return -1;
      n.kids.push_back(right);
    }
    return Add(std::move(n));
  }
  int And() {
    int left = Not();
    if (left < 0) return -1;
    if (!Is("and")) return left;
    CondNode n{CondNode::kAnd};
    n.kids.push_back(left);
    while (Is("and")) {
      Next();
      int right = Not();
      if (right < 0) return -1;
      n.kids.push_back(right);
    }
    return Add(std::move(n));
  }
  int Not() {
    if (Is("not")) {
      Next();
      int kid = Not();
      if (kid < 0) return -1;
      CondNode n{CondNode::kNot};
      n.kids.push_back(kid);
      return Add(std::move(n));
    }
    return Primary();
  }
  int Primary() {
    if (tok_.empty()) return Fail("condition ends where a selection was expected");
    if (tok_ == "|") return Fail(kAggregation);
    if (tok_ == "(") {
      Next();
      int n = Or();
      if (n < 0) return -1;
      if (tok_ != ")") return Fail("missing ')'");
      Next();
      return n;
    }
    if (tok_ == "1" || Is("any") || Is("all")) {
      bool all = Is("all");
      Next();
      if (!Is("of")) return Fail(absl::StrCat("expected 'of' after '", all ? "all" : "1", "'"));
      Next();
      if (tok_.empty() || !IsWordChar(tok_[0])) return Fail("expected a selection pattern or 'them' after 'of'");
      CondNode n{all ? CondNode::kAllOf : CondNode::kOneOf};
      bool them = Is("them");
      for (size_t i = 0; i < rule_.selections.size(); ++i) {
        const std::string& name = rule_.selections[i].name;
        if (them ? name[0] != '_' : GlobMatch(tok_, name)) n.kids.push_back(static_cast<int>(i));
      }
      if (n.kids.empty()) return Fail(absl::StrCat("'", tok_, "' matches no selection"));
      Next();
      return Add(std::move(n));
    }
    if (Is("and") || Is("or") || Is("of") || !IsWordChar(tok_[0])) {
      return Fail(absl::StrCat("unexpected '", tok_, "'"));
    }
    for (size_t i = 0; i < rule_.selections.size(); ++i) {
      if (rule_.selections[i].name == tok_) {
        Next();
        return Add(CondNode{CondNode::kSelection, static_cast<int>(i)});
      }
    }
    return Fail(absl::StrCat("condition names unknown selection '", tok_, "'"));
  }

  absl::string_view text_;
  Rule& rule_;
  size_t pos_ = 0;
  absl::string_view tok_;
  size_t tok_pos_ = 0;
  std::string error_;
  size_t error_offset_ = 0;
};

// A rough cost of evaluating a field match, to try cheap tests first.
int Cost(const FieldMatch& m) {
  int field = 1;
  switch (m.field.id) {
    case FieldId::kCommandLine:
    case FieldId::kUser:
      field = 2;  // built per event
      break;
    case FieldId::kParentImage:
    case FieldId::kParentCommandLine:
    case FieldId::kAncestorImages:
    case FieldId::kAncestorCommandLines:
    case FieldId::kProtoPath:
      field = 4;  // a process-cache walk or reflection
      break;
    default:
      break;
  }
  int patterns = 0;
  for (const Pattern& p : m.patterns) {
    patterns += p.op == Pattern::kRegex ? 40 : p.op == Pattern::kGlob || p.op == Pattern::kCidr ? 3 : 1;
  }
  return field + patterns;
}

int SelectionCost(const Selection& s) {
  int cost = 0;
  for (const auto& all_of : s.alternatives) {
    for (const FieldMatch& m : all_of) cost += Cost(m);
  }
  return cost;
}

int NodeCost(const Rule& rule, int index) {
  const CondNode& n = rule.nodes[index];
  int cost = 0;
  switch (n.type) {
    case CondNode::kSelection:
      return SelectionCost(rule.selections[n.selection]);
    case CondNode::kOneOf:
    case CondNode::kAllOf:
      for (int s : n.kids) cost += SelectionCost(rule.selections[s]);
      return cost;
    default:
      for (int k : n.kids) cost += NodeCost(rule, k);
      return cost;
  }
}

// AND and OR do not depend on the order of their operands: evaluate the
// cheap ones first, so that a regular expression or a process-cache walk
// runs only when the cheap tests have not already decided.
void OrderByCost(Rule& rule) {
  for (Selection& s : rule.selections) {
    for (auto& all_of : s.alternatives) {
      std::stable_sort(all_of.begin(), all_of.end(),
                       [](const FieldMatch& a, const FieldMatch& b) { return Cost(a) < Cost(b); });
    }
  }
  for (CondNode& n : rule.nodes) {
    if (n.type != CondNode::kAnd && n.type != CondNode::kOr) continue;
    std::stable_sort(n.kids.begin(), n.kids.end(), [&](int a, int b) { return NodeCost(rule, a) < NodeCost(rule, b); });
  }
  for (CondNode& n : rule.nodes) {
    if (n.type != CondNode::kOneOf && n.type != CondNode::kAllOf) continue;
    std::stable_sort(n.kids.begin(), n.kids.end(), [&](int a, int b) {
      return SelectionCost(rule.selections[a]) < SelectionCost(rule.selections[b]);
    });
  }
}

absl::Status Compiler::CompileCondition(const std::string& file, const YAML::Node& cond, Rule& rule) {
  std::vector<YAML::Node> parts;
  if (cond.IsScalar()) {
    parts.push_back(cond);
  } else if (cond.IsSequence()) {
    for (const YAML::Node& c : cond) parts.push_back(c);
  }
  if (parts.empty()) return Refuse(file, cond.Mark(), "condition must be an expression or a list of them");
  std::vector<int> roots;
  for (const YAML::Node& c : parts) {
    if (!c.IsScalar()) return Refuse(file, c.Mark(), "condition must be an expression");
    ConditionParser parser(c.Scalar(), rule);
    int root = parser.Parse();
    if (root < 0) {
      // Quoted scalars start one column after their mark.
      int quote = c.Tag() == "!" ? 1 : 0;
      return Refuse(file, c.Mark(), absl::StrCat("malformed condition: ", parser.error()),
                    quote + static_cast<int>(parser.error_offset()));
    }
    roots.push_back(root);
  }
  if (roots.size() == 1) {
    rule.root = roots[0];
  } else {
    CondNode n{CondNode::kOr};
    n.kids = roots;
    rule.nodes.push_back(std::move(n));
    rule.root = static_cast<int>(rule.nodes.size()) - 1;
  }
  return absl::OkStatus();
}

std::vector<std::string> Strings(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n) return out;  // absent (yaml-cpp throws on type queries of a missing key)
  if (n.IsScalar()) out.push_back(n.Scalar());
  if (n.IsSequence()) {
    for (const YAML::Node& v : n) {
      if (v.IsScalar()) out.push_back(v.Scalar());
    }
  }
  return out;
}

absl::Status Compiler::CompileInfo(const std::string& file, const YAML::Node& doc, RuleInfo& info) {
  info.file = file;
  YAML::Node title = doc["title"];
  if (!title || !title.IsScalar() || title.Scalar().empty()) return Refuse(file, doc.Mark(), "rule has no title");
  info.title = title.Scalar();
  if (YAML::Node id = doc["id"]; id && id.IsScalar()) {
    info.id = id.Scalar();
  } else {
    info.id = info.title;
  }
  if (YAML::Node n = doc["name"]; n && n.IsScalar()) info.name = n.Scalar();
  if (YAML::Node d = doc["description"]; d && d.IsScalar()) info.description = d.Scalar();
  if (YAML::Node a = doc["alert_type"]; a && a.IsScalar()) info.alert_type = a.Scalar();
  info.false_positives = Strings(doc["falsepositives"]);
  if (YAML::Node level = doc["level"]; level) {
    std::string l = level.IsScalar() ? level.Scalar() : "";
    if (l == "informational") {
      info.severity = v1::SEVERITY_INFORMATIONAL;
    } else if (l == "low") {
      info.severity = v1::SEVERITY_LOW;
    } else if (l == "medium") {
      info.severity = v1::SEVERITY_MEDIUM;
    } else if (l == "high") {
      info.severity = v1::SEVERITY_HIGH;
    } else if (l == "critical") {
      info.severity = v1::SEVERITY_CRITICAL;
    } else {
      return Refuse(file, level.Mark(), absl::StrCat("unknown level '", l, "'"));
    }
  }
  for (const std::string& tag : Strings(doc["tags"])) {
    absl::string_view t = tag;
    if (!absl::ConsumePrefix(&t, "attack.")) continue;
    std::string name = absl::AsciiStrToLower(t);
    std::replace(name.begin(), name.end(), '_', '-');
    if (name.size() > 1 && name[0] == 't' && absl::ascii_isdigit(name[1])) {
      info.techniques.push_back(absl::AsciiStrToUpper(name));
    } else if (std::find_if(std::begin(kTactics), std::end(kTactics), [&](const char* k) { return name == k; }) !=
               std::end(kTactics)) {
      info.tactics.push_back(name);
    }
    // attack.gNNNN / attack.sNNNN (groups, software): not carried on alerts.
  }
  auto [it, added] = ids_.try_emplace(info.id, absl::StrCat(file, ":", doc.Mark().line + 1));
  if (!added)
    return Refuse(file, doc.Mark(), absl::StrCat("duplicate rule id ", info.id, " (also at ", it->second, ")"));
  return absl::OkStatus();
}

absl::Status Compiler::CompileRule(const Source& src, const YAML::Node& doc) {
  const std::string& file = src.name;
  Rule rule;
  rule.info.embedded = src.embedded;
  YAML::Node logsource = doc["logsource"];
  if (!logsource || !logsource.IsMap()) return Refuse(file, doc.Mark(), "rule has no logsource");
  if (YAML::Node product = logsource["product"]; product && product.Scalar() != "linux") {
    return Refuse(file, product.Mark(),
                  absl::StrCat("logsource product '", product.Scalar(), "' is not supported (only linux)"));
  }
  if (YAML::Node service = logsource["service"]; service) {
    return Refuse(file, service.Mark(),
                  absl::StrCat("logsource service '", service.Scalar(),
                               "' is not supported (Vigil reads its own events, not logs)"));
  }
  YAML::Node category = logsource["category"];
  if (!category) return Refuse(file, logsource.Mark(), "logsource has no category");
  const Category* cat = FindCategory(category.Scalar());
  if (cat == nullptr) {
    return Refuse(file, category.Mark(), absl::StrCat("logsource category '", category.Scalar(), "' is not supported"));
  }
  rule.category = *cat;

  YAML::Node detection = doc["detection"];
  if (!detection || !detection.IsMap()) return Refuse(file, doc.Mark(), "rule has no detection");
  YAML::Node condition;
  bool has_condition = false;
  for (const auto& kv : detection) {
    std::string name = kv.first.Scalar();
    if (name == "condition") {
      condition = kv.second;
      has_condition = true;
      continue;
    }
    if (name == "timeframe") continue;  // only meaningful with aggregations, which are refused
    Selection sel;
    sel.name = name;
    if (auto st = CompileSelection(file, kv.second, rule.category, sel); !st.ok()) return st;
    rule.selections.push_back(std::move(sel));
  }
  if (!has_condition) return Refuse(file, detection.Mark(), "detection has no condition");
  if (auto st = CompileCondition(file, condition, rule); !st.ok()) return st;
  OrderByCost(rule);
  if (auto st = CompileInfo(file, doc, rule.info); !st.ok()) return st;
  out_.max_selections = std::max(out_.max_selections, rule.selections.size());
  out_.rules.push_back(std::move(rule));
  return absl::OkStatus();
}

absl::Status Compiler::CompileFile(const Source& src) {
  std::vector<YAML::Node> docs;
  try {
    docs = LoadDocuments(src.text);
  } catch (const YAML::Exception& e) {
    return Refuse(src.name, e.mark, absl::StrCat("YAML syntax: ", e.msg));
  }
  for (const YAML::Node& doc : docs) {
    if (doc.IsNull()) continue;
    if (!doc.IsMap()) return Refuse(src.name, doc.Mark(), "a rule must be a YAML map");
    if (doc["action"]) {
      return Refuse(src.name, doc["action"].Mark(), "rule collections (action: global/reset/repeat) are not supported");
    }
    if (doc["correlation"]) {
      correlations_.push_back({src.name, doc, src.embedded});
      continue;
    }
    try {
      if (auto st = CompileRule(src, doc); !st.ok()) return st;
    } catch (const YAML::Exception& e) {
      return Refuse(src.name, e.mark, e.msg);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseTimespan(absl::string_view s) {
  if (s.size() < 2) return absl::InvalidArgumentError("bad timespan");
  int64_t n;
  if (!absl::SimpleAtoi(s.substr(0, s.size() - 1), &n) || n <= 0) return absl::InvalidArgumentError("bad timespan");
  switch (s.back()) {
    case 's':
      return absl::Seconds(n);
    case 'm':
      return absl::Minutes(n);
    case 'h':
      return absl::Hours(n);
    case 'd':
      return absl::Hours(24 * n);
  }
  return absl::InvalidArgumentError("bad timespan");
}

absl::Status Compiler::CompileCorrelations() {
  std::vector<bool> referenced(out_.rules.size()), generate(out_.rules.size());
  for (const PendingCorrelation& pc : correlations_) {
    const std::string& file = pc.file;
    const YAML::Node& doc = pc.doc;
    Correlation c;
    c.info.embedded = pc.embedded;
    YAML::Node corr = doc["correlation"];
    if (!corr.IsMap()) return Refuse(file, corr.Mark(), "correlation must be a map");
    YAML::Node type = corr["type"];
    std::string t = type ? type.Scalar() : "";
    if (t == "event_count") {
      c.type = Correlation::kEventCount;
    } else if (t == "value_count") {
      c.type = Correlation::kValueCount;
    } else if (t == "temporal") {
      c.type = Correlation::kTemporal;
    } else if (t == "temporal_ordered") {
      c.type = Correlation::kTemporalOrdered;
    } else {
      return Refuse(file, type ? type.Mark() : corr.Mark(), absl::StrCat("unknown correlation type '", t, "'"));
    }
    YAML::Node rules = corr["rules"];
    if (!rules) return Refuse(file, corr.Mark(), "correlation has no rules");
    std::vector<YAML::Node> refs;
    if (rules.IsSequence()) {
      for (const YAML::Node& r : rules) refs.push_back(r);
    } else {
      refs.push_back(rules);
    }
    for (const YAML::Node& r : refs) {
      int found = -1;
      for (size_t i = 0; i < out_.rules.size(); ++i) {
        const RuleInfo& info = out_.rules[i].info;
        if (info.name == r.Scalar() || info.id == r.Scalar() || info.title == r.Scalar()) found = static_cast<int>(i);
      }
      if (found < 0)
        return Refuse(file, r.Mark(), absl::StrCat("correlation refers to unknown rule '", r.Scalar(), "'"));
      c.rules.push_back(found);
    }
    if ((c.type == Correlation::kTemporal || c.type == Correlation::kTemporalOrdered) && c.rules.size() < 2) {
      return Refuse(file, rules.Mark(), "temporal correlations need at least two rules");
    }
    YAML::Node span = corr["timespan"] ? corr["timespan"] : corr["timeframe"];
    if (!span) return Refuse(file, corr.Mark(), "correlation has no timespan");
    auto ts = ParseTimespan(span.Scalar());
    if (!ts.ok())
      return Refuse(file, span.Mark(), absl::StrCat("bad timespan '", span.Scalar(), "' (e.g. 30s, 5m, 1h)"));
    c.timespan = *ts;
    auto field_for_all = [&](const YAML::Node& n, FieldRef& ref) -> absl::Status {
      for (int r : c.rules) {
        if (auto st = Field(file, n.Mark(), n.Scalar(), out_.rules[r].category, ref); !st.ok()) return st;
      }
      return absl::OkStatus();
    };
    if (YAML::Node gb = corr["group-by"]; gb) {
      std::vector<YAML::Node> names;
      if (gb.IsSequence()) {
        for (const YAML::Node& g : gb) names.push_back(g);
      } else {
        names.push_back(gb);
      }
      for (const YAML::Node& g : names) {
        FieldRef ref;
        if (auto st = field_for_all(g, ref); !st.ok()) return st;
        c.group_by.push_back(std::move(ref));
      }
    }
    YAML::Node cond = corr["condition"];
    if (c.type == Correlation::kEventCount || c.type == Correlation::kValueCount) {
      if (!cond || !cond.IsMap()) return Refuse(file, corr.Mark(), "correlation needs a condition such as {gte: 10}");
      for (const auto& kv : cond) {
        std::string op = kv.first.Scalar();
        if (op == "field") continue;
        uint64_t n;
        if (!absl::SimpleAtoi(kv.second.Scalar(), &n)) {
          return Refuse(file, kv.second.Mark(),
                        absl::StrCat("type mismatch: '", kv.second.Scalar(), "' is not a count"));
        }
        if (op == "gte") {
          c.min = std::max<uint64_t>(c.min, n);
        } else if (op == "gt") {
          c.min = std::max<uint64_t>(c.min, n + 1);
        } else if (op == "eq") {
          c.min = std::max<uint64_t>(c.min, n);
          c.max = std::min<uint64_t>(c.max, n);
        } else if (op == "lte" || op == "lt" || op == "neq") {
          return Refuse(file, kv.first.Mark(),
                        absl::StrCat("correlation condition ", op,
                                     " is not supported (it holds only when a window closes without events)"));
        } else {
          return Refuse(file, kv.first.Mark(), absl::StrCat("unknown correlation condition '", op, "'"));
        }
      }
      if (c.type == Correlation::kValueCount) {
        YAML::Node field = cond["field"] ? cond["field"] : corr["field"];
        if (!field) return Refuse(file, cond.Mark(), "value_count needs a field");
        if (auto st = field_for_all(field, c.value_field); !st.ok()) return st;
      }
    }
    bool gen = corr["generate"] && corr["generate"].Scalar() == "true";
    if (auto st = CompileInfo(file, doc, c.info); !st.ok()) return st;
    int index = static_cast<int>(out_.correlations.size());
    for (int r : c.rules) {
      referenced[r] = true;
      generate[r] = generate[r] || gen;
      auto& list = out_.rules[r].correlations;
      if (std::find(list.begin(), list.end(), index) == list.end()) list.push_back(index);
      for (v1::EventKind k : GetCategory(out_.rules[r].category).kinds) {
        if (std::find(c.kinds.begin(), c.kinds.end(), k) == c.kinds.end()) c.kinds.push_back(k);
      }
    }
    out_.correlations.push_back(std::move(c));
  }
  // Sigma: a rule that a correlation uses does not alert on its own unless
  // the correlation says `generate: true`.
  for (size_t i = 0; i < out_.rules.size(); ++i) out_.rules[i].generate = !referenced[i] || generate[i];
  return absl::OkStatus();
}

absl::Status Compiler::CompileExceptions(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return absl::OkStatus();
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  out_.sources.push_back(path);
  YAML::Node doc;
  try {
    doc = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Refuse(path, e.mark, absl::StrCat("YAML syntax: ", e.msg));
  }
  if (doc.IsNull()) return absl::OkStatus();
  YAML::Node list = doc.IsMap() ? doc["exceptions"] : YAML::Node();
  if (!list || !list.IsSequence()) return Refuse(path, doc.Mark(), "expected a list under 'exceptions:'");
  for (const YAML::Node& entry : list) {
    if (!entry.IsMap()) return Refuse(path, entry.Mark(), "an exception must be a map");
    Exception ex;
    bool has_rule = false;
    for (const auto& kv : entry) {
      std::string key = kv.first.Scalar();
      std::vector<std::string> values = Strings(kv.second);
      if (key == "rule") {
        ex.rule = kv.second.Scalar();
        has_rule = true;
      } else if (key == "images") {
        ex.images = values;
      } else if (key == "namespaces") {
        ex.namespaces = values;
      } else if (key == "pods") {
        ex.pods = values;
      } else if (key == "processes") {
        ex.processes = values;
      } else if (key != "comment") {
        // An ignored key would widen the exception to everything it did not say.
        return Refuse(path, kv.first.Mark(), absl::StrCat("unknown exception key '", key, "'"));
      }
    }
    if (!has_rule || ex.rule.empty())
      return Refuse(path, entry.Mark(), "exception has no rule (an id, a title or \"*\")");
    out_.exceptions.push_back(std::move(ex));
  }
  return absl::OkStatus();
}

// The lower-case file names a selection requires of Image, when every one
// of its alternatives requires Image to be or end with "/<name>".
bool SelectionImageNames(const Selection& sel, std::vector<std::string>& names) {
  names.clear();
  for (const auto& all_of : sel.alternatives) {
    bool found = false;
    for (const FieldMatch& m : all_of) {
      if (m.field.id != FieldId::kImage || m.kind != FieldMatch::kValues || m.all || m.patterns.empty()) continue;
      bool ok = true;
      for (const Pattern& p : m.patterns) {
        bool suffix = p.op == Pattern::kSuffix && p.text.size() > 1 && p.text[0] == '/' &&
                      p.text.find('/', 1) == std::string::npos;
        bool equals = p.op == Pattern::kEquals && !p.text.empty() && p.text.back() != '/';
        ok = ok && !p.cased && (suffix || equals);
      }
      if (!ok) continue;
      for (const Pattern& p : m.patterns) names.push_back(p.text.substr(p.text.rfind('/') + 1));
      found = true;
      break;
    }
    if (!found) return false;
  }
  return !names.empty();
}

bool RuleImageNames(const Rule& rule, std::vector<std::string>& names) {
  const CondNode& root = rule.nodes[rule.root];
  if (root.type == CondNode::kSelection) return SelectionImageNames(rule.selections[root.selection], names);
  if (root.type == CondNode::kAllOf) {
    for (int s : root.kids) {
      if (SelectionImageNames(rule.selections[s], names)) return true;
    }
  }
  if (root.type == CondNode::kAnd) {
    for (int k : root.kids) {
      const CondNode& kid = rule.nodes[k];
      if (kid.type == CondNode::kSelection && SelectionImageNames(rule.selections[kid.selection], names)) return true;
    }
  }
  return false;
}

// What a rule needs of an event before it can match: that the value of one
// of these fields hold its literal (lower-case). The detector evaluates the
// rule only on events where a search of those values finds one.
struct Need {
  FieldRef field;
  std::string literal;
};
using Needs = std::vector<Need>;

bool HasBool(const Needs& needs) {
  return std::any_of(needs.begin(), needs.end(), [](const Need& n) { return n.field.type == FieldType::kBool; });
}

// The literals one of which a text must hold for a regular expression to
// match it, from RE2's prefilter (the atoms FilteredRE2 would search for),
// lower-cased. Only where lower-casing the value as the index does (ASCII
// only) keeps them: a case-sensitive expression without inline flags, and
// ASCII atoms. False when it may match without any.
bool RegexLiterals(const RE2& re, std::vector<std::string>& literals) {
  if (!re.options().case_sensitive() || absl::StrContains(re.pattern(), "(?")) return false;
  re2::FilteredRE2 filter(/*min_atom_len=*/2);
  int id = 0;
  if (filter.Add(re.pattern(), re.options(), &id) != RE2::NoError) return false;
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::vector<int> without_atoms;
  filter.AllPotentials({}, &without_atoms);
  if (atoms.empty() || !without_atoms.empty()) return false;
  for (const std::string& a : atoms) {
    if (std::any_of(a.begin(), a.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) return false;
  }
  for (std::string& a : atoms) literals.push_back(absl::AsciiStrToLower(a));
  return true;
}

// Appends what `m` needs to match: its field holding (equal to, starting
// with, ending with, containing, or matching a regular expression that
// requires) one of its literals; false when `m` needs no literal. A boolean
// is its text, "true" or "false".
bool MatchNeeds(const FieldMatch& m, Needs& needs) {
  if (m.kind != FieldMatch::kValues || m.all || m.patterns.empty() ||
      (m.field.type != FieldType::kText && m.field.type != FieldType::kBool)) {
    return false;
  }
  std::vector<std::string> literals;
  for (const Pattern& p : m.patterns) {
    if (p.op == Pattern::kRegex) {
      if (!RegexLiterals(*p.re, literals)) return false;
      continue;
    }
    const bool literal =
        p.op == Pattern::kEquals || p.op == Pattern::kPrefix || p.op == Pattern::kSuffix || p.op == Pattern::kContains;
    if (!literal || p.cased || p.text.empty()) return false;
    literals.push_back(p.text);
  }
  for (std::string& l : literals) needs.push_back(Need{m.field, std::move(l)});
  return true;
}

// Appends what one of `candidates` needs, preferring text fields to
// booleans: a boolean's literal is in about half the events (Host is false
// on every container event), a text literal in few. False when none needs
// anything.
template <typename Candidates, typename NeedsOf>
bool AnyNeeds(const Candidates& candidates, NeedsOf needs_of, Needs& needs) {
  Needs found, of_bool;
  for (const auto& c : candidates) {
    found.clear();
    if (!needs_of(c, found)) continue;
    if (!HasBool(found)) {
      needs.insert(needs.end(), found.begin(), found.end());
      return true;
    }
    if (of_bool.empty()) of_bool.swap(found);
  }
  needs.insert(needs.end(), of_bool.begin(), of_bool.end());
  return !of_bool.empty();
}

// Appends what every one of `candidates` needs: false when one needs nothing.
template <typename Candidates, typename NeedsOf>
bool EveryNeeds(const Candidates& candidates, NeedsOf needs_of, Needs& needs) {
  const size_t mark = needs.size();
  for (const auto& c : candidates) {
    if (!needs_of(c, needs)) {
      needs.resize(mark);
      return false;
    }
  }
  return needs.size() > mark;
}

// A selection needs what each of its alternatives (an OR) needs; an
// alternative (an AND) what one of its field matches needs.
bool SelectionNeeds(const Selection& sel, Needs& needs) {
  return EveryNeeds(
      sel.alternatives,
      [](const std::vector<FieldMatch>& all_of, Needs& out) { return AnyNeeds(all_of, MatchNeeds, out); }, needs);
}

// Condition node `index`: an AND needs what one of its parts needs, an OR
// what every part needs. A NOT needs nothing.
bool NodeNeeds(const Rule& rule, int index, Needs& needs) {
  const CondNode& n = rule.nodes[index];
  auto node = [&rule](int k, Needs& out) { return NodeNeeds(rule, k, out); };
  auto selection = [&rule](int s, Needs& out) { return SelectionNeeds(rule.selections[s], out); };
  switch (n.type) {
    case CondNode::kSelection:
      return SelectionNeeds(rule.selections[n.selection], needs);
    case CondNode::kAnd:
      return AnyNeeds(n.kids, node, needs);
    case CondNode::kAllOf:
      return AnyNeeds(n.kids, selection, needs);
    case CondNode::kOr:
      return EveryNeeds(n.kids, node, needs);
    case CondNode::kOneOf:
      return EveryNeeds(n.kids, selection, needs);
    case CondNode::kNot:
      return false;
  }
  return false;
}

bool SameField(const FieldRef& a, const FieldRef& b) { return a.id == b.id && a.slot == b.slot; }

void Compiler::Index() {
  out_.by_kind.clear();
  out_.by_kind.resize(v1::EventKind_MAX + 1);
  // Per kind, per field: each literal once, with the rules that need it.
  struct Literals {
    FieldRef field;
    absl::flat_hash_map<std::string, std::vector<int>> rules;
  };
  std::vector<std::vector<Literals>> literal_index(out_.by_kind.size());
  std::vector<std::string> names;
  Needs needs;
  for (size_t i = 0; i < out_.rules.size(); ++i) {
    bool named = RuleImageNames(out_.rules[i], names);
    needs.clear();
    bool guarded = !named && NodeNeeds(out_.rules[i], out_.rules[i].root, needs);
    for (v1::EventKind k : GetCategory(out_.rules[i].category).kinds) {
      Ruleset::KindIndex& index = out_.by_kind[k];
      if (guarded) {
        std::vector<Literals>& fields = literal_index[k];
        for (const Need& need : needs) {
          auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](const Literals& l) { return SameField(l.field, need.field); });
          if (it == fields.end()) it = fields.insert(fields.end(), Literals{need.field, {}});
          std::vector<int>& list = it->rules[need.literal];
          if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
        }
        continue;
      }
      if (!named) {
        index.always.push_back(static_cast<int>(i));
        continue;
      }
      for (const std::string& name : names) {
        std::vector<int>& list = index.by_image_name[name];
        if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
      }
    }
  }
  for (size_t k = 0; k < literal_index.size(); ++k) {
    for (Literals& l : literal_index[k]) {
      Ruleset::LiteralIndex index{l.field, std::nullopt, {}, {}};
      std::vector<std::string> literals;
      for (auto& [literal, rules] : l.rules) {
        literals.push_back(literal);
        index.rules.push_back(std::move(rules));
      }
      if (literals.size() <= Ruleset::LiteralIndex::kFew) {
        index.few = std::move(literals);
      } else if (auto set = LiteralSet::Build(literals); set.ok()) {
        index.literals = *std::move(set);
      } else {
        // A set too large to index (a threat-intel list expanded into one
        // rule): its rules are tested on every event, slower, never missed.
        for (const std::vector<int>& rules : index.rules) {
          out_.by_kind[k].always.insert(out_.by_kind[k].always.end(), rules.begin(), rules.end());
        }
        continue;
      }
      out_.by_kind[k].by_literal.push_back(std::move(index));
    }
    std::vector<int>& always = out_.by_kind[k].always;
    std::sort(always.begin(), always.end());
    always.erase(std::unique(always.begin(), always.end()), always.end());
  }
}

absl::flat_hash_map<uint32_t, std::string> ReadPasswd(const std::string& path) {
  absl::flat_hash_map<uint32_t, std::string> users;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    uint32_t uid;
    if (f.size() >= 3 && absl::SimpleAtoi(f[2], &uid)) users.try_emplace(uid, f[0]);
  }
  return users;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Ruleset>> Compile(const CompileOptions& options) {
  auto out = std::make_shared<Ruleset>();
  std::vector<Source> user;
  if (auto st = CollectFiles(options.rule_paths, user); !st.ok()) return st;
  Compiler compiler(options, *out);
  absl::flat_hash_set<std::string> user_ids;
  if (options.embedded_rules) {
    // A user rule with the id of a default one replaces it: that is how a
    // default rule is tuned without editing the binary. Peek at the ids first.
    for (const Source& s : user) {
      try {
        for (const YAML::Node& doc : LoadDocuments(s.text)) {
          if (doc.IsMap() && doc["id"] && doc["id"].IsScalar()) user_ids.insert(doc["id"].Scalar());
        }
      } catch (const YAML::Exception&) {
        // Reported with its position when the file is compiled below.
      }
    }
    for (const EmbeddedFile& f : EmbeddedRuleFiles()) {
      Source src{absl::StrCat("embedded:", f.name), std::string(f.text), true};
      std::string filtered;
      try {
        std::vector<YAML::Node> docs = LoadDocuments(src.text);
        bool overridden = false;
        for (const YAML::Node& doc : docs) {
          if (doc.IsMap() && doc["id"] && user_ids.contains(doc["id"].Scalar())) overridden = true;
        }
        if (overridden) {
          // Rare: compile the file's other documents only.
          std::vector<std::string> keep;
          for (const YAML::Node& doc : docs) {
            if (doc.IsMap() && doc["id"] && user_ids.contains(doc["id"].Scalar())) continue;
            YAML::Emitter e;
            e << doc;
            keep.push_back(e.c_str());
          }
          src.text = absl::StrJoin(keep, "\n---\n");
        }
      } catch (const YAML::Exception&) {
      }
      if (auto st = compiler.CompileFile(src); !st.ok()) return st;
    }
    out->sources.push_back("embedded rules");
  }
  for (const Source& s : user) {
    if (auto st = compiler.CompileFile(s); !st.ok()) return st;
  }
  out->sources.insert(out->sources.end(), options.rule_paths.begin(), options.rule_paths.end());
  if (auto st = compiler.CompileCorrelations(); !st.ok()) return st;
  if (auto st = compiler.CompileExceptions(options.exceptions_file); !st.ok()) return st;
  compiler.Index();
  out->users = ReadPasswd(options.passwd_file);
  out->loaded = absl::Now();
  return out;
}

}  // namespace vigil::rules
