#include "rules/sigma_detector.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>

#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/timestamp.h"
#include "common/utf8.h"
#include "rules/ruleset.h"

namespace vigil {
namespace {

using rules::Correlation;
using rules::Rule;
using rules::RuleCounters;
using rules::RuleInfo;
using rules::Ruleset;

absl::Time EventTime(const v1::Event& e) {
  return absl::FromUnixSeconds(e.time().seconds()) + absl::Nanoseconds(e.time().nanos());
}

rules::CompileOptions ToCompileOptions(const SigmaDetectorOptions& o) {
  rules::CompileOptions c;
  c.rule_paths = o.rule_paths;
  c.embedded_rules = o.embedded_rules;
  c.exceptions_file = o.exceptions_file;
  c.lists_dir = o.lists_dir;
  return c;
}

// Correlation alerts and window-closing alerts name a bounded number of
// triggering events; `count` says how many there were.
constexpr int kMaxEventIds = 16;
// Bounds on state kept for noisy rules, so that memory stays bounded.
constexpr size_t kMaxAggregations = 65536;
constexpr size_t kMaxGroups = 16384;
constexpr size_t kMaxHitsPerGroup = 4096;
// One evaluation in this many is timed; eval_nanos is scaled up by it.
constexpr uint64_t kTimingSample = 64;

class SigmaDetectorImpl : public SigmaDetector {
 public:
  SigmaDetectorImpl(SigmaDetectorOptions options, const ProcessView* processes, std::shared_ptr<Ruleset> rules)
      : options_(std::move(options)), processes_(processes), active_(rules), current_(std::move(rules)) {
    corr_state_.resize(active_->correlations.size());
  }

  void Evaluate(const v1::Event& event, std::vector<v1::Event>& alerts) override {
    Adopt();
    const Ruleset& rs = *active_;
    size_t kind = static_cast<size_t>(event.kind());
    if (kind >= rs.by_kind.size() || rs.by_kind[kind].empty()) return;
    ctx_.Reset(rs, processes_, event);
    const Ruleset::KindIndex& index = rs.by_kind[kind];
    if (index.by_literal.empty()) {
      for (int r : index.always) EvaluateOne(rs, r, event, alerts);
    } else {
      // The rules whose literals the event holds join the others, in rule order as before.
      candidates_.assign(index.always.begin(), index.always.end());
      for (const Ruleset::LiteralIndex& l : index.by_literal) {
        rules::EventContext::Values v = ctx_.Get(l.field);
        for (size_t i = 0; i < v.size; ++i) {
          if (!l.literals.has_value()) {
            for (size_t m = 0; m < l.few.size(); ++m) {
              if (absl::StrContains(v.lower[i], l.few[m])) {
                candidates_.insert(candidates_.end(), l.rules[m].begin(), l.rules[m].end());
              }
            }
            continue;
          }
          matched_.clear();
          if (l.literals->Find(v.lower[i], matched_)) {
            for (int m : matched_) candidates_.insert(candidates_.end(), l.rules[m].begin(), l.rules[m].end());
          }
        }
      }
      if (candidates_.size() > index.always.size()) {
        std::sort(candidates_.begin(), candidates_.end());
        candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());
      }
      for (int r : candidates_) EvaluateOne(rs, r, event, alerts);
    }
    if (index.by_image_name.empty()) return;
    static const rules::FieldRef kImage = [] {
      rules::FieldRef f;
      std::string unused;
      rules::ResolveField("Image", rules::Category::kProcessCreation, f, unused);
      return f;
    }();
    rules::EventContext::Values image = ctx_.Get(kImage);
    if (image.size == 0) return;
    absl::string_view name = *image.lower;
    name.remove_prefix(name.rfind('/') + 1);
    auto it = index.by_image_name.find(name);
    if (it == index.by_image_name.end()) return;
    for (int r : it->second) EvaluateOne(rs, r, event, alerts);
  }

  void Tick(absl::Time now, std::vector<v1::Event>& alerts) override {
    Adopt();
    for (auto it = aggregation_.begin(); it != aggregation_.end();) {
      if (it->second.window_end <= now) {
        Close(it->second, alerts);
        aggregation_.erase(it++);
      } else {
        ++it;
      }
    }
    const Ruleset& rs = *active_;
    for (size_t c = 0; c < corr_state_.size(); ++c) {
      absl::Time horizon = now - rs.correlations[c].timespan;
      for (auto it = corr_state_[c].begin(); it != corr_state_[c].end();) {
        Expire(it->second, horizon);
        if (it->second.hits.empty()) {
          corr_state_[c].erase(it++);
        } else {
          ++it;
        }
      }
    }
  }

