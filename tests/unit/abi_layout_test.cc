// The decoder reads records with the host compiler's struct layout; the
// probes write them with clang's BPF-target layout. Both must agree, member
// by member, or fields silently shift.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "vigil_abi.h"

namespace {

struct Member {
  std::string name;
  size_t offset;
  size_t size;
};

struct Layout {
  std::string name;
  size_t size;
  std::vector<Member> members;  // every member, in declaration order
};

void PrintTo(const Layout& p, std::ostream* os) { *os << p.name; }

#define VIGIL_MEMBER(type, field) \
  Member { #field, offsetof(type, field), sizeof(type::field) }

// The host's view. A field added to vigil_abi.h and not here fails the test.
const std::vector<Layout>& HostLayouts() {
  static const auto* layouts = new std::vector<Layout>{
      {"vigil_proc",
       sizeof(vigil_proc),
       {VIGIL_MEMBER(vigil_proc, start_boottime_ns), VIGIL_MEMBER(vigil_proc, parent_start_boottime_ns),
        VIGIL_MEMBER(vigil_proc, cgroup_id), VIGIL_MEMBER(vigil_proc, pid), VIGIL_MEMBER(vigil_proc, tid),
        VIGIL_MEMBER(vigil_proc, ppid), VIGIL_MEMBER(vigil_proc, uid), VIGIL_MEMBER(vigil_proc, gid),
        VIGIL_MEMBER(vigil_proc, euid), VIGIL_MEMBER(vigil_proc, egid), VIGIL_MEMBER(vigil_proc, _pad0),
        VIGIL_MEMBER(vigil_proc, comm), VIGIL_MEMBER(vigil_proc, ns_pid), VIGIL_MEMBER(vigil_proc, pid_ns),
        VIGIL_MEMBER(vigil_proc, mnt_ns), VIGIL_MEMBER(vigil_proc, net_ns)}},
      {"vigil_header",
       sizeof(vigil_header),
       {VIGIL_MEMBER(vigil_header, abi_version), VIGIL_MEMBER(vigil_header, kind), VIGIL_MEMBER(vigil_header, size),
        VIGIL_MEMBER(vigil_header, boot_ns), VIGIL_MEMBER(vigil_header, proc)}},
      {"vigil_exec",
       sizeof(vigil_exec),
       {VIGIL_MEMBER(vigil_exec, hdr), VIGIL_MEMBER(vigil_exec, flags), VIGIL_MEMBER(vigil_exec, argc),
        VIGIL_MEMBER(vigil_exec, args_len), VIGIL_MEMBER(vigil_exec, args_total),
        VIGIL_MEMBER(vigil_exec, filename_len), VIGIL_MEMBER(vigil_exec, cwd_len), VIGIL_MEMBER(vigil_exec, facts),
        VIGIL_MEMBER(vigil_exec, _pad0), VIGIL_MEMBER(vigil_exec, stdio)}},
      {"vigil_stdio",
       sizeof(vigil_stdio),
       {VIGIL_MEMBER(vigil_stdio, tuple), VIGIL_MEMBER(vigil_stdio, type), VIGIL_MEMBER(vigil_stdio, _pad0)}},
      {"vigil_exit",
       sizeof(vigil_exit),
       {VIGIL_MEMBER(vigil_exit, hdr), VIGIL_MEMBER(vigil_exit, exit_code), VIGIL_MEMBER(vigil_exit, _pad0)}},
      {"vigil_fork",
       sizeof(vigil_fork),
       {VIGIL_MEMBER(vigil_fork, hdr), VIGIL_MEMBER(vigil_fork, parent_tid), VIGIL_MEMBER(vigil_fork, _pad0)}},
      {"vigil_stats", sizeof(vigil_stats), {VIGIL_MEMBER(vigil_stats, counters)}},
      {"vigil_syscall",
       sizeof(vigil_syscall),
       {VIGIL_MEMBER(vigil_syscall, result), VIGIL_MEMBER(vigil_syscall, nr), VIGIL_MEMBER(vigil_syscall, flags)}},
      {"vigil_ptrace",
       sizeof(vigil_ptrace),
       {VIGIL_MEMBER(vigil_ptrace, hdr), VIGIL_MEMBER(vigil_ptrace, call), VIGIL_MEMBER(vigil_ptrace, request),
        VIGIL_MEMBER(vigil_ptrace, target_pid), VIGIL_MEMBER(vigil_ptrace, _pad0)}},
      {"vigil_setns",
       sizeof(vigil_setns),
       {VIGIL_MEMBER(vigil_setns, hdr), VIGIL_MEMBER(vigil_setns, call), VIGIL_MEMBER(vigil_setns, fd),
        VIGIL_MEMBER(vigil_setns, nstype), VIGIL_MEMBER(vigil_setns, ns_type), VIGIL_MEMBER(vigil_setns, ns_inum)}},
      {"vigil_ns_flags",
       sizeof(vigil_ns_flags),
       {VIGIL_MEMBER(vigil_ns_flags, hdr), VIGIL_MEMBER(vigil_ns_flags, call), VIGIL_MEMBER(vigil_ns_flags, flags)}},
      {"vigil_mount",
       sizeof(vigil_mount),
       {VIGIL_MEMBER(vigil_mount, hdr), VIGIL_MEMBER(vigil_mount, call), VIGIL_MEMBER(vigil_mount, flags),
        VIGIL_MEMBER(vigil_mount, source), VIGIL_MEMBER(vigil_mount, target), VIGIL_MEMBER(vigil_mount, fstype)}},
      {"vigil_module_load",
       sizeof(vigil_module_load),
       {VIGIL_MEMBER(vigil_module_load, hdr), VIGIL_MEMBER(vigil_module_load, call),
        VIGIL_MEMBER(vigil_module_load, image_len), VIGIL_MEMBER(vigil_module_load, fd),
        VIGIL_MEMBER(vigil_module_load, load_flags), VIGIL_MEMBER(vigil_module_load, name),
        VIGIL_MEMBER(vigil_module_load, params)}},
      {"vigil_bpf_prog_load",
       sizeof(vigil_bpf_prog_load),
       {VIGIL_MEMBER(vigil_bpf_prog_load, hdr), VIGIL_MEMBER(vigil_bpf_prog_load, call),
        VIGIL_MEMBER(vigil_bpf_prog_load, prog_type), VIGIL_MEMBER(vigil_bpf_prog_load, insn_cnt),
        VIGIL_MEMBER(vigil_bpf_prog_load, expected_attach_type), VIGIL_MEMBER(vigil_bpf_prog_load, prog_flags),
        VIGIL_MEMBER(vigil_bpf_prog_load, name)}},
      {"vigil_memfd_create",
       sizeof(vigil_memfd_create),
       {VIGIL_MEMBER(vigil_memfd_create, hdr), VIGIL_MEMBER(vigil_memfd_create, call),
        VIGIL_MEMBER(vigil_memfd_create, flags), VIGIL_MEMBER(vigil_memfd_create, _pad0),
        VIGIL_MEMBER(vigil_memfd_create, name)}},
      {"vigil_ids",
       sizeof(vigil_ids),
       {VIGIL_MEMBER(vigil_ids, uid), VIGIL_MEMBER(vigil_ids, euid), VIGIL_MEMBER(vigil_ids, suid),
        VIGIL_MEMBER(vigil_ids, fsuid), VIGIL_MEMBER(vigil_ids, gid), VIGIL_MEMBER(vigil_ids, egid),
        VIGIL_MEMBER(vigil_ids, sgid), VIGIL_MEMBER(vigil_ids, fsgid)}},
      {"vigil_caps",
       sizeof(vigil_caps),
       {VIGIL_MEMBER(vigil_caps, effective), VIGIL_MEMBER(vigil_caps, permitted),
        VIGIL_MEMBER(vigil_caps, inheritable)}},
      {"vigil_cred_change",
       sizeof(vigil_cred_change),
       {VIGIL_MEMBER(vigil_cred_change, hdr), VIGIL_MEMBER(vigil_cred_change, call),
        VIGIL_MEMBER(vigil_cred_change, args), VIGIL_MEMBER(vigil_cred_change, _pad0),
        VIGIL_MEMBER(vigil_cred_change, old_ids), VIGIL_MEMBER(vigil_cred_change, new_ids),
        VIGIL_MEMBER(vigil_cred_change, old_caps), VIGIL_MEMBER(vigil_cred_change, new_caps)}},
      {"vigil_kill",
       sizeof(vigil_kill),
       {VIGIL_MEMBER(vigil_kill, hdr), VIGIL_MEMBER(vigil_kill, call), VIGIL_MEMBER(vigil_kill, pid),
        VIGIL_MEMBER(vigil_kill, tid), VIGIL_MEMBER(vigil_kill, sig), VIGIL_MEMBER(vigil_kill, _pad0)}},
      {"vigil_sock_tuple",
       sizeof(vigil_sock_tuple),
       {VIGIL_MEMBER(vigil_sock_tuple, local_addr), VIGIL_MEMBER(vigil_sock_tuple, remote_addr),
        VIGIL_MEMBER(vigil_sock_tuple, local_port), VIGIL_MEMBER(vigil_sock_tuple, remote_port),
        VIGIL_MEMBER(vigil_sock_tuple, family), VIGIL_MEMBER(vigil_sock_tuple, protocol)}},
      {"vigil_tcp_connect",
       sizeof(vigil_tcp_connect),
       {VIGIL_MEMBER(vigil_tcp_connect, hdr), VIGIL_MEMBER(vigil_tcp_connect, tuple),
        VIGIL_MEMBER(vigil_tcp_connect, result), VIGIL_MEMBER(vigil_tcp_connect, error)}},
      {"vigil_tcp_accept",
       sizeof(vigil_tcp_accept),
       {VIGIL_MEMBER(vigil_tcp_accept, hdr), VIGIL_MEMBER(vigil_tcp_accept, tuple)}},
      {"vigil_listen",
       sizeof(vigil_listen),
       {VIGIL_MEMBER(vigil_listen, hdr), VIGIL_MEMBER(vigil_listen, tuple), VIGIL_MEMBER(vigil_listen, backlog),
        VIGIL_MEMBER(vigil_listen, error)}},
      {"vigil_bind",
       sizeof(vigil_bind),
       {VIGIL_MEMBER(vigil_bind, hdr), VIGIL_MEMBER(vigil_bind, tuple), VIGIL_MEMBER(vigil_bind, error),
        VIGIL_MEMBER(vigil_bind, _pad0)}},
      {"vigil_tcp_close",
       sizeof(vigil_tcp_close),
       {VIGIL_MEMBER(vigil_tcp_close, hdr), VIGIL_MEMBER(vigil_tcp_close, tuple),
        VIGIL_MEMBER(vigil_tcp_close, duration_ns), VIGIL_MEMBER(vigil_tcp_close, bytes_sent),
        VIGIL_MEMBER(vigil_tcp_close, bytes_received), VIGIL_MEMBER(vigil_tcp_close, flags),
        VIGIL_MEMBER(vigil_tcp_close, _pad0)}},
      {"vigil_dns",
       sizeof(vigil_dns),
       {VIGIL_MEMBER(vigil_dns, hdr), VIGIL_MEMBER(vigil_dns, tuple), VIGIL_MEMBER(vigil_dns, payload_len),
        VIGIL_MEMBER(vigil_dns, payload_total)}},
      {"vigil_file",
       sizeof(vigil_file),
       {VIGIL_MEMBER(vigil_file, hdr), VIGIL_MEMBER(vigil_file, result), VIGIL_MEMBER(vigil_file, op),
        VIGIL_MEMBER(vigil_file, flags), VIGIL_MEMBER(vigil_file, mode), VIGIL_MEMBER(vigil_file, uid),
        VIGIL_MEMBER(vigil_file, gid), VIGIL_MEMBER(vigil_file, vflags), VIGIL_MEMBER(vigil_file, path_len),
        VIGIL_MEMBER(vigil_file, path2_len)}},
      {"vigil_prefix_key",
       sizeof(vigil_prefix_key),
       {VIGIL_MEMBER(vigil_prefix_key, prefixlen), VIGIL_MEMBER(vigil_prefix_key, data)}},
  };
  return *layouts;
}

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

BtfPtr Parse(const char* path) {
  errno = 0;
  BtfPtr b(btf__parse_elf(path, nullptr));
  if (!b) ADD_FAILURE() << "btf__parse_elf(" << path << "): " << std::strerror(errno);
  return b;
}

// Checks one struct of `b` against the host layout; false when `b` lacks it.
bool MatchesHost(const btf* b, const Layout& host) {
  const int id = btf__find_by_name_kind(b, host.name.c_str(), BTF_KIND_STRUCT);
  if (id < 0) return false;
  SCOPED_TRACE("struct " + host.name);
  const btf_type* t = btf__type_by_id(b, id);
  EXPECT_EQ(t->size, host.size) << "BPF size differs from the host's sizeof";

  const btf_member* m = btf_members(t);
  std::vector<std::string> seen;
  for (int i = 0; i < btf_vlen(t); ++i, ++m) {
    const std::string name = btf__name_by_offset(b, m->name_off);
    seen.push_back(name);
    const uint32_t bits = btf_member_bit_offset(t, i);
    EXPECT_EQ(bits % 8, 0u) << name << " is a bit-field";
    const Member* want = nullptr;
    for (const auto& h : host.members) {
      if (h.name == name) want = &h;
    }
    if (want == nullptr) {
      ADD_FAILURE() << "member " << name << " is in the BPF object but not in this test's table: add it";
      continue;
    }
    EXPECT_EQ(bits / 8, want->offset) << "offset of " << name;
    EXPECT_EQ(static_cast<size_t>(btf__resolve_size(b, m->type)), want->size) << "size of " << name;
  }
  std::vector<std::string> want_names;
  for (const auto& h : host.members) want_names.push_back(h.name);
  EXPECT_EQ(seen, want_names) << "members differ in name or order";
  return true;
}

class AbiLayout : public ::testing::TestWithParam<Layout> {};

// clang -target bpf compiling vigil_abi.h, with the flags of bpf/CMakeLists.txt.
TEST_P(AbiLayout, BpfTargetMatchesHost) {
  BtfPtr b = Parse(VIGIL_ABI_LAYOUT_BPF_OBJECT);
  ASSERT_TRUE(b);
  EXPECT_TRUE(MatchesHost(b.get(), GetParam())) << "struct " << GetParam().name << " missing from BTF";
}

// The table above and abi_layout.bpf.c are kept by hand (C++ has no
// reflection, and BTF holds only the types an object names): a struct
// declared in the header and missing from them fails here.
TEST(AbiLayoutCoverage, EveryStructTheHeaderDeclaresIsCompared) {
  std::ifstream header(VIGIL_ABI_HEADER);
  ASSERT_TRUE(header) << VIGIL_ABI_HEADER;
  const std::string text((std::istreambuf_iterator<char>(header)), std::istreambuf_iterator<char>());
  const std::regex declaration(R"(\nstruct (\w+) \{)");
  std::set<std::string> declared;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), declaration); it != std::sregex_iterator(); ++it) {
    declared.insert((*it)[1]);
  }
  std::set<std::string> compared;
  for (const auto& layout : HostLayouts()) compared.insert(layout.name);
  EXPECT_GE(declared.size(), 20u) << "the header's declarations were not found";
  EXPECT_EQ(declared, compared);
}

