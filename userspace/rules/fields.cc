// Categories, the field table of docs/rules.md, and how each field's values
// are read from an event.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "process/process_view.h"
#include "rules/ruleset.h"

namespace vigil::rules {
namespace {

using v1::Event;
using K = v1::EventKind;

constexpr uint32_t Bit(Category c) { return 1u << static_cast<int>(c); }
constexpr uint32_t kAll = 0;
constexpr uint32_t kFiles = Bit(Category::kFileEvent) | Bit(Category::kFileAccess) | Bit(Category::kFileDelete) |
                            Bit(Category::kFileRename) | Bit(Category::kFileChange);
constexpr uint32_t kNet = Bit(Category::kNetworkConnection);
constexpr uint32_t kLocal = kNet | Bit(Category::kListen) | Bit(Category::kBind);
constexpr uint32_t kDns = Bit(Category::kDnsQuery) | Bit(Category::kDnsResponse);
constexpr uint32_t kExec = Bit(Category::kProcessCreation);

struct FieldDef {
  const char* name;
  FieldId id;
  FieldType type;
  uint32_t categories;  // where the field exists; kAll: every category
};

constexpr std::array<FieldDef, static_cast<size_t>(FieldId::kCount)> kFields = {{
    {"Image", FieldId::kImage, FieldType::kText, kAll},
    {"CommandLine", FieldId::kCommandLine, FieldType::kText, kAll},
    {"CurrentDirectory", FieldId::kCurrentDirectory, FieldType::kText, kAll},
    {"ProcessId", FieldId::kProcessId, FieldType::kNumber, kAll},
    {"ParentProcessId", FieldId::kParentProcessId, FieldType::kNumber, kAll},
    {"User", FieldId::kUser, FieldType::kText, kAll},
    {"ParentImage", FieldId::kParentImage, FieldType::kText, kAll},
    {"ParentCommandLine", FieldId::kParentCommandLine, FieldType::kText, kAll},
    {"TargetFilename", FieldId::kTargetFilename, FieldType::kText, kFiles},
    {"SourceFilename", FieldId::kSourceFilename, FieldType::kText,
     Bit(Category::kFileEvent) | Bit(Category::kFileRename)},
    {"DestinationIp", FieldId::kDestinationIp, FieldType::kIp, kNet},
    {"DestinationPort", FieldId::kDestinationPort, FieldType::kNumber, kNet},
    {"DestinationHostname", FieldId::kDestinationHostname, FieldType::kText, kNet},
    {"SourceIp", FieldId::kSourceIp, FieldType::kIp, kLocal},
    {"SourcePort", FieldId::kSourcePort, FieldType::kNumber, kLocal},
    {"Initiated", FieldId::kInitiated, FieldType::kBool, kNet},
    {"Protocol", FieldId::kProtocol, FieldType::kText, kLocal},
    {"QueryName", FieldId::kQueryName, FieldType::kText, kDns},
    {"QueryType", FieldId::kQueryType, FieldType::kText, kDns},
    {"QueryResults", FieldId::kQueryResults, FieldType::kIp, Bit(Category::kDnsResponse)},
    {"DnsServer", FieldId::kDnsServer, FieldType::kIp, kDns},
    {"Comm", FieldId::kComm, FieldType::kText, kAll},
    {"Uid", FieldId::kUid, FieldType::kNumber, kAll},
    {"Euid", FieldId::kEuid, FieldType::kNumber, kAll},
    {"Gid", FieldId::kGid, FieldType::kNumber, kAll},
    {"Egid", FieldId::kEgid, FieldType::kNumber, kAll},
    {"Node", FieldId::kNode, FieldType::kText, kAll},
    {"PodName", FieldId::kPodName, FieldType::kText, kAll},
    {"PodNamespace", FieldId::kPodNamespace, FieldType::kText, kAll},
    {"PodUid", FieldId::kPodUid, FieldType::kText, kAll},
    {"ContainerId", FieldId::kContainerId, FieldType::kText, kAll},
    {"ContainerName", FieldId::kContainerName, FieldType::kText, kAll},
    {"ContainerImage", FieldId::kContainerImage, FieldType::kText, kAll},
    {"Host", FieldId::kHost, FieldType::kBool, kAll},
    {"AncestorImages", FieldId::kAncestorImages, FieldType::kText, kAll},
    {"AncestorCommandLines", FieldId::kAncestorCommandLines, FieldType::kText, kAll},
    {"StdinType", FieldId::kStdinType, FieldType::kText, kExec},
    {"StdoutType", FieldId::kStdoutType, FieldType::kText, kExec},
    {"StderrType", FieldId::kStderrType, FieldType::kText, kExec},
    {"StdioRemoteIp", FieldId::kStdioRemoteIp, FieldType::kIp, kExec},
    {"StdioRemotePort", FieldId::kStdioRemotePort, FieldType::kNumber, kExec},
    {"UpperLayer", FieldId::kUpperLayer, FieldType::kBool, kExec},
    {"Memfd", FieldId::kMemfd, FieldType::kBool, kExec},
    {"Deleted", FieldId::kDeleted, FieldType::kBool, kExec},
    {"Setuid", FieldId::kSetuid, FieldType::kBool, kExec},
    {"Setgid", FieldId::kSetgid, FieldType::kBool, kExec},
    {"FileCaps", FieldId::kFileCaps, FieldType::kBool, kExec},
}};

const std::array<CategoryInfo, static_cast<size_t>(Category::kCount)>& Categories() {
  static const auto* const kCategories = new std::array<CategoryInfo, static_cast<size_t>(Category::kCount)>{{
      {"process_creation", {K::EVENT_KIND_EXEC}},
      {"process_termination", {K::EVENT_KIND_EXIT}},
      {"file_event", {K::EVENT_KIND_FILE_OPEN, K::EVENT_KIND_FILE_RENAME}},
      {"file_access", {K::EVENT_KIND_FILE_OPEN}},
      {"file_delete", {K::EVENT_KIND_FILE_UNLINK}},
      {"file_rename", {K::EVENT_KIND_FILE_RENAME}},
      {"file_change", {K::EVENT_KIND_FILE_CHMOD, K::EVENT_KIND_FILE_CHOWN, K::EVENT_KIND_FILE_UTIMES}},
      {"network_connection", {K::EVENT_KIND_TCP_CONNECT, K::EVENT_KIND_TCP_ACCEPT}},
      {"dns_query", {K::EVENT_KIND_DNS_QUERY}},
      {"dns_response", {K::EVENT_KIND_DNS_RESPONSE}},
      {"listen", {K::EVENT_KIND_LISTEN}},
      {"bind", {K::EVENT_KIND_BIND}},
      {"ptrace", {K::EVENT_KIND_PTRACE}},
      {"setns", {K::EVENT_KIND_SETNS}},
      {"unshare", {K::EVENT_KIND_UNSHARE}},
      {"clone_ns", {K::EVENT_KIND_CLONE_NS}},
      {"mount", {K::EVENT_KIND_MOUNT}},
      {"umount", {K::EVENT_KIND_UMOUNT}},
      {"module_load", {K::EVENT_KIND_MODULE_LOAD}},
      {"bpf_prog_load", {K::EVENT_KIND_BPF_PROG_LOAD}},
      {"memfd_create", {K::EVENT_KIND_MEMFD_CREATE}},
      {"setid", {K::EVENT_KIND_SETID}},
      {"capset", {K::EVENT_KIND_CAPSET}},
      {"kill", {K::EVENT_KIND_KILL}},
  }};
  return *kCategories;
}

// The lower-case name of an FdType without its prefix ("tty", "socket").
const char* FdTypeName(v1::FdType t) {
  switch (t) {
    case v1::FD_TYPE_CLOSED:
      return "closed";
    case v1::FD_TYPE_TTY:
      return "tty";
    case v1::FD_TYPE_PIPE:
      return "pipe";
    case v1::FD_TYPE_FILE:
      return "file";
    case v1::FD_TYPE_SOCKET:
      return "socket";
    case v1::FD_TYPE_DEVICE:
      return "device";
    case v1::FD_TYPE_OTHER:
      return "other";
    default:
      return nullptr;
  }
}

bool IsInet(const v1::StdioFd& fd) {
  return fd.type() == v1::FD_TYPE_SOCKET && (fd.family() == "ipv4" || fd.family() == "ipv6") &&
         !fd.remote().ip().empty();
}

// The high bit of each of the eight bytes of `x` that is in 'A'..'Z'. Per
// byte b < 0x80 (the others are masked out): b + (0x80 - 'A') has its high
// bit set from 'A' up, b + (0x7F - 'Z') from just above 'Z'; 0x7F plus either
// stays below 0x100, so no carry crosses into the next byte.
uint64_t UpperBytes8(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const uint64_t low7 = x & ~kHigh;
  return (low7 + kOnes * (0x80 - 'A')) & ~(low7 + kOnes * (0x7F - 'Z')) & ~x & kHigh;
}

// Nearly every value a rule reads is lower case already: it is looked at
// eight bytes at a time, and copied only when it is not.
bool HasAsciiUpper(absl::string_view v) {
  const char* p = v.data();
  size_t n = v.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    if (UpperBytes8(x) != 0) return true;
  }
  return std::any_of(p, p + n, [](char c) { return absl::ascii_isupper(static_cast<unsigned char>(c)); });
}

// `v` in ASCII lower case into `out`, eight bytes at a time (a flagged
// byte's 0x80 shifted down is the 0x20 between the cases).
void AsciiLowerInto(absl::string_view v, std::string& out) {
  out.resize(v.size());
  const char* p = v.data();
  char* q = out.data();
  size_t n = v.size();
  for (; n >= 8; p += 8, q += 8, n -= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    x |= UpperBytes8(x) >> 2;
    std::memcpy(q, &x, 8);
  }
  for (; n > 0; --n) *q++ = absl::ascii_tolower(static_cast<unsigned char>(*p++));
}

}  // namespace

