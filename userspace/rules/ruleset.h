#pragma once

// The compiled form of a set of Sigma rules (internal to userspace/rules).
// Everything a rule refers to is resolved at load time: fields to slots with
// an extractor, values to lower-cased patterns or RE2 programs, selection
// names to indices, so that evaluating an event costs no string lookups.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "re2/re2.h"
#include "rules/literal_set.h"
#include "vigil/v1/event.pb.h"

namespace vigil {
class ProcessView;
struct CachedProcess;
}  // namespace vigil

namespace vigil::rules {

// Sigma logsource categories, and Vigil's own for the security syscalls.
enum class Category : uint8_t {
  kProcessCreation,
  kProcessTermination,
  kFileEvent,
  kFileAccess,
  kFileDelete,
  kFileRename,
  kFileChange,
  kNetworkConnection,
  kDnsQuery,
  kDnsResponse,
  kListen,
  kBind,
  kPtrace,
  kSetns,
  kUnshare,
  kCloneNs,
  kMount,
  kUmount,
  kModuleLoad,
  kBpfProgLoad,
  kMemfdCreate,
  kSetid,
  kCapset,
  kKill,
  kCount,
};

struct CategoryInfo {
  const char* name;
  std::vector<v1::EventKind> kinds;
};
const CategoryInfo& GetCategory(Category c);
// Null when `name` is no category Vigil knows.
const Category* FindCategory(absl::string_view name);
// file_event sees FILE_OPEN only when the file was opened to be written.
bool CategoryAccepts(Category c, const v1::Event& event);

enum class FieldType : uint8_t { kText, kNumber, kBool, kIp };

// The fields of DETECTION.md. Every one has a slot in the per-event context
// with the same number; protobuf paths get the slots after kCount.
enum class FieldId : uint16_t {
  kImage,
  kCommandLine,
  kCurrentDirectory,
  kProcessId,
  kParentProcessId,
  kUser,
  kParentImage,
  kParentCommandLine,
  kTargetFilename,
  kSourceFilename,
  kDestinationIp,
  kDestinationPort,
  kDestinationHostname,
  kSourceIp,
  kSourcePort,
  kInitiated,
  kProtocol,
  kQueryName,
  kQueryType,
  kQueryResults,
  kDnsServer,
  kComm,
  kUid,
  kEuid,
  kGid,
  kEgid,
  kNode,
  kPodName,
  kPodNamespace,
  kPodUid,
  kContainerId,
  kContainerName,
  kContainerImage,
  kHost,
  kAncestorImages,
  kAncestorCommandLines,
  kStdinType,
  kStdoutType,
  kStderrType,
  kStdioRemoteIp,
  kStdioRemotePort,
  kUpperLayer,
  kMemfd,
  kDeleted,
  kSetuid,
  kSetgid,
  kFileCaps,
  kCount,
  kProtoPath = kCount,  // any other field, by its protobuf JSON path
};

// A field reference as resolved at load time.
struct FieldRef {
  FieldId id = FieldId::kCount;
  FieldType type = FieldType::kText;
  int slot = 0;
  std::vector<const google::protobuf::FieldDescriptor*> path;  // kProtoPath only
  std::string name;                                            // as the rule spells it
};

// Resolves a rule's field name for a category; an error message when the
// field does not exist there.
bool ResolveField(absl::string_view name, Category category, FieldRef& out, std::string& error);

// One matcher for one value of a field.
struct Pattern {
  enum Op : uint8_t { kEquals, kPrefix, kSuffix, kContains, kGlob, kRegex, kCidr, kGt, kGte, kLt, kLte, kNull };
  Op op = kEquals;
  bool cased = false;      // compare the raw value, not its lower case
  std::string text;        // lower-cased unless `cased`; glob: the pattern
  std::vector<bool> wild;  // glob: text[i] is a wildcard ('*' or '?'), not a literal
  std::shared_ptr<const RE2> re;
  // cidr: the network, 16 bytes (IPv4 as ::ffff:a.b.c.d) and prefix length in bits
  uint8_t net[16] = {};
  int prefix_bits = 0;
  double number = 0;

