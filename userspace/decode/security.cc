// Security syscall family: ptrace, namespaces, mount, modules, bpf program
// loads, memfd_create, credential changes, kill of another process.
#include <bpf/libbpf.h>
#include <string.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "decode/abi_names.h"
#include "decode/families.h"
#include "decode/record.h"
#include "vigil_abi.h"

namespace vigil::decode {

namespace {

// Kernel return values in [-4095, -1] are -errno.
void FillCall(const vigil_syscall& call, v1::SyscallResult* out) {
  out->set_name(SyscallName(call.nr));
  out->set_result(call.result);
  if (call.result < 0 && call.result >= -4095) {
    const char* name = strerrorname_np(static_cast<int>(-call.result));
    out->set_error(name != nullptr ? name : absl::StrCat("errno ", -call.result));
  }
  out->set_read_error((call.flags & VIGIL_SEC_READ_ERROR) != 0);
}

template <size_t N>
std::string Str(const char (&field)[N]) {
  return SanitizeUtf8(CString(field, N));
}

constexpr uint64_t kCloneNewTime = 0x00000080;

// CLONE_NEW* flags by name, as in /proc/<pid>/ns/.
std::vector<const char*> NamespaceNames(uint64_t flags, bool with_time) {
  static constexpr std::pair<uint64_t, const char*> kNamespaces[] = {
      {0x00020000, "mnt"}, {0x04000000, "uts"}, {0x08000000, "ipc"},    {0x10000000, "user"},
      {0x20000000, "pid"}, {0x40000000, "net"}, {0x02000000, "cgroup"}, {kCloneNewTime, "time"}};
  std::vector<const char*> names;
  for (auto [flag, name] : kNamespaces) {
    if ((flags & flag) != 0 && (with_time || flag != kCloneNewTime)) names.push_back(name);
  }
  return names;
}

const char* PtraceRequestName(int64_t request) {
  switch (request) {
    case 0:
      return "PTRACE_TRACEME";
    case 4:
      return "PTRACE_POKETEXT";
    case 5:
      return "PTRACE_POKEDATA";
    case 6:
      return "PTRACE_POKEUSER";
    case 13:
      return "PTRACE_SETREGS";
    case 15:
      return "PTRACE_SETFPREGS";
    case 16:
      return "PTRACE_ATTACH";
    case 0x4205:
      return "PTRACE_SETREGSET";
    case 0x4206:
      return "PTRACE_SEIZE";
    default:
      return "";
  }
}

// libbpf's name of an enum bpf_prog_type value ("kprobe", "socket_filter"),
// "" for a type newer than the libbpf this was built with.
const char* ProgTypeName(uint32_t type) {
  const char* name = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type));
  return name != nullptr ? name : "";
}

void FillIds(const vigil_ids& ids, v1::Ids* out) {
  out->set_uid(ids.uid);
  out->set_euid(ids.euid);
  out->set_suid(ids.suid);
  out->set_fsuid(ids.fsuid);
  out->set_gid(ids.gid);
  out->set_egid(ids.egid);
  out->set_sgid(ids.sgid);
  out->set_fsgid(ids.fsgid);
}

void FillCaps(const vigil_caps& caps, v1::Capabilities* out) {
  out->set_effective(caps.effective);
  out->set_permitted(caps.permitted);
  out->set_inheritable(caps.inheritable);
}

bool Flag(const vigil_syscall& call, uint32_t flag) { return (call.flags & flag) != 0; }

