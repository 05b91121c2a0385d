#include "decode/decoder.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/exec_id.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"
#include "vigil_abi.h"

namespace vigil {

namespace {

using google::protobuf::util::TimeUtil;

template <typename T>
T Load(absl::Span<const uint8_t> record) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  return value;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  *ts = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

// Up to the first NUL (or the whole span if there is none).
absl::string_view CString(const char* data, size_t max_len) { return absl::string_view(data, strnlen(data, max_len)); }

}  // namespace

uint16_t Decoder::PeekKind(absl::Span<const uint8_t> record) {
  if (record.size() < sizeof(vigil_header)) return 0;
  return Load<vigil_header>(record).kind;
}

absl::Status Decoder::Decode(absl::Span<const uint8_t> record, v1::Event& out) const {
  out.Clear();
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
  p->set_comm(SanitizeUtf8(CString(kp.comm, sizeof(kp.comm))));
  p->set_exec_id(ExecId(options_.node, kp.pid, StartTicks(kp.start_boottime_ns)));
  if (kp.ppid != 0) {
    p->set_parent_exec_id(ExecId(options_.node, kp.ppid, StartTicks(kp.parent_start_boottime_ns)));
  }
  SetTimestamp(clock_->ToWall(kp.start_boottime_ns), p->mutable_start_time());
  out.mutable_workload()->set_cgroup_id(kp.cgroup_id);

  switch (hdr.kind) {
    case VIGIL_KIND_EXEC:
      return DecodeExec(record, out);
    case VIGIL_KIND_EXIT: {
      if (record.size() != sizeof(vigil_exit)) {
        return absl::InvalidArgumentError(
            absl::StrCat("exit record of ", record.size(), " bytes, expected ", sizeof(vigil_exit)));
      }
      const auto e = Load<vigil_exit>(record);
      out.set_kind(v1::EVENT_KIND_EXIT);
      v1::Exit* x = out.mutable_exit();
      // Same encoding as a wait(2) status.
      if ((e.exit_code & 0x7f) != 0) {
        x->set_signal(e.exit_code & 0x7f);
        x->set_core_dumped((e.exit_code & 0x80) != 0);
      } else {
        x->set_exit_code((e.exit_code >> 8) & 0xff);
      }
      return absl::OkStatus();
    }
    case VIGIL_KIND_FORK: {
      if (record.size() != sizeof(vigil_fork)) {
        return absl::InvalidArgumentError(
            absl::StrCat("fork record of ", record.size(), " bytes, expected ", sizeof(vigil_fork)));
      }
      out.set_kind(v1::EVENT_KIND_FORK);
      out.mutable_fork()->set_parent_tid(Load<vigil_fork>(record).parent_tid);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown event kind ", hdr.kind));
  }
}

absl::Status Decoder::DecodeExec(absl::Span<const uint8_t> record, v1::Event& out) const {
  if (record.size() < sizeof(vigil_exec)) {
    return absl::InvalidArgumentError(absl::StrCat("exec record of ", record.size(),
                                                   " bytes is shorter than its fixed part (", sizeof(vigil_exec), ")"));
  }
  const auto e = Load<vigil_exec>(record);
  if (e.args_len > VIGIL_ARGS_MAX || e.filename_len > VIGIL_PATH_MAX ||
      sizeof(vigil_exec) + e.args_len + e.filename_len != record.size()) {
    return absl::InvalidArgumentError(absl::StrCat("exec record of ", record.size(), " bytes holds args_len ",
                                                   e.args_len, " and filename_len ", e.filename_len));
  }
  const char* args = reinterpret_cast<const char*>(record.data() + sizeof(vigil_exec));
  const char* filename = args + e.args_len;

  out.set_kind(v1::EVENT_KIND_EXEC);
  v1::Exec* x = out.mutable_exec();
  x->set_filename(SanitizeUtf8(CString(filename, e.filename_len)));
  x->set_argc(e.argc);
  x->set_filename_truncated((e.flags & VIGIL_EXEC_FILENAME_TRUNCATED) != 0);

  v1::Process* p = out.mutable_process();
  p->set_exe(x->filename());
  // argv is NUL-separated; the last one has no NUL when the byte limit cut it.
  absl::string_view block(args, e.args_len);
  bool truncated = (e.flags & (VIGIL_EXEC_ARGS_TRUNCATED | VIGIL_EXEC_ARGS_READ_ERROR)) != 0;
  if (!block.empty()) {
    if (block.back() == '\0') block.remove_suffix(1);
    for (;;) {
      if (static_cast<uint32_t>(p->argv_size()) == options_.max_args) {
        truncated = true;
        break;
      }
      size_t nul = block.find('\0');
      p->add_argv(SanitizeUtf8(block.substr(0, nul)));
      if (nul == absl::string_view::npos) break;
      block.remove_prefix(nul + 1);
    }
  }
  if (static_cast<uint32_t>(p->argv_size()) < e.argc) truncated = true;
  p->set_argv_truncated(truncated);
  return absl::OkStatus();
}

}  // namespace vigil

namespace vigil {

std::string KindName(uint16_t kind) {
  switch (kind) {
    case VIGIL_KIND_EXEC:
      return "exec";
    case VIGIL_KIND_EXIT:
      return "exit";
    case VIGIL_KIND_FORK:
      return "fork";
    default:
      return absl::StrCat("kind_", kind);
  }
}

}  // namespace vigil