  DetectorStats Stats() const override {
    DetectorStats stats;
    std::shared_ptr<Ruleset> rs;
    {
      absl::MutexLock lock(&mu_);
      // Rules a reload compiled are listed at once, though the pipeline
      // takes them only between two events: once a reload is counted, the
      // list must not show the rules it replaced.
      rs = pending_ != nullptr ? pending_ : current_;
      stats.rules.set_reloads(reloads_);
      stats.rules.set_reload_failures(reload_failures_);
      stats.rules.set_last_error(last_error_);
    }
    SetTimestamp(rs->loaded, stats.rules.mutable_loaded());
    for (const std::string& s : rs->sources) stats.rules.add_sources(s);
    auto add = [&](const RuleInfo& info, const std::vector<v1::EventKind>& kinds, bool correlation) {
      v1::RuleStatus* r = stats.rules.add_rules();
      r->set_id(info.id);
      r->set_title(info.title);
      r->set_file(info.file);
      r->set_severity(info.severity);
      for (const std::string& t : info.tactics) r->add_tactics(t);
      for (const std::string& t : info.techniques) r->add_techniques(t);
      for (v1::EventKind k : kinds) r->add_kinds(k);
      r->set_correlation(correlation);
      r->set_evaluations(info.counters->evaluations.load(std::memory_order_relaxed));
      r->set_matches(info.counters->matches.load(std::memory_order_relaxed));
      r->set_alerts(info.counters->alerts.load(std::memory_order_relaxed));
      r->set_eval_nanos(info.counters->eval_nanos.load(std::memory_order_relaxed));
    };
    for (const Rule& rule : rs->rules) add(rule.info, rules::GetCategory(rule.category).kinds, false);
    for (const Correlation& c : rs->correlations) add(c.info, c.kinds, true);
    stats.alerts = alerts_.load(std::memory_order_relaxed);
    stats.suppressed = suppressed_.load(std::memory_order_relaxed);
    return stats;
  }

  absl::Status Reload() override {
    absl::MutexLock serial(&reload_mu_);
    auto compiled = rules::Compile(ToCompileOptions(options_));
    absl::MutexLock lock(&mu_);
    if (!compiled.ok()) {
      ++reload_failures_;
      // A file that turned to garbage puts its bytes into the error (the
      // YAML parser quotes what it could not read). ListRules and Status
      // carry it in protobuf strings, which must be UTF-8 or neither answer
      // can be sent at all; a log line must not carry its controls.
      last_error_ = SanitizeUtf8(compiled.status().message());
      Logger("rules")->error("reload failed, the rules in force stay: {}", EscapeControls(last_error_));
      return absl::Status(compiled.status().code(), last_error_);
    }
    ++reloads_;
    last_error_.clear();
    Logger("rules")->info("reloaded {} rules and {} correlations", (*compiled)->rules.size(),
                          (*compiled)->correlations.size());
    pending_ = *std::move(compiled);
    has_pending_.store(true, std::memory_order_release);
    return absl::OkStatus();
  }

 private:
  struct Aggregate {
    absl::Time window_end;
    uint64_t count = 1;
    absl::Time last;
    v1::Event alert;                 // the alert sent first
    std::shared_ptr<Ruleset> owner;  // keeps `counters` alive across a reload
    RuleCounters* counters = nullptr;
  };
  struct Hit {
    absl::Time time;
    int pos;  // index into the correlation's rules
    std::string value;
    std::string event_id;
  };
  // Kept incrementally, so that a base rule that matches often costs O(1)
  // per event, not a scan of the window.
  struct Group {
    std::deque<Hit> hits;
    absl::flat_hash_map<std::string, uint32_t> values;  // value_count: distinct values in the window
    std::vector<uint32_t> per_rule;                     // hits per base rule in the window
  };

  void EvaluateOne(const Ruleset& rs, int index, const v1::Event& event, std::vector<v1::Event>& alerts) {
    const Rule& rule = rs.rules[index];
    RuleCounters& counters = *rule.info.counters;
    uint64_t evaluations = counters.evaluations.load(std::memory_order_relaxed);
    counters.evaluations.store(evaluations + 1, std::memory_order_relaxed);
    if (!rules::CategoryAccepts(rule.category, event)) return;
    bool matched;
    if (evaluations % kTimingSample == 0) {
      auto start = std::chrono::steady_clock::now();
      matched = rules::EvaluateRule(rule, ctx_);
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
      RuleCounters::Add(counters.eval_nanos, static_cast<uint64_t>(ns.count()) * kTimingSample);
    } else {
      matched = rules::EvaluateRule(rule, ctx_);
    }
    if (!matched) return;
    RuleCounters::Add(counters.matches, 1);
    if (rule.generate) {
      Emit(rule.info, event, alerts, [&](v1::Alert& a) {
        a.add_event_ids(event.id());
        SetTimestamp(EventTime(event), a.mutable_first_time());
        SetTimestamp(EventTime(event), a.mutable_last_time());
        a.set_count(1);
      });
    }
    for (int c : rule.correlations) Feed(c, index, event, alerts);
  }