// Checks the size and the syscall of a record of fixed size T, and loads it.
template <typename T>
absl::Status LoadChecked(uint16_t kind, absl::Span<const uint8_t> record, T& out) {
  if (auto s = ExpectSize<T>(record, KernelKindName(kind)); !s.ok()) return s;
  out = Load<T>(record);
  // Each syscall is declared with the one kind it may come in (vigil_abi.h).
  if (SyscallKind(out.call.nr) != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat(KernelKindName(kind), " record names syscall ", out.call.nr, ", not one of its own"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeSecurity(uint16_t kind, absl::Span<const uint8_t> record, const DecoderOptions&, v1::Event& out) {
  switch (kind) {
    case VIGIL_KIND_PTRACE: {
      vigil_ptrace e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_PTRACE);
      v1::Ptrace* x = out.mutable_ptrace();
      FillCall(e.call, x->mutable_call());
      x->set_request(e.request);
      x->set_request_name(PtraceRequestName(e.request));
      x->set_target_pid(e.target_pid);
      return absl::OkStatus();
    }
    case VIGIL_KIND_SETNS: {
      vigil_setns e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_SETNS);
      v1::Setns* x = out.mutable_setns();
      FillCall(e.call, x->mutable_call());
      x->set_fd(e.fd);
      x->set_nstype(e.nstype);
      // The kernel's type is exactly one CLONE_NEW* flag.
      if (auto names = NamespaceNames(e.ns_type, true); names.size() == 1) x->set_namespace_type(names[0]);
      x->set_namespace_inode(e.ns_inum);
      return absl::OkStatus();
    }
    case VIGIL_KIND_UNSHARE:
    case VIGIL_KIND_CLONE_NS: {
      vigil_ns_flags e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(kind == VIGIL_KIND_UNSHARE ? v1::EVENT_KIND_UNSHARE : v1::EVENT_KIND_CLONE_NS);
      v1::NamespaceChange* x = out.mutable_namespace_change();
      FillCall(e.call, x->mutable_call());
      x->set_flags(e.flags);
      // clone() keeps the exit signal where clone3 and unshare have CLONE_NEWTIME.
      for (const char* name : NamespaceNames(e.flags, e.call.nr != VIGIL_SYS_CLONE)) x->add_namespaces(name);
      return absl::OkStatus();
    }
    case VIGIL_KIND_MOUNT: {
      vigil_mount e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_MOUNT);
      v1::Mount* x = out.mutable_mount();
      FillCall(e.call, x->mutable_call());
      x->set_source(Str(e.source));
      x->set_target(Str(e.target));
      x->set_fstype(Str(e.fstype));
      x->set_flags(e.flags);
      x->set_source_truncated(Flag(e.call, VIGIL_SEC_STR0_TRUNCATED));
      x->set_target_truncated(Flag(e.call, VIGIL_SEC_STR1_TRUNCATED));
      x->set_fstype_truncated(Flag(e.call, VIGIL_SEC_STR2_TRUNCATED));
      return absl::OkStatus();
    }
    case VIGIL_KIND_UMOUNT: {
      vigil_mount e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_UMOUNT);
      v1::Umount* x = out.mutable_umount();
      FillCall(e.call, x->mutable_call());
      x->set_target(Str(e.target));
      x->set_flags(e.flags);
      x->set_target_truncated(Flag(e.call, VIGIL_SEC_STR1_TRUNCATED));
      return absl::OkStatus();
    }
    case VIGIL_KIND_MODULE_LOAD: {
      vigil_module_load e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_MODULE_LOAD);
      v1::ModuleLoad* x = out.mutable_module_load();
      FillCall(e.call, x->mutable_call());
      if (e.call.nr == VIGIL_SYS_FINIT_MODULE) {
        x->set_fd(e.fd);
        x->set_file_name(Str(e.name));
        x->set_flags(e.load_flags);
      } else {
        x->set_image_size(e.image_len);
      }
      x->set_params(Str(e.params));
      x->set_params_truncated(Flag(e.call, VIGIL_SEC_STR1_TRUNCATED));
      return absl::OkStatus();
    }
    case VIGIL_KIND_BPF_PROG_LOAD: {
      vigil_bpf_prog_load e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_BPF_PROG_LOAD);
      v1::BpfProgLoad* x = out.mutable_bpf_prog_load();
      FillCall(e.call, x->mutable_call());
      x->set_prog_type(e.prog_type);
      x->set_prog_type_name(ProgTypeName(e.prog_type));
      x->set_insn_count(e.insn_cnt);
      x->set_name(Str(e.name));
      x->set_expected_attach_type(e.expected_attach_type);
      x->set_prog_flags(e.prog_flags);
      return absl::OkStatus();
    }
    case VIGIL_KIND_MEMFD_CREATE: {
      vigil_memfd_create e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_MEMFD_CREATE);
      v1::MemfdCreate* x = out.mutable_memfd_create();
      FillCall(e.call, x->mutable_call());
      x->set_name(Str(e.name));
      x->set_flags(e.flags);
      x->set_name_truncated(Flag(e.call, VIGIL_SEC_STR0_TRUNCATED));
      return absl::OkStatus();
    }
    case VIGIL_KIND_SETID:
    case VIGIL_KIND_CAPSET: {
      vigil_cred_change e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(kind == VIGIL_KIND_SETID ? v1::EVENT_KIND_SETID : v1::EVENT_KIND_CAPSET);
      v1::CredentialsChange* x = out.mutable_credentials_change();
      FillCall(e.call, x->mutable_call());
      // As many as the syscall takes ids (capset: pid and header version).
      int n = 1;
      switch (e.call.nr) {
        case VIGIL_SYS_SETREUID:
        case VIGIL_SYS_SETREGID:
        case VIGIL_SYS_CAPSET:
          n = 2;
          break;
        case VIGIL_SYS_SETRESUID:
        case VIGIL_SYS_SETRESGID:
          n = 3;
          break;
      }
      for (int i = 0; i < n; ++i) x->add_requested(e.args[i]);
      FillIds(e.old_ids, x->mutable_old_ids());
      FillIds(e.new_ids, x->mutable_new_ids());
      FillCaps(e.old_caps, x->mutable_old_caps());
      FillCaps(e.new_caps, x->mutable_new_caps());
      return absl::OkStatus();
    }
    case VIGIL_KIND_KILL: {
      vigil_kill e;
      if (auto s = LoadChecked(kind, record, e); !s.ok()) return s;
      out.set_kind(v1::EVENT_KIND_KILL);
      v1::Kill* x = out.mutable_kill();
      FillCall(e.call, x->mutable_call());
      if (e.call.nr != VIGIL_SYS_TKILL) x->set_target_pid(e.pid);
      if (e.call.nr != VIGIL_SYS_KILL) x->set_target_tid(e.tid);
      x->set_signal(e.sig);
      if (const char* abbrev = sigabbrev_np(e.sig)) x->set_signal_name(absl::StrCat("SIG", abbrev));
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown event kind ", kind));
  }
}

}  // namespace vigil::decode