INSTANTIATE_TEST_SUITE_P(Structs, AbiLayout, ::testing::ValuesIn(HostLayouts()),
                         [](const auto& info) { return info.param.name; });

// The object the sensor loads. Its BTF holds only the ABI structs named at
// file scope (the vigil_stats map value); record structs live in scratch
// memory and on the stack, which BTF does not describe.
TEST(AbiLayoutProcessObject, StructsItCarriesMatchHost) {
  BtfPtr b = Parse(VIGIL_PROCESS_BPF_OBJECT);
  ASSERT_TRUE(b);
  std::vector<std::string> present;
  for (const auto& layout : HostLayouts()) {
    if (MatchesHost(b.get(), layout)) present.push_back(layout.name);
  }
  EXPECT_THAT(present, ::testing::Contains("vigil_stats"));
  RecordProperty("structs_in_btf", ::testing::PrintToString(present));
}

TEST(AbiLayoutProcessObject, BuiltAgainstThisAbiVersion) {
  // The loader compares the object's vigil_object_abi (in .rodata) with this.
  errno = 0;
  std::unique_ptr<bpf_object, void (*)(bpf_object*)> obj(bpf_object__open_file(VIGIL_PROCESS_BPF_OBJECT, nullptr),
                                                         bpf_object__close);
  ASSERT_TRUE(obj) << std::strerror(errno);
  bpf_map* rodata = bpf_object__find_map_by_name(obj.get(), ".rodata");
  ASSERT_NE(rodata, nullptr);
  size_t size = 0;
  const auto* data = static_cast<const char*>(bpf_map__initial_value(rodata, &size));
  ASSERT_NE(data, nullptr);

  const btf* b = bpf_object__btf(obj.get());
  const int sec = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
  ASSERT_GT(sec, 0);
  const btf_type* t = btf__type_by_id(b, sec);
  const btf_var_secinfo* var = btf_var_secinfos(t);
  bool found = false;
  for (int i = 0; i < btf_vlen(t); ++i, ++var) {
    if (std::string(btf__name_by_offset(b, btf__type_by_id(b, var->type)->name_off)) != "vigil_object_abi") continue;
    ASSERT_EQ(var->size, sizeof(uint32_t));
    ASSERT_LE(var->offset + var->size, size);
    uint32_t version;
    std::memcpy(&version, data + var->offset, sizeof(version));
    EXPECT_EQ(version, static_cast<uint32_t>(VIGIL_ABI_VERSION));
    found = true;
  }
  EXPECT_TRUE(found) << "no vigil_object_abi in .rodata";
}

}  // namespace