const CategoryInfo& GetCategory(Category c) { return Categories()[static_cast<size_t>(c)]; }

const Category* FindCategory(absl::string_view name) {
  static const auto* const kByName = [] {
    auto* m = new absl::flat_hash_map<std::string, Category>;
    for (size_t i = 0; i < Categories().size(); ++i) (*m)[Categories()[i].name] = static_cast<Category>(i);
    return m;
  }();
  auto it = kByName->find(name);
  return it == kByName->end() ? nullptr : &it->second;
}

bool CategoryAccepts(Category c, const Event& event) {
  if (c != Category::kFileEvent || event.kind() != K::EVENT_KIND_FILE_OPEN) return true;
  // O_WRONLY | O_RDWR | O_CREAT | O_TRUNC: a write, not a sensitive read.
  constexpr uint32_t kWriteFlags = 01 | 02 | 0100 | 01000;
  return (event.file().flags() & kWriteFlags) != 0;
}

bool ResolveField(absl::string_view name, Category category, FieldRef& out, std::string& error) {
  out.name = std::string(name);
  for (const FieldDef& def : kFields) {
    if (name != def.name) continue;
    if (def.categories != kAll && (def.categories & Bit(category)) == 0) {
      error = absl::StrCat("field ", name, " does not exist in category ", GetCategory(category).name);
      return false;
    }
    out.id = def.id;
    out.type = def.type;
    out.slot = static_cast<int>(def.id);
    return true;
  }
  // A protobuf JSON path from the Event root: `exec.upperLayer`, `kill.signalName`.
  const google::protobuf::Descriptor* message = Event::descriptor();
  out.path.clear();
  for (absl::string_view part : absl::StrSplit(name, '.')) {
    const google::protobuf::FieldDescriptor* fd = nullptr;
    if (message != nullptr) {
      for (int i = 0; i < message->field_count(); ++i) {
        if (message->field(i)->json_name() == part) fd = message->field(i);
      }
    }
    if (fd == nullptr) {
      error = absl::StrCat("unknown field ", name);
      return false;
    }
    out.path.push_back(fd);
    message = fd->message_type();
  }
  const google::protobuf::FieldDescriptor* last = out.path.back();
  using CppType = google::protobuf::FieldDescriptor::CppType;
  switch (last->cpp_type()) {
    case CppType::CPPTYPE_MESSAGE:
      error = absl::StrCat("field ", name, " is a message, not a value; name one of its fields");
      return false;
    case CppType::CPPTYPE_BOOL:
      out.type = FieldType::kBool;
      break;
    case CppType::CPPTYPE_STRING:
    case CppType::CPPTYPE_ENUM:
      out.type = FieldType::kText;
      break;
    default:
      out.type = FieldType::kNumber;
  }
  out.id = FieldId::kProtoPath;
  return true;
}