  bool Match(absl::string_view raw, absl::string_view lower) const;
};

// `field|modifiers: values` in a selection.
struct FieldMatch {
  FieldRef field;
  enum Kind : uint8_t { kValues, kExists, kAbsent } kind = kValues;
  bool all = false;  // every pattern must match (`|all`), else any
  std::vector<Pattern> patterns;
};

// A named search: OR over alternatives, each an AND of field matches.
struct Selection {
  std::string name;
  std::vector<std::vector<FieldMatch>> alternatives;
};

struct CondNode {
  enum Type : uint8_t { kSelection, kAnd, kOr, kNot, kOneOf, kAllOf } type;
  int selection = -1;     // kSelection
  std::vector<int> kids;  // kAnd, kOr, kNot: nodes; kOneOf, kAllOf: selections
};

// What a rule has done since it was loaded. Written by the pipeline only, one
// thread at a time (plain load + store, no read-modify-write), read by Stats().
struct RuleCounters {
  std::atomic<uint64_t> evaluations{0};
  std::atomic<uint64_t> matches{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> eval_nanos{0};
  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// What an alert says about its rule.
struct RuleInfo {
  std::string id;
  std::string title;
  std::string name;  // Sigma `name:`, for correlations to refer to
  std::string description;
  std::string file;
  std::string alert_type;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  std::vector<std::string> tactics;
  std::vector<std::string> techniques;
  std::vector<std::string> false_positives;
  bool embedded = false;
  std::unique_ptr<RuleCounters> counters = std::make_unique<RuleCounters>();
};

struct Rule {
  RuleInfo info;
  Category category = Category::kProcessCreation;
  std::vector<Selection> selections;
  std::vector<CondNode> nodes;
  int root = 0;
  bool generate = true;           // alerts on its own (false when only a correlation uses it)
  std::vector<int> correlations;  // correlation rules fed by this one
};

struct Correlation {
  enum Type : uint8_t { kEventCount, kValueCount, kTemporal, kTemporalOrdered };
  RuleInfo info;
  Type type = kEventCount;
  std::vector<int> rules;  // base rules, in the order given
  std::vector<FieldRef> group_by;
  FieldRef value_field;  // value_count
  absl::Duration timespan;
  // Condition on the count (event_count, value_count): every bound set holds.
  // Only lower bounds (gt, gte, eq with its upper bound) fire, at the event
  // that reaches them.
  uint64_t min = 1;
  uint64_t max = UINT64_MAX;
  std::vector<v1::EventKind> kinds;
};

// An exception entry (the user's exceptions file).
struct Exception {
  std::string rule;                                              // id, title or "*"
  std::vector<std::string> images, namespaces, pods, processes;  // globs
};

struct Ruleset {
  std::vector<Rule> rules;
  std::vector<Correlation> correlations;
  // The rules of one event kind. A rule that can only match when Image has
  // one of a few file names (an `Image|endswith: /name` selection ANDed at
  // its root) is listed under those names and evaluated only on them.
  // Otherwise, a rule that can only match when one of some text or boolean
  // fields holds one of a few literals (its condition needs a field to
  // equal, start with, end with or contain one, or to match a regular
  // expression that needs one: an AND through one of its parts, a text
  // field before a boolean, an OR through all, whatever field each tests)
  // is listed under each of those fields and literals: a search of the
  // event's values (see LiteralIndex) finds the literals they hold, and
  // only their rules are evaluated.
  struct LiteralIndex {
    // Up to this many literals are looked for one by one, in `few`: a
    // substring search each costs a little less than a pass of the set on
    // the short values most fields hold (callgrind, detection in BM_Detect
    // and on recorded records: ~3 % fewer instructions, ~25 % fewer L1
    // data misses).
    static constexpr size_t kFew = 4;
    FieldRef field;
    std::optional<LiteralSet> literals;   // lower-cased; none when few
    std::vector<std::vector<int>> rules;  // by literal, as added to the set or to `few`
    std::vector<std::string> few;         // lower-cased
  };
  struct KindIndex {
    std::vector<int> always;
    absl::flat_hash_map<std::string, std::vector<int>> by_image_name;
    std::vector<LiteralIndex> by_literal;
    bool empty() const { return always.empty() && by_image_name.empty() && by_literal.empty(); }
  };
  std::vector<KindIndex> by_kind;  // indexed by event kind
  int slots = static_cast<int>(FieldId::kCount);
  size_t max_selections = 0;
  std::vector<Exception> exceptions;
  absl::flat_hash_map<uint32_t, std::string> users;  // uid -> name, from /etc/passwd
  std::vector<std::string> sources;
  absl::Time loaded;
};

// Per-event values of the fields the rules use, extracted once per event.
// Values are views: into the event (or the process view) where the field is
// stored as is, into buffers reused from event to event where it is composed
// (command lines, numbers). The lower-cased view is the raw one unless the
// value holds an upper-case letter, so most values are never copied.
class EventContext {
 public:
  void Reset(const Ruleset& rules, const ProcessView* processes, const v1::Event& event);
  // The values of a field (several for list fields); empty when absent.
  // Valid until the next Reset.
  struct Values {
    const absl::string_view* raw;
    const absl::string_view* lower;
    size_t size;
  };
  Values Get(const FieldRef& field);
  const v1::Event& event() const { return *event_; }
  std::vector<int8_t>& selection_memo() { return memo_; }

 private:
  struct Slot {
    uint64_t generation = 0;
    std::vector<absl::string_view> raw;
    std::vector<absl::string_view> lower;
    // Composed and lower-cased values; unique_ptr keeps each buffer (and the
    // views into it) in place while the vector grows, and its capacity from
    // event to event.
    std::vector<std::unique_ptr<std::string>> buffers;
    size_t buffers_used = 0;
  };
  // A buffer for a composed value of `slot`, empty; View() it once filled.
  static std::string& Buffer(Slot& slot);
  void Extract(const FieldRef& field, Slot& slot);
  // A parent or an ancestor: the event's own (exec events carry them) or,
  // for other events, the process cache's. One of the two is set.
  struct Ancestor {
    const v1::Process* event = nullptr;
    const CachedProcess* cached = nullptr;
  };
  // Both null when there is none.
  Ancestor Parent();
  void Ancestors();

  const Ruleset* rules_ = nullptr;
  const ProcessView* processes_ = nullptr;
  const v1::Event* event_ = nullptr;
  uint64_t generation_ = 0;
  std::vector<Slot> slots_;
  std::vector<int8_t> memo_;
  // Ancestors walked through the process view, once per event when asked.
  uint64_t ancestors_generation_ = 0;
  std::vector<Ancestor> ancestors_;
};

bool EvaluateRule(const Rule& rule, EventContext& ctx);
bool MatchField(const FieldMatch& m, EventContext& ctx);

// Shell-style glob, as exceptions use ('*' and '?', case-sensitive).
bool GlobMatch(absl::string_view pattern, absl::string_view text);
// An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d).
bool ParseIpAddress(absl::string_view text, uint8_t out[16]);

// Where a ruleset comes from (SigmaDetectorOptions, without the runtime parts).
struct CompileOptions {
  std::vector<std::string> rule_paths;
  bool embedded_rules = true;
  std::string exceptions_file;
  std::string lists_dir;
  std::string passwd_file = "/etc/passwd";
};
// Reads and compiles every source; the first rule that cannot be honoured
// fails it all with "file:line:column: reason".
absl::StatusOr<std::shared_ptr<Ruleset>> Compile(const CompileOptions& options);

}  // namespace vigil::rules