  // Takes rules that Reload() compiled, between two events.
  void Adopt() {
    if (!has_pending_.load(std::memory_order_acquire)) return;
    absl::MutexLock lock(&mu_);
    active_ = std::move(pending_);
    current_ = active_;
    has_pending_.store(false, std::memory_order_relaxed);
    // Correlation state refers to rules by index: it starts afresh.
    corr_state_.assign(active_->correlations.size(), {});
  }

  bool Excepted(const RuleInfo& info, const v1::Event& e) const {
    auto any = [](const std::vector<std::string>& globs, const std::string& value) {
      if (globs.empty()) return true;
      for (const std::string& g : globs) {
        if (rules::GlobMatch(g, value)) return true;
      }
      return false;
    };
    for (const rules::Exception& ex : active_->exceptions) {
      if (ex.rule != "*" && ex.rule != info.id && ex.rule != info.title) continue;
      if (any(ex.images, e.workload().image()) && any(ex.namespaces, e.workload().pod_namespace()) &&
          any(ex.pods, e.workload().pod_name()) && any(ex.processes, e.process().exe())) {
        return true;
      }
    }
    return false;
  }

  // A match becomes an alert unless excepted or folded into an earlier one.
  // `fill` writes the alert's own fields; it runs only for a new alert, as a
  // rule that matches often mostly folds.
  void Emit(const RuleInfo& info, const v1::Event& trigger, std::vector<v1::Event>& alerts,
            absl::FunctionRef<void(v1::Alert&)> fill) {
    if (Excepted(info, trigger)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    absl::Time t = EventTime(trigger);
    const v1::Workload& w = trigger.workload();
    // The rule (its id's length first, as an id may hold any byte), then the
    // container, or the process outside one.
    std::string& key = aggregation_key_;
    key.clear();
    if (!w.host() && !w.container_id().empty()) {
      absl::StrAppend(&key, info.id.size(), ":", info.id, "c:", w.container_id());
    } else {
      absl::StrAppend(&key, info.id.size(), ":", info.id, "p:", trigger.process().exec_id());
    }
    auto it = aggregation_.find(key);
    if (it != aggregation_.end()) {
      if (t < it->second.window_end) {
        ++it->second.count;
        it->second.last = std::max(it->second.last, t);
        suppressed_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      Close(it->second, alerts);
      aggregation_.erase(it);
    }
    v1::Event alert;
    alert.set_kind(v1::EVENT_KIND_ALERT);
    *alert.mutable_time() = trigger.time();
    alert.set_node(options_.node.empty() ? trigger.node() : options_.node);
    *alert.mutable_process() = trigger.process();
    *alert.mutable_ancestors() = trigger.ancestors();
    *alert.mutable_workload() = trigger.workload();
    v1::Alert* a = alert.mutable_alert();
    fill(*a);
    a->set_rule_id(info.id);
    a->set_title(info.title);
    a->set_severity(info.severity);
    for (const std::string& s : info.tactics) a->add_tactics(s);
    for (const std::string& s : info.techniques) a->add_techniques(s);
    a->set_alert_type(info.alert_type);
    a->set_description(info.description);
    a->set_rule_file(info.file);
    for (const std::string& s : info.false_positives) a->add_false_positives(s);
    RuleCounters::Add(info.counters->alerts, 1);
    alerts_.fetch_add(1, std::memory_order_relaxed);
    if (aggregation_.size() < kMaxAggregations) {
      Aggregate& agg = aggregation_[key];
      agg.window_end = t + options_.aggregation_window;
      agg.last = t;
      agg.alert = alert;
      agg.owner = active_;
      agg.counters = info.counters.get();
    }
    alerts.push_back(std::move(alert));
  }

  void Close(Aggregate& agg, std::vector<v1::Event>& alerts) {
    if (agg.count <= 1) return;
    v1::Event alert = std::move(agg.alert);
    v1::Alert* a = alert.mutable_alert();
    a->set_aggregated(true);
    a->set_count(agg.count);
    SetTimestamp(agg.last, a->mutable_last_time());
    RuleCounters::Add(agg.counters->alerts, 1);
    alerts_.fetch_add(1, std::memory_order_relaxed);
    alerts.push_back(std::move(alert));
  }

  static void PopFront(Group& g) {
    const Hit& h = g.hits.front();
    --g.per_rule[h.pos];
    if (auto it = g.values.find(h.value); it != g.values.end() && --it->second == 0) g.values.erase(it);
    g.hits.pop_front();
  }
  static void Expire(Group& g, absl::Time horizon) {
    while (!g.hits.empty() && g.hits.front().time < horizon) PopFront(g);
  }

  // A base rule of correlation `c` matched `event`.
  void Feed(int c, int rule, const v1::Event& event, std::vector<v1::Event>& alerts) {
    const Correlation& corr = active_->correlations[c];
    std::string& key = group_key_;
    key.clear();
    for (const rules::FieldRef& f : corr.group_by) {
      rules::EventContext::Values v = ctx_.Get(f);
      for (size_t i = 0; i < v.size; ++i) absl::StrAppend(&key, v.raw[i], "\x1f");
      key.push_back('\x1e');
    }
    int pos = static_cast<int>(std::find(corr.rules.begin(), corr.rules.end(), rule) - corr.rules.begin());
    Hit hit{EventTime(event), pos, "", event.id()};
    if (corr.type == Correlation::kValueCount) {
      rules::EventContext::Values v = ctx_.Get(corr.value_field);
      if (v.size == 0) return;  // no value to count
      hit.value = std::string(v.raw[0]);
    }
    auto& groups = corr_state_[c];
    auto group = groups.find(key);
    if (group == groups.end()) {
      if (groups.size() >= kMaxGroups) return;
      group = groups.try_emplace(key).first;
    }
    Group& g = group->second;
    g.per_rule.resize(corr.rules.size());
    Expire(g, hit.time - corr.timespan);
    ++g.per_rule[hit.pos];
    if (corr.type == Correlation::kValueCount) ++g.values[hit.value];
    g.hits.push_back(std::move(hit));
    if (g.hits.size() > kMaxHitsPerGroup) PopFront(g);

    bool fire = false;
    switch (corr.type) {
      case Correlation::kEventCount:
        fire = g.hits.size() >= corr.min && g.hits.size() <= corr.max;
        break;
      case Correlation::kValueCount:
        fire = g.values.size() >= corr.min && g.values.size() <= corr.max;
        break;
      case Correlation::kTemporal:
      case Correlation::kTemporalOrdered: {
        fire = std::all_of(g.per_rule.begin(), g.per_rule.end(), [](uint32_t n) { return n > 0; });
        if (fire && corr.type == Correlation::kTemporalOrdered) {
          size_t next = 0;
          for (const Hit& h : g.hits) {
            if (next < corr.rules.size() && h.pos == static_cast<int>(next)) ++next;
          }
          fire = next == corr.rules.size();
        }
        break;
      }
    }
    if (!fire) return;
    RuleCounters::Add(corr.info.counters->matches, 1);
    Emit(corr.info, event, alerts, [&](v1::Alert& a) {
      int skip = std::max(0, static_cast<int>(g.hits.size()) - kMaxEventIds);
      for (size_t i = skip; i < g.hits.size(); ++i) a.add_event_ids(g.hits[i].event_id);
      SetTimestamp(g.hits.front().time, a.mutable_first_time());
      SetTimestamp(g.hits.back().time, a.mutable_last_time());
      a.set_count(g.hits.size());
    });
    groups.erase(group);
  }

  const SigmaDetectorOptions options_;
  const ProcessView* const processes_;

  // Pipeline thread only.
  std::shared_ptr<Ruleset> active_;
  rules::EventContext ctx_;
  std::vector<int> candidates_, matched_;                    // Evaluate()'s, kept for their capacity
  absl::flat_hash_map<std::string, Aggregate> aggregation_;  // by the key Emit() composes
  std::string aggregation_key_, group_key_;                  // Emit()'s and Feed()'s, kept for their capacity
  std::vector<absl::flat_hash_map<std::string, Group>> corr_state_;

  absl::Mutex reload_mu_;  // one Reload() at a time
  mutable absl::Mutex mu_;
  std::shared_ptr<Ruleset> current_ ABSL_GUARDED_BY(mu_);  // the rules in force, for Stats()
  std::shared_ptr<Ruleset> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reload_failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> has_pending_{false};
  std::atomic<uint64_t> alerts_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<SigmaDetector>> SigmaDetector::Create(SigmaDetectorOptions options,
                                                                     const ProcessView* processes) {
  auto compiled = rules::Compile(ToCompileOptions(options));
  if (!compiled.ok()) return compiled.status();
  Logger("rules")->info("loaded {} rules and {} correlations", (*compiled)->rules.size(),
                        (*compiled)->correlations.size());
  return std::make_unique<SigmaDetectorImpl>(std::move(options), processes, *std::move(compiled));
}

absl::StatusOr<size_t> CheckRules(const std::vector<std::string>& paths, const std::string& lists_dir) {
  rules::CompileOptions options;
  options.rule_paths = paths;
  options.embedded_rules = false;
  options.lists_dir = lists_dir;
  auto compiled = rules::Compile(options);
  if (!compiled.ok()) return compiled.status();
  return (*compiled)->rules.size() + (*compiled)->correlations.size();
}

}  // namespace vigil