void EventContext::Reset(const Ruleset& rules, const ProcessView* processes, const Event& event) {
  rules_ = &rules;
  processes_ = processes;
  event_ = &event;
  ++generation_;
  if (slots_.size() < static_cast<size_t>(rules.slots)) slots_.resize(rules.slots);
  if (memo_.size() < rules.max_selections) memo_.resize(rules.max_selections);
}

std::string& EventContext::Buffer(Slot& slot) {
  if (slot.buffers_used == slot.buffers.size()) slot.buffers.push_back(std::make_unique<std::string>());
  std::string& s = *slot.buffers[slot.buffers_used++];
  s.clear();
  return s;
}

EventContext::Values EventContext::Get(const FieldRef& field) {
  Slot& slot = slots_[field.slot];
  if (slot.generation != generation_) {
    slot.generation = generation_;
    slot.raw.clear();
    slot.lower.clear();
    slot.buffers_used = 0;
    Extract(field, slot);
    for (absl::string_view v : slot.raw) {
      if (!HasAsciiUpper(v)) {
        slot.lower.push_back(v);
        continue;
      }
      std::string& lower = Buffer(slot);
      AsciiLowerInto(v, lower);
      slot.lower.push_back(lower);
    }
  }
  return {slot.raw.data(), slot.lower.data(), slot.raw.size()};
}

