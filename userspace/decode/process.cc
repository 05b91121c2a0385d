// Process family: exec, exit, fork.
#include "common/utf8.h"
#include "decode/dns.h"
#include "decode/families.h"
#include "decode/record.h"
#include "vigil_abi.h"

namespace vigil::decode {

namespace {

constexpr uint16_t kAfUnix = 1;
constexpr uint16_t kAfInet = 2;
constexpr uint16_t kAfInet6 = 10;
constexpr uint16_t kIpprotoTcp = 6;
constexpr uint16_t kIpprotoUdp = 17;

// The kernel's VIGIL_FD_* numbers are the proto's FdType values.
static_assert(VIGIL_FD_UNKNOWN == v1::FD_TYPE_UNSPECIFIED && VIGIL_FD_CLOSED == v1::FD_TYPE_CLOSED &&
              VIGIL_FD_TTY == v1::FD_TYPE_TTY && VIGIL_FD_PIPE == v1::FD_TYPE_PIPE &&
              VIGIL_FD_FILE == v1::FD_TYPE_FILE && VIGIL_FD_SOCKET == v1::FD_TYPE_SOCKET &&
              VIGIL_FD_DEVICE == v1::FD_TYPE_DEVICE && VIGIL_FD_OTHER == v1::FD_TYPE_OTHER);

absl::Status DecodeStdio(uint32_t fd, const vigil_stdio& s, v1::StdioFd* out) {
  if (s.type > VIGIL_FD_OTHER) return absl::InvalidArgumentError(absl::StrCat("fd ", fd, " has type ", s.type));
  out->set_fd(fd);
  out->set_type(static_cast<v1::FdType>(s.type));
  if (s.type != VIGIL_FD_SOCKET) return absl::OkStatus();
  const vigil_sock_tuple& t = s.tuple;
  switch (t.family) {
    case kAfUnix:
      out->set_family("unix");
      return absl::OkStatus();
    case kAfInet:
      out->set_family("ipv4");
      break;
    case kAfInet6:
      out->set_family("ipv6");
      break;
    default:
      out->set_family(absl::StrCat(t.family));
      return absl::OkStatus();
  }
  out->set_protocol(t.protocol == kIpprotoTcp ? "tcp" : t.protocol == kIpprotoUdp ? "udp" : absl::StrCat(t.protocol));
  const size_t addr_len = t.family == kAfInet ? 4 : 16;
  AssignIp(absl::MakeConstSpan(t.local_addr, addr_len), *out->mutable_local()->mutable_ip());
  out->mutable_local()->set_port(t.local_port);
  AssignIp(absl::MakeConstSpan(t.remote_addr, addr_len), *out->mutable_remote()->mutable_ip());
  out->mutable_remote()->set_port(t.remote_port);
  return absl::OkStatus();
}

absl::Status DecodeExec(absl::Span<const uint8_t> record, const DecoderOptions& options, v1::Event& out) {
  if (auto s = ExpectAtLeast<vigil_exec>(record, "exec"); !s.ok()) return s;
  const auto e = Load<vigil_exec>(record);
  if (e.args_len > VIGIL_ARGS_MAX || e.filename_len > VIGIL_PATH_MAX || e.cwd_len > VIGIL_PATH_MAX ||
      sizeof(vigil_exec) + e.args_len + e.filename_len + e.cwd_len != record.size()) {
    return absl::InvalidArgumentError(absl::StrCat("exec record of ", record.size(), " bytes holds args_len ",
                                                   e.args_len, " and filename_len ", e.filename_len, " and cwd_len ",
                                                   e.cwd_len));
  }
  const char* args = reinterpret_cast<const char*>(record.data() + sizeof(vigil_exec));
  const char* filename = args + e.args_len;

  out.set_kind(v1::EVENT_KIND_EXEC);
  v1::Exec* x = out.mutable_exec();
  AssignUtf8(CString(filename, e.filename_len), *x->mutable_filename());
  x->set_argc(e.argc);
  x->set_filename_truncated((e.flags & VIGIL_EXEC_FILENAME_TRUNCATED) != 0);
  for (uint32_t fd = 0; fd < VIGIL_STDIO_FDS; ++fd) {
    if (auto s = DecodeStdio(fd, e.stdio[fd], x->add_stdio()); !s.ok()) return s;
  }
  x->set_upper_layer((e.facts & VIGIL_EXEC_FACT_UPPER_LAYER) != 0);
  x->set_memfd((e.facts & VIGIL_EXEC_FACT_MEMFD) != 0);
  x->set_deleted((e.facts & VIGIL_EXEC_FACT_DELETED) != 0);
  x->set_setuid((e.facts & VIGIL_EXEC_FACT_SETUID) != 0);
  x->set_setgid((e.facts & VIGIL_EXEC_FACT_SETGID) != 0);
  x->set_file_caps((e.facts & VIGIL_EXEC_FACT_FILE_CAPS) != 0);

  v1::Process* p = out.mutable_process();
  p->set_exe(x->filename());
  // Empty when the kernel could not read it: the process cache fills it in.
  AssignUtf8(CString(filename + e.filename_len, e.cwd_len), *p->mutable_cwd());
  // argv is NUL-separated; the last one has no NUL when the byte limit cut it.
  absl::string_view block(args, e.args_len);
  bool truncated = (e.flags & (VIGIL_EXEC_ARGS_TRUNCATED | VIGIL_EXEC_ARGS_READ_ERROR)) != 0;
  if (!block.empty()) {
    if (block.back() == '\0') block.remove_suffix(1);
    for (;;) {
      if (static_cast<uint32_t>(p->argv_size()) == options.max_args) {
        truncated = true;
        break;
      }
      size_t nul = block.find('\0');
      AssignUtf8(block.substr(0, nul), *p->add_argv());
      if (nul == absl::string_view::npos) break;
      block.remove_prefix(nul + 1);
    }
  }
  if (static_cast<uint32_t>(p->argv_size()) < e.argc) truncated = true;
  p->set_argv_truncated(truncated);
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeProcess(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions& options,
                           v1::Event& out) {
  switch (kind) {
    case VIGIL_KIND_EXEC:
      return DecodeExec(record, options, out);
    case VIGIL_KIND_EXIT: {
      if (auto s = ExpectSize<vigil_exit>(record, "exit"); !s.ok()) return s;
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
      if (auto s = ExpectSize<vigil_fork>(record, "fork"); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_FORK);
      out.mutable_fork()->set_parent_tid(Load<vigil_fork>(record).parent_tid);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown event kind ", kind));
  }
}

}  // namespace vigil::decode
