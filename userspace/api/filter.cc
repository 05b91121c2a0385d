#include "api/filter.h"

#include <fnmatch.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace vigil {

namespace {

template <typename List, typename Pred>
bool AnyOrEmpty(const List& list, Pred pred) {
  return list.empty() || std::any_of(list.begin(), list.end(), pred);
}

// "EVENT_KIND_EXEC" -> "exec", the name vigilctl takes.
std::string ShortKindName(int kind) {
  std::string name(v1::EventKind_Name(static_cast<v1::EventKind>(kind)));
  if (name.empty()) return absl::StrCat(kind);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "EVENT_KIND_"));
}

}  // namespace

absl::StatusOr<EventFilter> EventFilter::Create(const v1::TailFilter& filter) {
  std::shared_ptr<const RE2> process;
  if (!filter.process().empty()) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const RE2>(filter.process(), options);
    if (!re->ok()) {
      return absl::InvalidArgumentError(absl::StrCat("process regex '", filter.process(), "': ", re->error()));
    }
    process = std::move(re);
  }
  return EventFilter(filter, std::move(process));
}

bool EventFilter::Matches(const v1::Event& e) const {
  const v1::Workload& w = e.workload();
  const v1::Process& p = e.process();
  const bool in_container = !w.container_id().empty();
  if (filter_.scope() == v1::SCOPE_HOST && in_container) return false;
  if (filter_.scope() == v1::SCOPE_CONTAINERS && !in_container) return false;
  return AnyOrEmpty(filter_.kinds(), [&](int k) { return k == e.kind(); }) &&
         AnyOrEmpty(filter_.namespaces(), [&](const std::string& ns) { return ns == w.pod_namespace(); }) &&
         AnyOrEmpty(filter_.pods(),
                    [&](const std::string& glob) {
                      return !w.pod_name().empty() && fnmatch(glob.c_str(), w.pod_name().c_str(), 0) == 0;
                    }) &&
         AnyOrEmpty(filter_.containers(),
                    [&](const std::string& c) {
                      return (in_container && absl::StartsWith(w.container_id(), c)) || c == w.container_name();
                    }) &&
         AnyOrEmpty(filter_.pids(), [&](uint32_t pid) { return pid == p.pid(); }) &&
         (process_ == nullptr || RE2::PartialMatch(p.comm(), *process_) || RE2::PartialMatch(p.exe(), *process_));
}

std::string EventFilter::Describe() const {
  std::vector<std::string> parts;
  if (!filter_.kinds().empty()) {
    parts.push_back(absl::StrCat(
        "kinds=", absl::StrJoin(filter_.kinds(), ",", [](std::string* out, int k) { *out += ShortKindName(k); })));
  }
  if (!filter_.namespaces().empty())
    parts.push_back(absl::StrCat("namespace=", absl::StrJoin(filter_.namespaces(), ",")));
  if (!filter_.pods().empty()) parts.push_back(absl::StrCat("pod=", absl::StrJoin(filter_.pods(), ",")));
  if (!filter_.containers().empty())
    parts.push_back(absl::StrCat("container=", absl::StrJoin(filter_.containers(), ",")));
  if (!filter_.pids().empty()) parts.push_back(absl::StrCat("pid=", absl::StrJoin(filter_.pids(), ",")));
  if (!filter_.process().empty()) parts.push_back(absl::StrCat("process=", filter_.process()));
  if (filter_.scope() == v1::SCOPE_HOST) parts.push_back("host-only");
  if (filter_.scope() == v1::SCOPE_CONTAINERS) parts.push_back("containers-only");
  return parts.empty() ? "all" : absl::StrJoin(parts, " ");
}

}  // namespace vigil