EventContext::Ancestor EventContext::Parent() {
  const Event& e = *event_;
  if (e.ancestors_size() > 0) return {.event = &e.ancestors(0)};
  if (processes_ == nullptr || e.process().parent_exec_id().empty()) return {};
  return {.cached = processes_->Lookup(e.process().parent_exec_id())};
}

void EventContext::Ancestors() {
  if (ancestors_generation_ == generation_) return;
  ancestors_generation_ = generation_;
  ancestors_.clear();
  const Event& e = *event_;
  if (e.ancestors_size() > 0) {
    for (const v1::Process& p : e.ancestors()) ancestors_.push_back({.event = &p});
    return;
  }
  if (processes_ == nullptr) return;
  // Bounded: a corrupt cache must not loop.
  constexpr int kMaxDepth = 32;
  const CachedProcess* p = processes_->Lookup(e.process().parent_exec_id());
  for (int depth = 0; depth < kMaxDepth && p != nullptr; ++depth) {
    ancestors_.push_back({.cached = p});
    p = processes_->Parent(*p);
  }
}

namespace {

void AppendCommandLine(const v1::Process& p, std::string& out) {
  for (int i = 0; i < p.argv_size(); ++i) {
    if (i > 0) out.push_back(' ');
    out.append(p.argv(i));
  }
}

// Appends element `j` of `fd` (any j when not repeated) as text.
void AppendScalar(const google::protobuf::Message& message, const google::protobuf::Reflection* r,
                  const google::protobuf::FieldDescriptor* fd, int j, std::string& out) {
  using CppType = google::protobuf::FieldDescriptor::CppType;
  bool rep = fd->is_repeated();
  switch (fd->cpp_type()) {
    case CppType::CPPTYPE_STRING:
      out = rep ? r->GetRepeatedString(message, fd, j) : r->GetString(message, fd);
      break;
    case CppType::CPPTYPE_BOOL:
      out = (rep ? r->GetRepeatedBool(message, fd, j) : r->GetBool(message, fd)) ? "true" : "false";
      break;
    case CppType::CPPTYPE_ENUM:
      out = (rep ? r->GetRepeatedEnum(message, fd, j) : r->GetEnum(message, fd))->name();
      break;
    case CppType::CPPTYPE_INT32:
      absl::StrAppend(&out, rep ? r->GetRepeatedInt32(message, fd, j) : r->GetInt32(message, fd));
      break;
    case CppType::CPPTYPE_INT64:
      absl::StrAppend(&out, rep ? r->GetRepeatedInt64(message, fd, j) : r->GetInt64(message, fd));
      break;
    case CppType::CPPTYPE_UINT32:
      absl::StrAppend(&out, rep ? r->GetRepeatedUInt32(message, fd, j) : r->GetUInt32(message, fd));
      break;
    case CppType::CPPTYPE_UINT64:
      absl::StrAppend(&out, rep ? r->GetRepeatedUInt64(message, fd, j) : r->GetUInt64(message, fd));
      break;
    case CppType::CPPTYPE_DOUBLE:
      absl::StrAppend(&out, rep ? r->GetRepeatedDouble(message, fd, j) : r->GetDouble(message, fd));
      break;
    case CppType::CPPTYPE_FLOAT:
      absl::StrAppend(&out, rep ? r->GetRepeatedFloat(message, fd, j) : r->GetFloat(message, fd));
      break;
    default:
      break;
  }
}

// Calls push(fill) for each value of the last field of `path` below
// `message`, walking repeated messages on the way (any element); fill(out)
// writes the value as text.
template <typename PushFn>
void WalkPath(const google::protobuf::Message& message,
              const std::vector<const google::protobuf::FieldDescriptor*>& path, size_t i, PushFn&& push) {
  const google::protobuf::FieldDescriptor* fd = path[i];
  const google::protobuf::Reflection* r = message.GetReflection();
  if (i + 1 < path.size()) {
    if (fd->is_repeated()) {
      for (int j = 0; j < r->FieldSize(message, fd); ++j)
        WalkPath(r->GetRepeatedMessage(message, fd, j), path, i + 1, push);
    } else if (r->HasField(message, fd)) {
      WalkPath(r->GetMessage(message, fd), path, i + 1, push);
    }
    return;
  }
  auto one = [&](int j) { push([&](std::string& out) { AppendScalar(message, r, fd, j, out); }); };
  if (fd->is_repeated()) {
    for (int j = 0; j < r->FieldSize(message, fd); ++j) one(j);
  } else if (!fd->has_presence() || r->HasField(message, fd)) {
    one(0);
  }
}

}  // namespace

