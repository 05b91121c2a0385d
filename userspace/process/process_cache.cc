#include "process/process_cache.h"

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/exec_id.h"
#include "common/log.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"
#include "process/procfs.h"

namespace vigil {

namespace {

// How much of `arg` to keep when only `room` bytes are left: cut only before
// a UTF-8 lead byte, so the string stays valid.
size_t CutPoint(absl::string_view arg, size_t room) {
  while (room > 0 && (static_cast<unsigned char>(arg[room]) & 0xC0) == 0x80) --room;
  return room;
}

// Cuts argv to max_bytes (each argument counted with its NUL, as the kernel
// counts) and max_args entries; true when anything was cut. The strings are
// valid UTF-8 and are cut only before a lead byte, so they stay valid.
bool TrimArgv(google::protobuf::RepeatedPtrField<std::string>& argv, size_t max_bytes, size_t max_args) {
  size_t used = 0;
  for (int i = 0; i < argv.size(); ++i) {
    std::string& arg = *argv.Mutable(i);
    if (static_cast<size_t>(i) == max_args || used >= max_bytes) {
      argv.DeleteSubrange(i, argv.size() - i);
      return true;
    }
    if (used + arg.size() > max_bytes) {
      arg.resize(CutPoint(arg, max_bytes - used));
      argv.DeleteSubrange(i + 1, argv.size() - i - 1);
      return true;
    }
    used += arg.size() + 1;
  }
  return false;
}

// Appends to `to` what TrimArgv would keep of `from`'s argv, copying nothing more.
bool CopyArgv(const CachedProcess& from, size_t max_bytes, size_t max_args,
              google::protobuf::RepeatedPtrField<std::string>& to) {
  size_t used = 0, count = 0;
  return !from.ForEachArg([&](absl::string_view arg) {
    if (count++ == max_args || used >= max_bytes) return false;
    if (used + arg.size() > max_bytes) {
      to.Add()->assign(arg.data(), CutPoint(arg, max_bytes - used));
      return false;
    }
    to.Add()->assign(arg.data(), arg.size());
    used += arg.size() + 1;
    return true;
  });
}

// Into `to`'s storage, kept from event to event.
void Assign(absl::string_view from, std::string& to) { to.assign(from.data(), from.size()); }

// Keeps all of `p` but its tid and exec id in `c`, reusing c's storage.
void Store(const v1::Process& p, absl::string_view node, CachedProcess& c) {
  c.pid = p.pid();
  c.ppid = p.ppid();
  c.ns_pid = p.ns_pid();
  c.uid = p.uid();
  c.gid = p.gid();
  c.euid = p.euid();
  c.egid = p.egid();
  c.ids = (p.has_uid() ? CachedProcess::kUid : 0) | (p.has_gid() ? CachedProcess::kGid : 0) |
          (p.has_euid() ? CachedProcess::kEuid : 0) | (p.has_egid() ? CachedProcess::kEgid : 0);
  c.argv_truncated = p.argv_truncated();
  c.has_start_time = p.has_start_time();
  c.start_seconds = p.start_time().seconds();
  c.start_nanos = p.start_time().nanos();
  c.comm = p.comm();
  // A parent id this node did not make has no entry here to lead to.
  c.has_parent = ParseExecId(p.parent_exec_id(), node, c.parent_pid, c.parent_start_ticks);
  c.SetText(p.exe(), p.cwd(), p.argv());
}

// The ancestor `c`, whose exec id is node's (pid, start_ticks), into `out` (a
// cleared message), argv cut to max_bytes and max_args.
void Restore(const CachedProcess& c, absl::string_view node, uint32_t pid, uint64_t start_ticks, size_t max_bytes,
             size_t max_args, v1::Process& out) {
  out.set_pid(c.pid);
  out.set_ppid(c.ppid);
  out.set_ns_pid(c.ns_pid);
  if (c.ids & CachedProcess::kUid) out.set_uid(c.uid);
  if (c.ids & CachedProcess::kGid) out.set_gid(c.gid);
  if (c.ids & CachedProcess::kEuid) out.set_euid(c.euid);
  if (c.ids & CachedProcess::kEgid) out.set_egid(c.egid);
  if (c.has_start_time) {
    out.mutable_start_time()->set_seconds(c.start_seconds);
    out.mutable_start_time()->set_nanos(c.start_nanos);
  }
  out.set_comm(c.comm);
  Assign(c.exe(), *out.mutable_exe());
  Assign(c.cwd(), *out.mutable_cwd());
  AssignExecId(node, pid, start_ticks, *out.mutable_exec_id());
  if (c.has_parent) AssignExecId(node, c.parent_pid, c.parent_start_ticks, *out.mutable_parent_exec_id());
  out.set_argv_truncated(CopyArgv(c, max_bytes, max_args, *out.mutable_argv()) || c.argv_truncated);
}

// Processes read from /proc (their own exec id is the cache's key): the
// parent's exec id from its start ticks.
v1::Process FromProc(const ProcEntry& e, uint64_t parent_start_ticks, bool parent_known,
                     const ProcessCacheOptions& options) {
  const absl::string_view node = options.node;
  v1::Process p;
  p.set_pid(e.pid);
  p.set_ppid(e.ppid);
  p.set_uid(e.uid);
  p.set_gid(e.gid);
  p.set_euid(e.euid);
  p.set_egid(e.egid);
  p.set_comm(SanitizeUtf8(e.comm));
  p.set_exe(SanitizeUtf8(e.exe));
  p.set_cwd(SanitizeUtf8(e.cwd));
  for (const auto& arg : e.argv) p.add_argv(SanitizeUtf8(arg));
  p.set_argv_truncated(TrimArgv(*p.mutable_argv(), options.max_arg_bytes, options.max_args));
  if (parent_known) p.set_parent_exec_id(ExecId(node, e.ppid, parent_start_ticks));
  return p;
}

std::string Resolve(const std::string& path, const std::string& cwd) {
  if (path.empty() || path[0] == '/' || cwd.empty()) return path;
  absl::string_view rel(path);
  absl::ConsumePrefix(&rel, "./");
  return cwd == "/" ? absl::StrCat("/", rel) : absl::StrCat(cwd, "/", rel);
}

}  // namespace

size_t ProcessCache::SeedFromProc() {
  absl::flat_hash_map<uint32_t, ProcEntry> seen;
  for (uint32_t pid : ListPids(options_.proc_root)) {
    if (auto e = ReadProcEntry(options_.proc_root, pid); e.ok()) seen.emplace(pid, *std::move(e));
  }
  for (const auto& [pid, e] : seen) {
    auto parent = seen.find(e.ppid);
    Insert(Key{e.start_ticks, e.pid},
           FromProc(e, parent != seen.end() ? parent->second.start_ticks : 0, parent != seen.end(), options_));
  }
  Logger("process")->info("learned {} running processes from {}", seen.size(), options_.proc_root);
  return seen.size();
}

bool ProcessCache::ToKey(absl::string_view exec_id, Key& key) const {
  return ParseExecId(exec_id, options_.node, key.pid, key.start_ticks);
}

const CachedProcess* ProcessCache::Lookup(absl::string_view exec_id) const {
  Key key;
  return ToKey(exec_id, key) ? entries_.Peek(key) : nullptr;
}

const CachedProcess* ProcessCache::Parent(const CachedProcess& process) const {
  return process.has_parent ? entries_.Peek(Key{process.parent_start_ticks, process.parent_pid}) : nullptr;
}

CachedProcess& ProcessCache::Insert(const Key& key, const v1::Process& process) {
  CachedProcess& entry = *entries_.FindOrInsert(key).first;
  Store(process, options_.node, entry);
  entry.generation = ++writes_;
  return entry;
}

CachedProcess* ProcessCache::LearnFromProc(const Key& key, const v1::Process& seen) {
  auto e = ReadProcEntry(options_.proc_root, key.pid);
  if (!e.ok() || e->start_ticks != key.start_ticks) return nullptr;
  v1::Process p = FromProc(*e, 0, false, options_);
  p.set_parent_exec_id(seen.parent_exec_id());
  return &Insert(key, p);
}

namespace {

void FillFrom(const CachedProcess& known, v1::Process& process) {
  if (process.exe().empty()) Assign(known.exe(), *process.mutable_exe());
  if (process.argv_size() == 0) {
    CopyArgv(known, SIZE_MAX, SIZE_MAX, *process.mutable_argv());
    process.set_argv_truncated(known.argv_truncated);
  }
  if (process.cwd().empty()) Assign(known.cwd(), *process.mutable_cwd());
}

}  // namespace

void ProcessCache::AddAncestors(v1::Event& event) {
  google::protobuf::RepeatedPtrField<v1::Process>& ancestors = *event.mutable_ancestors();
  // Only what this cache wrote into this very event can be kept: a new
  // event, or one moved from (parked), holds none of it.
  const bool same_event = &event == restored_into_;
  restored_into_ = &event;
  size_t depth = 0;
  Key parent;
  if (ToKey(event.process().parent_exec_id(), parent)) {
    while (depth < options_.max_ancestors) {
      const CachedProcess* entry = entries_.Find(parent);
      if (entry == nullptr) break;
      const Restored from{parent, entry->generation};
      const bool kept = same_event && depth < restored_.size() && restored_[depth] == from &&
                        depth < static_cast<size_t>(ancestors.size()) && ancestors.Get(depth).pid() == parent.pid;
      if (!kept) {
        // Into the event's own elements, strings and all: copied into, not allocated.
        v1::Process& out = depth < static_cast<size_t>(ancestors.size()) ? *ancestors.Mutable(depth) : *ancestors.Add();
        out.Clear();
        Restore(*entry, options_.node, parent.pid, parent.start_ticks, options_.ancestor_arg_bytes, options_.max_args,
                out);
        // restored_ has an entry for every smaller depth: at most this one is missing.
        if (depth == restored_.size()) restored_.emplace_back();
        restored_[depth] = from;
      }
      ++depth;
      if (!entry->has_parent) break;
      parent = Key{entry->parent_start_ticks, entry->parent_pid};
    }
  }
  // Cleared, not freed: kept for the next exec's deeper lineage.
  while (static_cast<size_t>(ancestors.size()) > depth) ancestors.RemoveLast();
  restored_.resize(depth);
}

void ProcessCache::Enrich(v1::Event& event) {
  entries_.ExpireDue();
  Key key;
  // Not known: the sensor's own events, and processes not this node's.
  const bool known = event.has_process() && ToKey(event.process().exec_id(), key);
  // Ancestors are this cache's to set (the decoder leaves them as the event
  // last had them): only the exec of a known process has any.
  if (!known || event.kind() != v1::EVENT_KIND_EXEC) event.clear_ancestors();
  if (!known) return;
  v1::Process& p = *event.mutable_process();

  switch (event.kind()) {
    case v1::EVENT_KIND_FORK: {
      // The child runs its parent's image until it execs.
      Key parent;
      if (const CachedProcess* known = ToKey(p.parent_exec_id(), parent) ? entries_.Find(parent) : nullptr) {
        FillFrom(*known, p);
      }
      Insert(key, p);
      break;
    }
    case v1::EVENT_KIND_EXEC: {
      const CachedProcess* before = entries_.Find(key);
      if (before == nullptr) before = LearnFromProc(key, p);
      // cwd survives exec, and a relative filename is relative to it. The
      // kernel's cwd at exec wins; what we knew before is a fallback.
      if (before != nullptr && p.cwd().empty()) Assign(before->cwd(), *p.mutable_cwd());
      p.set_exe(Resolve(p.exe(), p.cwd()));
      // Ancestors first: used, they are the most recent entries, so a full
      // cache makes room for this process from others than its own lineage.
      AddAncestors(event);
      Insert(key, p);
      break;
    }
    default: {
      CachedProcess* entry = entries_.Find(key);
      if (entry == nullptr) entry = LearnFromProc(key, p);
      if (entry != nullptr) {
        FillFrom(*entry, p);
        if (event.kind() == v1::EVENT_KIND_EXIT && entries_.ExpiryOf(key) == absl::InfiniteFuture()) {
          entries_.ExpireAt(key, options_.now() + options_.exit_grace);
        }
      }
      break;
    }
  }
}

void ProcessCache::Report(std::vector<StageReport>& out) const {
  StageReport& r = out.emplace_back();
  r.name = "process-cache";
  r.Gauge("entries", "vigil_process_cache_entries", "Processes in the lineage cache.", size());
  r.Counter("evictions", "vigil_process_cache_evictions_total", "Processes evicted from the full lineage cache.",
            evictions());
}

}  // namespace vigil
