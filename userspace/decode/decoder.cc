#include "decode/decoder.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/exec_id.h"
#include "common/timestamp.h"
#include "common/utf8.h"
#include "decode/abi_names.h"
#include "decode/families.h"
#include "decode/record.h"
#include "vigil_abi.h"

namespace vigil {

namespace {

using decode::CString;
using decode::Load;

}  // namespace

uint16_t Decoder::PeekKind(absl::Span<const uint8_t> record) {
  if (record.size() < sizeof(vigil_header)) return 0;
  return Load<vigil_header>(record).kind;
}

namespace {

// Clear() deletes an event's sub-messages, and with them every string they
// had grown. The decoder sets time, process (with its start time) and
// workload on every event it decodes, and a record of the kind `out` last
// held has the same payload: the event is cleared field by field instead,
// those sub-messages in place, so that filling them again allocates nothing
// once their strings have grown. (Decoded events have no unknown fields.)
//
// The payload is reached through its generated accessor: through reflection
// (Reflection::MutableMessage) it cost ~275 instructions per event, ~4 % of
// the pipeline's.
google::protobuf::Message* DecodedPayload(v1::Event& out) {
  switch (out.payload_case()) {
    case v1::Event::kExec:
      return out.mutable_exec();
    case v1::Event::kExit:
      return out.mutable_exit();
    case v1::Event::kFork:
      return out.mutable_fork();
    case v1::Event::kTcpConnect:
      return out.mutable_tcp_connect();
    case v1::Event::kTcpAccept:
      return out.mutable_tcp_accept();
    case v1::Event::kListen:
      return out.mutable_listen();
    case v1::Event::kBind:
      return out.mutable_bind();
    case v1::Event::kTcpClose:
      return out.mutable_tcp_close();
    case v1::Event::kDnsQuery:
      return out.mutable_dns_query();
    case v1::Event::kDnsResponse:
      return out.mutable_dns_response();
    case v1::Event::kFile:
      return out.mutable_file();
    case v1::Event::kPtrace:
      return out.mutable_ptrace();
    case v1::Event::kSetns:
      return out.mutable_setns();
    case v1::Event::kNamespaceChange:
      return out.mutable_namespace_change();
    case v1::Event::kMount:
      return out.mutable_mount();
    case v1::Event::kUmount:
      return out.mutable_umount();
    case v1::Event::kModuleLoad:
      return out.mutable_module_load();
    case v1::Event::kBpfProgLoad:
      return out.mutable_bpf_prog_load();
    case v1::Event::kMemfdCreate:
      return out.mutable_memfd_create();
    case v1::Event::kCredentialsChange:
      return out.mutable_credentials_change();
    case v1::Event::kKill:
      return out.mutable_kill();
    default:
      return nullptr;  // not a decoded payload (alert, health)
  }
}

void ClearForReuse(uint16_t kind, v1::Event& out) {
  static_assert(v1::Event::kAncestorsFieldNumber == 7, "a field was added to Event: clear it here too");
  google::protobuf::Message* payload = out.kind() == kind ? DecodedPayload(out) : nullptr;
  if (payload != nullptr) {
    payload->Clear();
  } else {
    out.clear_payload();
  }
  out.clear_id();
  out.clear_kind();
  out.clear_node();
  // Ancestors are left as they are: no record carries them, and the process
  // cache, which sets them on every event, keeps those that did not change.
  if (out.has_time()) out.mutable_time()->Clear();
  if (out.has_process()) {
    v1::Process& p = *out.mutable_process();
    google::protobuf::Timestamp* start = p.release_start_time();
    p.Clear();
    if (start != nullptr) {
      start->Clear();
      p.set_allocated_start_time(start);
    }
  }
  if (out.has_workload()) out.mutable_workload()->Clear();
}

absl::Status ValidateHeader(absl::Span<const uint8_t> record) {
  if (record.size() < sizeof(vigil_header)) {
    return absl::InvalidArgumentError(
        absl::StrCat("record of ", record.size(), " bytes is shorter than a header (", sizeof(vigil_header), ")"));
  }
  const auto hdr = Load<vigil_header>(record);
  if (hdr.abi_version != VIGIL_ABI_VERSION) {
    return absl::InvalidArgumentError(
        absl::StrCat("record has ABI version ", hdr.abi_version, ", this sensor reads ", VIGIL_ABI_VERSION));
  }
  if (hdr.size != record.size()) {
    return absl::InvalidArgumentError(absl::StrCat("header says ", hdr.size, " bytes, record has ", record.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Decoder::Decode(absl::Span<const uint8_t> record, v1::Event& out) const {
  if (absl::Status s = ValidateHeader(record); !s.ok()) {
    out.Clear();
    return s;
  }
  const auto hdr = Load<vigil_header>(record);
  ClearForReuse(hdr.kind, out);
  out.set_node(options_.node);
  SetTimestamp(clock_->ToWall(hdr.boot_ns), out.mutable_time());
  v1::Process* p = out.mutable_process();
  const vigil_proc& kp = hdr.proc;
  p->set_pid(kp.pid);
  p->set_tid(kp.tid);
  p->set_ppid(kp.ppid);
  p->set_uid(kp.uid);
  p->set_gid(kp.gid);
  p->set_euid(kp.euid);
  p->set_egid(kp.egid);
  // Into the reused message's strings: no allocation once they have grown.
  AssignUtf8(CString(kp.comm, sizeof(kp.comm)), *p->mutable_comm());
  AssignExecId(options_.node, kp.pid, StartTicks(kp.start_boottime_ns), *p->mutable_exec_id());
  if (kp.ppid != 0) {
    AssignExecId(options_.node, kp.ppid, StartTicks(kp.parent_start_boottime_ns), *p->mutable_parent_exec_id());
  }
  SetTimestamp(clock_->ToWall(kp.start_boottime_ns), p->mutable_start_time());
  p->set_ns_pid(kp.ns_pid);
  v1::Workload* w = out.mutable_workload();
  w->set_cgroup_id(kp.cgroup_id);
  w->set_pid_ns(kp.pid_ns);
  w->set_mnt_ns(kp.mnt_ns);
  w->set_net_ns(kp.net_ns);

  if (decode::KernelKindName(hdr.kind) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown event kind ", hdr.kind));
  }
  const uint16_t family_first = hdr.kind & ~uint16_t{15};
  switch (family_first) {
    case VIGIL_KIND_PROCESS_FIRST:
      return decode::DecodeProcess(hdr.kind, record, options_, out);
    case VIGIL_KIND_SECURITY_FIRST:
      return decode::DecodeSecurity(hdr.kind, record, options_, out);
    case VIGIL_KIND_NETWORK_FIRST:
      return decode::DecodeNetwork(hdr.kind, record, options_, out);
    case VIGIL_KIND_FILE_FIRST:
      return decode::DecodeFile(hdr.kind, record, options_, out);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown event kind ", hdr.kind));
  }
}

std::string KindName(uint16_t kind) {
  if (const char* name = decode::KernelKindName(kind)) return name;
  return absl::StrCat("kind_", kind);
}

}  // namespace vigil