void EventContext::Extract(const FieldRef& field, Slot& slot) {
  const Event& e = *event_;
  const v1::Process& p = e.process();
  const v1::Workload& w = e.workload();
  // Views into the event, the process view or static storage: all outlive
  // this event's evaluation.
  auto text = [&](absl::string_view v) {
    if (!v.empty()) slot.raw.push_back(v);
  };
  auto composed = [&](auto&& fill) {
    std::string& b = Buffer(slot);
    fill(b);
    slot.raw.push_back(b);
  };
  auto number = [&](uint64_t v) { composed([v](std::string& b) { absl::StrAppend(&b, v); }); };
  auto command_line = [&](const v1::Process& proc) {
    if (proc.argv_size() > 0) composed([&proc](std::string& b) { AppendCommandLine(proc, b); });
  };
  auto ancestor_image = [&](const Ancestor& a) {
    if (a.event != nullptr) text(a.event->exe());
    if (a.cached != nullptr) text(a.cached->exe());
  };
  auto ancestor_command_line = [&](const Ancestor& a) {
    if (a.event != nullptr) command_line(*a.event);
    if (a.cached != nullptr && a.cached->argc > 0) {
      composed([&a](std::string& b) { a.cached->AppendCommandLine(b); });
    }
  };
  auto boolean = [&](bool v) { slot.raw.push_back(v ? "true" : "false"); };
  auto stdio = [&](uint32_t fd) {
    if (!e.has_exec()) return;
    for (const v1::StdioFd& s : e.exec().stdio()) {
      if (s.fd() != fd) continue;
      if (const char* name = FdTypeName(s.type())) slot.raw.push_back(name);
    }
  };
  switch (field.id) {
    case FieldId::kImage:
      return text(p.exe());
    case FieldId::kCommandLine:
      return command_line(p);
    case FieldId::kCurrentDirectory:
      return text(p.cwd());
    case FieldId::kProcessId:
      if (e.has_process()) number(p.pid());
      return;
    case FieldId::kParentProcessId:
      if (e.has_process()) number(p.ppid());
      return;
    case FieldId::kUser: {
      if (!p.has_uid()) return;
      auto it = rules_->users.find(p.uid());
      if (it != rules_->users.end()) return text(it->second);
      return number(p.uid());
    }
    case FieldId::kParentImage:
      return ancestor_image(Parent());
    case FieldId::kParentCommandLine:
      return ancestor_command_line(Parent());
    case FieldId::kTargetFilename:
      if (!e.has_file()) return;
      return text(e.kind() == K::EVENT_KIND_FILE_RENAME ? e.file().new_path() : e.file().path());
    case FieldId::kSourceFilename:
      if (e.has_file() && e.kind() == K::EVENT_KIND_FILE_RENAME) text(e.file().path());
      return;
    case FieldId::kDestinationIp:
      if (e.has_tcp_connect()) return text(e.tcp_connect().remote().ip());
      if (e.has_tcp_accept()) return text(e.tcp_accept().local().ip());
      return;
    case FieldId::kDestinationPort:
      if (e.has_tcp_connect()) return number(e.tcp_connect().remote().port());
      if (e.has_tcp_accept()) return number(e.tcp_accept().local().port());
      return;
    case FieldId::kDestinationHostname:
      if (e.has_tcp_connect()) text(e.tcp_connect().remote_name());
      return;
    case FieldId::kSourceIp:
      if (e.has_tcp_connect()) return text(e.tcp_connect().local().ip());
      if (e.has_tcp_accept()) return text(e.tcp_accept().remote().ip());
      if (e.has_listen()) return text(e.listen().local().ip());
      if (e.has_bind()) return text(e.bind().local().ip());
      return;
    case FieldId::kSourcePort:
      if (e.has_tcp_connect()) return number(e.tcp_connect().local().port());
      if (e.has_tcp_accept()) return number(e.tcp_accept().remote().port());
      if (e.has_listen()) return number(e.listen().local().port());
      if (e.has_bind()) return number(e.bind().local().port());
      return;
    case FieldId::kInitiated:
      if (e.has_tcp_connect()) return boolean(true);
      if (e.has_tcp_accept()) return boolean(false);
      return;
    case FieldId::kProtocol:
      if (e.has_tcp_connect() || e.has_tcp_accept() || e.has_listen()) return text("tcp");
      if (e.has_bind()) return text(e.bind().protocol());
      return;
    case FieldId::kQueryName:
      if (e.has_dns_query()) return text(e.dns_query().name());
      if (e.has_dns_response()) return text(e.dns_response().name());
      return;
    case FieldId::kQueryType:
      if (e.has_dns_query()) {
        if (!e.dns_query().type_name().empty()) return text(e.dns_query().type_name());
        return number(e.dns_query().type());
      }
      if (e.has_dns_response()) {
        if (!e.dns_response().type_name().empty()) return text(e.dns_response().type_name());
        return number(e.dns_response().type());
      }
      return;
    case FieldId::kQueryResults:
      if (e.has_dns_response()) {
        for (const std::string& a : e.dns_response().addresses()) text(a);
      }
      return;
    case FieldId::kDnsServer:
      if (e.has_dns_query()) return text(e.dns_query().server().ip());
      if (e.has_dns_response()) return text(e.dns_response().server().ip());
      return;
    case FieldId::kComm:
      return text(p.comm());
    case FieldId::kUid:
      if (p.has_uid()) number(p.uid());
      return;
    case FieldId::kEuid:
      if (p.has_euid()) number(p.euid());
      return;
    case FieldId::kGid:
      if (p.has_gid()) number(p.gid());
      return;
    case FieldId::kEgid:
      if (p.has_egid()) number(p.egid());
      return;
    case FieldId::kNode:
      return text(e.node());
    case FieldId::kPodName:
      return text(w.pod_name());
    case FieldId::kPodNamespace:
      return text(w.pod_namespace());
    case FieldId::kPodUid:
      return text(w.pod_uid());
    case FieldId::kContainerId:
      return text(w.container_id());
    case FieldId::kContainerName:
      return text(w.container_name());
    case FieldId::kContainerImage:
      return text(w.image());
    case FieldId::kHost:
      if (e.has_workload()) boolean(w.host());
      return;
    case FieldId::kAncestorImages:
      Ancestors();
      for (const Ancestor& a : ancestors_) ancestor_image(a);
      return;
    case FieldId::kAncestorCommandLines:
      Ancestors();
      for (const Ancestor& a : ancestors_) ancestor_command_line(a);
      return;
    case FieldId::kStdinType:
      return stdio(0);
    case FieldId::kStdoutType:
      return stdio(1);
    case FieldId::kStderrType:
      return stdio(2);
    case FieldId::kStdioRemoteIp:
      if (!e.has_exec()) return;
      for (const v1::StdioFd& s : e.exec().stdio()) {
        if (IsInet(s)) text(s.remote().ip());
      }
      return;
    case FieldId::kStdioRemotePort:
      if (!e.has_exec()) return;
      for (const v1::StdioFd& s : e.exec().stdio()) {
        if (IsInet(s)) number(s.remote().port());
      }
      return;
    case FieldId::kUpperLayer:
      if (e.has_exec()) boolean(e.exec().upper_layer());
      return;
    case FieldId::kMemfd:
      if (e.has_exec()) boolean(e.exec().memfd());
      return;
    case FieldId::kDeleted:
      if (e.has_exec()) boolean(e.exec().deleted());
      return;
    case FieldId::kSetuid:
      if (e.has_exec()) boolean(e.exec().setuid());
      return;
    case FieldId::kSetgid:
      if (e.has_exec()) boolean(e.exec().setgid());
      return;
    case FieldId::kFileCaps:
      if (e.has_exec()) boolean(e.exec().file_caps());
      return;
    case FieldId::kProtoPath:
      WalkPath(e, field.path, 0, [&](auto&& fill) { composed(fill); });
      return;
  }
}

}  // namespace vigil::rules
