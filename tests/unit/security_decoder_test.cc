// Decoder of the security syscall family: every field of every kind, and
// truncated or garbage records rejected by name, never read past their end.
#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "decode/decoder.h"
#include "records.h"
#include "status_matchers.h"
#include "vigil_abi.h"

namespace vigil {
namespace {

using test::IsOk;
using test::Record;
using test::StatusIs;
using test::TestProc;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A record of type T, header filled for `kind`, call for `nr`, the rest from `edit`.
template <typename T>
Record SecRecord(uint16_t kind, uint32_t nr, int64_t result, const std::function<void(T&)>& edit = nullptr) {
  T r{};
  test::FillHeader(r.hdr, kind, sizeof(T), TestProc());
  r.call.nr = nr;
  r.call.result = result;
  if (edit) edit(r);
  return test::Bytes(r);
}

template <size_t N>
void Put(char (&field)[N], const std::string& s) {
  std::memset(field, 0, N);
  std::memcpy(field, s.data(), std::min(s.size(), N));
}

class SecurityDecoderTest : public ::testing::Test {
 protected:
  v1::Event Decoded(const Record& record) {
    v1::Event event;
    EXPECT_THAT(decoder_.Decode(absl::MakeConstSpan(record), event), IsOk());
    EXPECT_EQ(event.process().pid(), 4242u) << "the common header is decoded too";
    return event;
  }
  BootClock clock_;
  Decoder decoder_{{.node = test::kNode}, &clock_};
};

TEST_F(SecurityDecoderTest, Ptrace) {
  v1::Event e = Decoded(SecRecord<vigil_ptrace>(VIGIL_KIND_PTRACE, VIGIL_SYS_PTRACE, 0, [](vigil_ptrace& r) {
    r.request = 0x4206;
    r.target_pid = 77;
  }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_PTRACE);
  ASSERT_TRUE(e.has_ptrace());
  EXPECT_EQ(e.ptrace().call().name(), "ptrace");
  ASSERT_TRUE(e.ptrace().call().has_result());
  EXPECT_EQ(e.ptrace().call().result(), 0);
  EXPECT_EQ(e.ptrace().call().error(), "");
  EXPECT_EQ(e.ptrace().request(), 0x4206);
  EXPECT_EQ(e.ptrace().request_name(), "PTRACE_SEIZE");
  EXPECT_EQ(e.ptrace().target_pid(), 77u);
}

TEST_F(SecurityDecoderTest, FailedCallNamesItsErrno) {
  v1::Event e = Decoded(SecRecord<vigil_ptrace>(VIGIL_KIND_PTRACE, VIGIL_SYS_PTRACE, -EPERM));
  EXPECT_EQ(e.ptrace().call().result(), -EPERM);
  EXPECT_EQ(e.ptrace().call().error(), "EPERM");
  EXPECT_EQ(e.ptrace().request_name(), "PTRACE_TRACEME") << "request 0";
}

TEST_F(SecurityDecoderTest, NegativeResultOutsideTheErrnoRangeIsNoError) {
  v1::Event e = Decoded(SecRecord<vigil_ptrace>(VIGIL_KIND_PTRACE, VIGIL_SYS_PTRACE, -5000));
  EXPECT_EQ(e.ptrace().call().result(), -5000);
  EXPECT_EQ(e.ptrace().call().error(), "");
}

TEST_F(SecurityDecoderTest, Setns) {
  v1::Event e = Decoded(SecRecord<vigil_setns>(VIGIL_KIND_SETNS, VIGIL_SYS_SETNS, 0, [](vigil_setns& r) {
    r.fd = 5;
    r.nstype = 0;
    r.ns_type = 0x40000000;
    r.ns_inum = 4026531840u;
  }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_SETNS);
  EXPECT_EQ(e.setns().call().name(), "setns");
  EXPECT_EQ(e.setns().fd(), 5);
  EXPECT_EQ(e.setns().nstype(), 0u);
  EXPECT_EQ(e.setns().namespace_type(), "net");
  EXPECT_EQ(e.setns().namespace_inode(), 4026531840u);
}

TEST_F(SecurityDecoderTest, SetnsOfAFileThatIsNoNamespaceOrOfSeveralBits) {
  EXPECT_EQ(Decoded(SecRecord<vigil_setns>(VIGIL_KIND_SETNS, VIGIL_SYS_SETNS, 0)).setns().namespace_type(), "");
  EXPECT_EQ(Decoded(SecRecord<vigil_setns>(VIGIL_KIND_SETNS, VIGIL_SYS_SETNS, 0,
                                           [](vigil_setns& r) { r.ns_type = 0x60000000; }))
                .setns()
                .namespace_type(),
            "");
}

TEST_F(SecurityDecoderTest, UnshareAndClone3NameTheirNamespacesTimeIncluded) {
  v1::Event u = Decoded(SecRecord<vigil_ns_flags>(VIGIL_KIND_UNSHARE, VIGIL_SYS_UNSHARE, 0, [](vigil_ns_flags& r) {
    r.flags = 0x00020000 | 0x04000000 | 0x00000080 | 0x00000400;  // mnt, uts, time, CLONE_FILES
  }));
  EXPECT_EQ(u.kind(), v1::EVENT_KIND_UNSHARE);
  EXPECT_EQ(u.namespace_change().call().name(), "unshare");
  EXPECT_EQ(u.namespace_change().flags(), 0x04020480u);
  EXPECT_THAT(u.namespace_change().namespaces(), ElementsAre("mnt", "uts", "time"));

  v1::Event c = Decoded(SecRecord<vigil_ns_flags>(VIGIL_KIND_CLONE_NS, VIGIL_SYS_CLONE3, 1234,
                                                  [](vigil_ns_flags& r) { r.flags = 0x02000000 | 0x10000000; }));
  EXPECT_EQ(c.kind(), v1::EVENT_KIND_CLONE_NS);
  EXPECT_EQ(c.namespace_change().call().name(), "clone3");
  EXPECT_EQ(c.namespace_change().call().result(), 1234);
  EXPECT_THAT(c.namespace_change().namespaces(), ElementsAre("user", "cgroup"));
}

TEST_F(SecurityDecoderTest, CloneLowByteIsTheExitSignalNotTime) {
  v1::Event c = Decoded(SecRecord<vigil_ns_flags>(VIGIL_KIND_CLONE_NS, VIGIL_SYS_CLONE, 99, [](vigil_ns_flags& r) {
    r.flags = 0x20000000 | 0x40000000 | SIGCHLD | 0x80;
  }));
  EXPECT_EQ(c.namespace_change().call().name(), "clone");
  EXPECT_THAT(c.namespace_change().namespaces(), ElementsAre("pid", "net"));
}

TEST_F(SecurityDecoderTest, Mount) {
  v1::Event e = Decoded(SecRecord<vigil_mount>(VIGIL_KIND_MOUNT, VIGIL_SYS_MOUNT, 0, [](vigil_mount& r) {
    Put(r.source, "overlay");
    Put(r.target, "/run/containerd/rootfs");
    Put(r.fstype, "overlay");
    r.flags = 6;
  }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_MOUNT);
  const v1::Mount& m = e.mount();
  EXPECT_EQ(m.call().name(), "mount");
  EXPECT_EQ(m.source(), "overlay");
  EXPECT_EQ(m.target(), "/run/containerd/rootfs");
  EXPECT_EQ(m.fstype(), "overlay");
  EXPECT_EQ(m.flags(), 6u);
  EXPECT_FALSE(m.source_truncated() || m.target_truncated() || m.fstype_truncated());
}

TEST_F(SecurityDecoderTest, MountStringsFillingTheirFieldsWithoutNulAreBoundedAndFlagged) {
  v1::Event e = Decoded(SecRecord<vigil_mount>(VIGIL_KIND_MOUNT, VIGIL_SYS_MOUNT, -ENAMETOOLONG, [](vigil_mount& r) {
    std::memset(r.source, 's', sizeof(r.source));
    std::memset(r.target, 't', sizeof(r.target));
    std::memset(r.fstype, 'f', sizeof(r.fstype));
    r.call.flags = VIGIL_SEC_STR0_TRUNCATED | VIGIL_SEC_STR1_TRUNCATED | VIGIL_SEC_STR2_TRUNCATED;
  }));
  const v1::Mount& m = e.mount();
  EXPECT_EQ(m.source(), std::string(VIGIL_SEC_STR_LEN, 's'));
  EXPECT_EQ(m.target(), std::string(VIGIL_SEC_PATH_LEN, 't'));
  EXPECT_EQ(m.fstype(), std::string(VIGIL_SEC_FSTYPE_LEN, 'f'));
  EXPECT_TRUE(m.source_truncated());
  EXPECT_TRUE(m.target_truncated());
  EXPECT_TRUE(m.fstype_truncated());
  EXPECT_EQ(m.call().error(), "ENAMETOOLONG");
}

TEST_F(SecurityDecoderTest, InvalidUtf8InAStringBecomesHexEscapes) {
  v1::Event e = Decoded(
      SecRecord<vigil_memfd_create>(VIGIL_KIND_MEMFD_CREATE, VIGIL_SYS_MEMFD_CREATE, 3, [](vigil_memfd_create& r) {
        Put(r.name,
            "a\xff"
            "b");
      }));
  EXPECT_EQ(e.memfd_create().name(), "a\\xffb");
}

TEST_F(SecurityDecoderTest, Umount) {
  v1::Event e = Decoded(SecRecord<vigil_mount>(VIGIL_KIND_UMOUNT, VIGIL_SYS_UMOUNT2, -EBUSY, [](vigil_mount& r) {
    Put(r.target, "/mnt/x");
    r.flags = 2;
    r.call.flags = VIGIL_SEC_STR1_TRUNCATED;
  }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_UMOUNT);
  EXPECT_EQ(e.umount().call().name(), "umount2");
  EXPECT_EQ(e.umount().call().error(), "EBUSY");
  EXPECT_EQ(e.umount().target(), "/mnt/x");
  EXPECT_EQ(e.umount().flags(), 2u);
  EXPECT_TRUE(e.umount().target_truncated());
}

TEST_F(SecurityDecoderTest, FinitModule) {
  v1::Event e = Decoded(
      SecRecord<vigil_module_load>(VIGIL_KIND_MODULE_LOAD, VIGIL_SYS_FINIT_MODULE, -ENOEXEC, [](vigil_module_load& r) {
        r.fd = 3;
        r.load_flags = 1;
        Put(r.name, "rootkit.ko");
        Put(r.params, "hide=1");
      }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_MODULE_LOAD);
  const v1::ModuleLoad& m = e.module_load();
  EXPECT_EQ(m.call().name(), "finit_module");
  EXPECT_EQ(m.call().result(), -ENOEXEC);
  EXPECT_EQ(m.call().error(), "ENOEXEC");
  ASSERT_TRUE(m.has_fd());
  EXPECT_EQ(m.fd(), 3);
  EXPECT_EQ(m.file_name(), "rootkit.ko");
  EXPECT_EQ(m.params(), "hide=1");
  EXPECT_EQ(m.flags(), 1u);
  EXPECT_EQ(m.image_size(), 0u);
}

TEST_F(SecurityDecoderTest, InitModule) {
  v1::Event e =
      Decoded(SecRecord<vigil_module_load>(VIGIL_KIND_MODULE_LOAD, VIGIL_SYS_INIT_MODULE, 0, [](vigil_module_load& r) {
        r.fd = -1;
        r.image_len = 65536;
        Put(r.params, "x=y");
        r.call.flags = VIGIL_SEC_STR1_TRUNCATED;
      }));
  const v1::ModuleLoad& m = e.module_load();
  EXPECT_EQ(m.call().name(), "init_module");
  EXPECT_FALSE(m.has_fd());
  EXPECT_EQ(m.image_size(), 65536u);
  EXPECT_EQ(m.params(), "x=y");
  EXPECT_TRUE(m.params_truncated());
}

TEST_F(SecurityDecoderTest, BpfProgLoad) {
  v1::Event e =
      Decoded(SecRecord<vigil_bpf_prog_load>(VIGIL_KIND_BPF_PROG_LOAD, VIGIL_SYS_BPF, 7, [](vigil_bpf_prog_load& r) {
        r.prog_type = 2;
        r.insn_cnt = 300;
        r.expected_attach_type = 4;
        r.prog_flags = 1;
        std::memcpy(r.name, "sixteen_chars_xx", 16);  // no NUL: BPF_OBJ_NAME_LEN is the bound
      }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_BPF_PROG_LOAD);
  const v1::BpfProgLoad& b = e.bpf_prog_load();
  EXPECT_EQ(b.call().name(), "bpf");
  EXPECT_EQ(b.call().result(), 7);
  EXPECT_EQ(b.prog_type(), 2u);
  EXPECT_EQ(b.prog_type_name(), "kprobe");
  EXPECT_EQ(b.insn_count(), 300u);
  EXPECT_EQ(b.name(), "sixteen_chars_xx");
  EXPECT_EQ(b.expected_attach_type(), 4u);
  EXPECT_EQ(b.prog_flags(), 1u);
}

TEST_F(SecurityDecoderTest, BpfProgTypeUnknownToThisSensorHasNoName) {
  v1::Event e = Decoded(SecRecord<vigil_bpf_prog_load>(VIGIL_KIND_BPF_PROG_LOAD, VIGIL_SYS_BPF, 7,
                                                       [](vigil_bpf_prog_load& r) { r.prog_type = 999; }));
  EXPECT_EQ(e.bpf_prog_load().prog_type(), 999u);
  EXPECT_EQ(e.bpf_prog_load().prog_type_name(), "");
}

TEST_F(SecurityDecoderTest, MemfdCreate) {
  v1::Event e = Decoded(
      SecRecord<vigil_memfd_create>(VIGIL_KIND_MEMFD_CREATE, VIGIL_SYS_MEMFD_CREATE, 4, [](vigil_memfd_create& r) {
        Put(r.name, "payload");
        r.flags = 3;
      }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_MEMFD_CREATE);
  EXPECT_EQ(e.memfd_create().call().name(), "memfd_create");
  EXPECT_EQ(e.memfd_create().call().result(), 4);
  EXPECT_EQ(e.memfd_create().name(), "payload");
  EXPECT_EQ(e.memfd_create().flags(), 3u);
  EXPECT_FALSE(e.memfd_create().name_truncated());
}

vigil_ids Ids(uint32_t base) { return {base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7}; }

void ExpectIds(const v1::Ids& ids, uint32_t base) {
  ASSERT_TRUE(ids.has_uid());
  EXPECT_EQ(ids.uid(), base);
  EXPECT_EQ(ids.euid(), base + 1);
  EXPECT_EQ(ids.suid(), base + 2);
  EXPECT_EQ(ids.fsuid(), base + 3);
  EXPECT_EQ(ids.gid(), base + 4);
  EXPECT_EQ(ids.egid(), base + 5);
  EXPECT_EQ(ids.sgid(), base + 6);
  EXPECT_EQ(ids.fsgid(), base + 7);
}

TEST_F(SecurityDecoderTest, SetresuidOldAndNewIdsAndCaps) {
  v1::Event e =
      Decoded(SecRecord<vigil_cred_change>(VIGIL_KIND_SETID, VIGIL_SYS_SETRESUID, 0, [](vigil_cred_change& r) {
        r.args[0] = 1000;
        r.args[1] = 1001;
        r.args[2] = 0xffffffffu;
        r.old_ids = Ids(0);
        r.new_ids = Ids(1000);
        r.old_caps = {0x1ffffffffffULL, 0x1ffffffffffULL, 0};
        r.new_caps = {0, 0, 0};
      }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_SETID);
  const v1::CredentialsChange& c = e.credentials_change();
  EXPECT_EQ(c.call().name(), "setresuid");
  EXPECT_THAT(c.requested(), ElementsAre(1000u, 1001u, 0xffffffffu));
  ExpectIds(c.old_ids(), 0);
  ExpectIds(c.new_ids(), 1000);
  EXPECT_EQ(c.old_caps().effective(), 0x1ffffffffffULL);
  EXPECT_EQ(c.old_caps().permitted(), 0x1ffffffffffULL);
  ASSERT_TRUE(c.old_caps().has_inheritable()) << "an empty set must be present, not defaulted";
  EXPECT_EQ(c.old_caps().inheritable(), 0u);
  ASSERT_TRUE(c.new_caps().has_effective());
  EXPECT_EQ(c.new_caps().effective(), 0u);
}

TEST_F(SecurityDecoderTest, RequestedIdsAsManyAsTheSyscallTakes) {
  auto requested = [&](uint32_t nr) {
    v1::Event e = Decoded(SecRecord<vigil_cred_change>(VIGIL_KIND_SETID, nr, 0, [](vigil_cred_change& r) {
      r.args[0] = 1;
      r.args[1] = 2;
      r.args[2] = 3;
    }));
    return std::vector<uint32_t>(e.credentials_change().requested().begin(), e.credentials_change().requested().end());
  };
  EXPECT_THAT(requested(VIGIL_SYS_SETUID), ElementsAre(1u));
  EXPECT_THAT(requested(VIGIL_SYS_SETGID), ElementsAre(1u));
  EXPECT_THAT(requested(VIGIL_SYS_SETREUID), ElementsAre(1u, 2u));
  EXPECT_THAT(requested(VIGIL_SYS_SETREGID), ElementsAre(1u, 2u));
  EXPECT_THAT(requested(VIGIL_SYS_SETRESGID), ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(requested(VIGIL_SYS_SETGROUPS), ElementsAre(1u));
}

TEST_F(SecurityDecoderTest, Capset) {
  v1::Event e = Decoded(SecRecord<vigil_cred_change>(VIGIL_KIND_CAPSET, VIGIL_SYS_CAPSET, 0, [](vigil_cred_change& r) {
    r.args[0] = 0;
    r.args[1] = 0x20080522;
    r.old_caps = {0xff, 0xff, 0x1};
    r.new_caps = {0x0f, 0xff, 0x1};
    r.old_ids = Ids(0);
    r.new_ids = Ids(0);
  }));
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_CAPSET);
  const v1::CredentialsChange& c = e.credentials_change();
  EXPECT_EQ(c.call().name(), "capset");
  EXPECT_THAT(c.requested(), ElementsAre(0u, 0x20080522u));
  EXPECT_EQ(c.old_caps().effective(), 0xffu);
  EXPECT_EQ(c.new_caps().effective(), 0x0fu);
  EXPECT_EQ(c.new_caps().permitted(), 0xffu);
  EXPECT_EQ(c.new_caps().inheritable(), 0x1u);
}

TEST_F(SecurityDecoderTest, KillTgkillTkill) {
  v1::Event k = Decoded(SecRecord<vigil_kill>(VIGIL_KIND_KILL, VIGIL_SYS_KILL, 0, [](vigil_kill& r) {
    r.pid = 0;  // the caller's process group: 0 must show
    r.sig = SIGKILL;
  }));
  EXPECT_EQ(k.kind(), v1::EVENT_KIND_KILL);
  EXPECT_EQ(k.kill().call().name(), "kill");
  ASSERT_TRUE(k.kill().has_target_pid());
  EXPECT_EQ(k.kill().target_pid(), 0);
  EXPECT_FALSE(k.kill().has_target_tid());
  EXPECT_EQ(k.kill().signal(), SIGKILL);
  EXPECT_EQ(k.kill().signal_name(), "SIGKILL");

  v1::Event tg = Decoded(SecRecord<vigil_kill>(VIGIL_KIND_KILL, VIGIL_SYS_TGKILL, -ESRCH, [](vigil_kill& r) {
    r.pid = 10;
    r.tid = 11;
    r.sig = SIGSTOP;
  }));
  EXPECT_EQ(tg.kill().call().name(), "tgkill");
  EXPECT_EQ(tg.kill().call().error(), "ESRCH");
  EXPECT_EQ(tg.kill().target_pid(), 10);
  EXPECT_EQ(tg.kill().target_tid(), 11);
  EXPECT_EQ(tg.kill().signal_name(), "SIGSTOP");

  v1::Event t = Decoded(SecRecord<vigil_kill>(VIGIL_KIND_KILL, VIGIL_SYS_TKILL, 0, [](vigil_kill& r) {
    r.tid = 12;
    r.sig = 40;  // a real-time signal has no abbreviation
  }));
  EXPECT_EQ(t.kill().call().name(), "tkill");
  EXPECT_FALSE(t.kill().has_target_pid());
  EXPECT_EQ(t.kill().target_tid(), 12);
  EXPECT_EQ(t.kill().signal(), 40);
}

TEST_F(SecurityDecoderTest, ReadErrorFlagIsReported) {
  v1::Event e =
      Decoded(SecRecord<vigil_bpf_prog_load>(VIGIL_KIND_BPF_PROG_LOAD, VIGIL_SYS_BPF, -EFAULT,
                                             [](vigil_bpf_prog_load& r) { r.call.flags = VIGIL_SEC_READ_ERROR; }));
  EXPECT_TRUE(e.bpf_prog_load().call().read_error());
  EXPECT_EQ(e.bpf_prog_load().call().error(), "EFAULT");
}

TEST(SecurityKindName, NamesEveryKindOfTheFamily) {
  EXPECT_EQ(KindName(VIGIL_KIND_PTRACE), "ptrace");
  EXPECT_EQ(KindName(VIGIL_KIND_SETNS), "setns");
  EXPECT_EQ(KindName(VIGIL_KIND_UNSHARE), "unshare");
  EXPECT_EQ(KindName(VIGIL_KIND_CLONE_NS), "clone_ns");
  EXPECT_EQ(KindName(VIGIL_KIND_MOUNT), "mount");
  EXPECT_EQ(KindName(VIGIL_KIND_UMOUNT), "umount");
  EXPECT_EQ(KindName(VIGIL_KIND_MODULE_LOAD), "module_load");
  EXPECT_EQ(KindName(VIGIL_KIND_BPF_PROG_LOAD), "bpf_prog_load");
  EXPECT_EQ(KindName(VIGIL_KIND_MEMFD_CREATE), "memfd_create");
  EXPECT_EQ(KindName(VIGIL_KIND_SETID), "setid");
  EXPECT_EQ(KindName(VIGIL_KIND_CAPSET), "capset");
  EXPECT_EQ(KindName(VIGIL_KIND_KILL), "kill");
  EXPECT_EQ(KindName(60), "kind_60");
}

// ---- Truncated and garbage records ----

struct BadRecord {
  std::string name;
  std::function<Record()> make;
  std::string message_part;
};

void PrintTo(const BadRecord& p, std::ostream* os) { *os << p.name; }

// `record` cut (or padded with zeros) to `size` bytes, its header saying so.
Record Resized(Record record, size_t size) {
  record.resize(size, 0);
  test::Edit<vigil_header>(record, [&](vigil_header& h) { h.size = static_cast<uint32_t>(size); });
  return record;
}

std::string SizeMessage(const char* kind, size_t got, size_t want) {
  return absl::StrCat(kind, " record of ", got, " bytes, expected ", want);
}

std::vector<BadRecord> BadRecords() {
  std::vector<BadRecord> bad;
  // Every kind, one byte short, one byte long, and just a header.
  struct Kind {
    const char* name;
    uint16_t kind;
    uint32_t nr;
    size_t size;
  };
  const Kind kinds[] = {
      {"ptrace", VIGIL_KIND_PTRACE, VIGIL_SYS_PTRACE, sizeof(vigil_ptrace)},
      {"setns", VIGIL_KIND_SETNS, VIGIL_SYS_SETNS, sizeof(vigil_setns)},
      {"unshare", VIGIL_KIND_UNSHARE, VIGIL_SYS_UNSHARE, sizeof(vigil_ns_flags)},
      {"clone_ns", VIGIL_KIND_CLONE_NS, VIGIL_SYS_CLONE, sizeof(vigil_ns_flags)},
      {"mount", VIGIL_KIND_MOUNT, VIGIL_SYS_MOUNT, sizeof(vigil_mount)},
      {"umount", VIGIL_KIND_UMOUNT, VIGIL_SYS_UMOUNT2, sizeof(vigil_mount)},
      {"module_load", VIGIL_KIND_MODULE_LOAD, VIGIL_SYS_FINIT_MODULE, sizeof(vigil_module_load)},
      {"bpf_prog_load", VIGIL_KIND_BPF_PROG_LOAD, VIGIL_SYS_BPF, sizeof(vigil_bpf_prog_load)},
      {"memfd_create", VIGIL_KIND_MEMFD_CREATE, VIGIL_SYS_MEMFD_CREATE, sizeof(vigil_memfd_create)},
      {"setid", VIGIL_KIND_SETID, VIGIL_SYS_SETUID, sizeof(vigil_cred_change)},
      {"capset", VIGIL_KIND_CAPSET, VIGIL_SYS_CAPSET, sizeof(vigil_cred_change)},
      {"kill", VIGIL_KIND_KILL, VIGIL_SYS_KILL, sizeof(vigil_kill)},
  };
  for (const Kind& k : kinds) {
    auto valid = [k] {
      Record r(k.size, 0);
      vigil_header h{};
      test::FillHeader(h, k.kind, static_cast<uint32_t>(k.size), TestProc());
      std::memcpy(r.data(), &h, sizeof(h));
      vigil_syscall call{0, k.nr, 0};
      std::memcpy(r.data() + sizeof(h), &call, sizeof(call));
      return r;
    };
    bad.push_back({absl::StrCat(k.name, "_OneByteShort"), [=] { return Resized(valid(), k.size - 1); },
                   SizeMessage(k.name, k.size - 1, k.size)});
    bad.push_back({absl::StrCat(k.name, "_OneByteLong"), [=] { return Resized(valid(), k.size + 1); },
                   SizeMessage(k.name, k.size + 1, k.size)});
    bad.push_back({absl::StrCat(k.name, "_HeaderOnly"), [=] { return Resized(valid(), sizeof(vigil_header)); },
                   SizeMessage(k.name, sizeof(vigil_header), k.size)});
    bad.push_back({absl::StrCat(k.name, "_ForeignSyscall"),
                   [=] {
                     Record r = valid();
                     const uint32_t other = k.nr == VIGIL_SYS_PTRACE ? VIGIL_SYS_KILL : VIGIL_SYS_PTRACE;
                     std::memcpy(r.data() + sizeof(vigil_header) + offsetof(vigil_syscall, nr), &other, sizeof(other));
                     return r;
                   },
                   absl::StrCat(k.name, " record names syscall ")});
  }
  bad.push_back({"SyscallNumberBeyondTheTable",
                 [] {
                   Record r = SecRecord<vigil_kill>(VIGIL_KIND_KILL, 1000, 0);
                   return r;
                 },
                 "kill record names syscall 1000"});
  bad.push_back({"UnknownSecurityKind",
                 [] {
                   Record r(sizeof(vigil_kill), 0);
                   vigil_header h{};
                   test::FillHeader(h, 60, sizeof(vigil_kill), TestProc());
                   std::memcpy(r.data(), &h, sizeof(h));
                   return r;
                 },
                 "unknown event kind 60"});
  return bad;
}

class SecurityDecoderRejects : public ::testing::TestWithParam<BadRecord> {
 protected:
  BootClock clock_;
};

TEST_P(SecurityDecoderRejects, WithInvalidArgumentNamingTheProblem) {
  v1::Event event;
  Decoder decoder({.node = test::kNode}, &clock_);
  EXPECT_THAT(decoder.Decode(absl::MakeConstSpan(GetParam().make()), event),
              StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(BadInput, SecurityDecoderRejects, ::testing::ValuesIn(BadRecords()),
                         [](const auto& info) { return info.param.name; });

// Noise behind a valid header of every kind of the family: OK or
// InvalidArgument, never a crash or a read out of bounds (ASan shows the
// latter), and what is accepted is valid UTF-8.
TEST_F(SecurityDecoderTest, RandomBodiesNeverCrash) {
  std::mt19937 rng(20261201);
  size_t accepted = 0;
  v1::Event event;
  struct Shape {
    uint16_t kind;
    size_t size;
    uint32_t nr;
  };
  const Shape shapes[] = {
      {VIGIL_KIND_PTRACE, sizeof(vigil_ptrace), VIGIL_SYS_PTRACE},
      {VIGIL_KIND_SETNS, sizeof(vigil_setns), VIGIL_SYS_SETNS},
      {VIGIL_KIND_CLONE_NS, sizeof(vigil_ns_flags), VIGIL_SYS_CLONE3},
      {VIGIL_KIND_MOUNT, sizeof(vigil_mount), VIGIL_SYS_MOUNT},
      {VIGIL_KIND_UMOUNT, sizeof(vigil_mount), VIGIL_SYS_UMOUNT2},
      {VIGIL_KIND_MODULE_LOAD, sizeof(vigil_module_load), VIGIL_SYS_INIT_MODULE},
      {VIGIL_KIND_BPF_PROG_LOAD, sizeof(vigil_bpf_prog_load), VIGIL_SYS_BPF},
      {VIGIL_KIND_MEMFD_CREATE, sizeof(vigil_memfd_create), VIGIL_SYS_MEMFD_CREATE},
      {VIGIL_KIND_SETID, sizeof(vigil_cred_change), VIGIL_SYS_SETRESUID},
      {VIGIL_KIND_KILL, sizeof(vigil_kill), VIGIL_SYS_TGKILL},
  };
  for (int i = 0; i < 40000; ++i) {
    // Three in four are noise in the right shape (kind, size, syscall), so
    // that they reach the field decoders; the rest noise of any size and kind.
    Shape shape = shapes[rng() % std::size(shapes)];
    const bool shaped = i % 4 != 0;
    if (!shaped) {
      shape.kind = static_cast<uint16_t>(VIGIL_KIND_SECURITY_FIRST + rng() % 16);
      shape.size = sizeof(vigil_header) + rng() % 2000;
    }
    Record r(shape.size);
    for (auto& b : r) b = static_cast<uint8_t>(rng());
    test::Edit<vigil_header>(r, [&](vigil_header& h) {
      h.abi_version = VIGIL_ABI_VERSION;
      h.kind = shape.kind;
      h.size = static_cast<uint32_t>(shape.size);
    });
    if (shaped) {
      std::memcpy(r.data() + sizeof(vigil_header) + offsetof(vigil_syscall, nr), &shape.nr, sizeof(shape.nr));
    }
    absl::Status s = decoder_.Decode(absl::MakeConstSpan(r), event);
    if (s.ok()) {
      ++accepted;
      v1::Event round_trip;
      ASSERT_TRUE(round_trip.ParseFromString(event.SerializeAsString())) << "invalid UTF-8, case " << i;
    } else {
      ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "case " << i << ": " << s;
    }
  }
  EXPECT_GT(accepted, 20000u) << "the shaped records must reach the field decoders";
}

}  // namespace
}  // namespace vigil
