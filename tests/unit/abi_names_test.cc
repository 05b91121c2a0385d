// The kernel ABI's X-lists (vigil_abi.h) are the one place a kind, syscall or
// file operation is declared; the proto, the decoder and every name derived
// from them must agree with those lists.
#include "decode/abi_names.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "decode/decoder.h"
#include "vigil/v1/event.pb.h"
#include "vigil_abi.h"

namespace vigil::decode {
namespace {

constexpr int kFirstUserspaceKind = v1::EVENT_KIND_ALERT;

TEST(AbiNames, EveryKernelKindIsTheProtoKindOfTheSameNameAndNumber) {
  for (uint16_t kind : KernelKinds()) {
    ASSERT_NE(KernelKindName(kind), nullptr) << kind;
    const std::string proto_name = v1::EventKind_Name(static_cast<v1::EventKind>(kind));
    EXPECT_EQ(proto_name, absl::StrCat("EVENT_KIND_", absl::AsciiStrToUpper(KernelKindName(kind)))) << kind;
    EXPECT_EQ(KindName(kind), KernelKindName(kind));
    EXPECT_LT(kind, VIGIL_KIND_MAX);
  }
}

TEST(AbiNames, EveryProtoKindOfTheKernelIsAKernelKind) {
  const std::set<uint16_t> kernel(KernelKinds().begin(), KernelKinds().end());
  const auto* kinds = v1::EventKind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    const int number = kinds->value(i)->number();
    if (number == v1::EVENT_KIND_UNSPECIFIED || number >= kFirstUserspaceKind) continue;
    EXPECT_TRUE(kernel.count(number)) << kinds->value(i)->name() << " has no kernel kind in vigil_abi.h";
  }
}

TEST(AbiNames, KindsAreUniqueAndEachInItsFamilysRange) {
  std::set<uint16_t> seen;
  auto in_range = [](uint16_t kind, uint16_t first) { return kind >= first && kind < first + 16; };
#define VIGIL_X_CHECK(family)                                             \
  [&](uint16_t kind) {                                                    \
    EXPECT_TRUE(seen.insert(kind).second) << "kind " << kind << " twice"; \
    EXPECT_TRUE(in_range(kind, VIGIL_KIND_##family##_FIRST)) << kind;     \
  }
  auto process = VIGIL_X_CHECK(PROCESS);
  auto network = VIGIL_X_CHECK(NETWORK);
  auto file = VIGIL_X_CHECK(FILE);
  auto security = VIGIL_X_CHECK(SECURITY);
#undef VIGIL_X_CHECK
#define VIGIL_X_CALL(name, nr) fn(nr);
  {
    auto& fn = process;
    VIGIL_PROCESS_KINDS(VIGIL_X_CALL)
  }
  {
    auto& fn = network;
    VIGIL_NETWORK_KINDS(VIGIL_X_CALL)
  }
  {
    auto& fn = file;
    VIGIL_FILE_KINDS(VIGIL_X_CALL)
  }
  {
    auto& fn = security;
    VIGIL_SECURITY_KINDS(VIGIL_X_CALL)
  }
#undef VIGIL_X_CALL
  EXPECT_EQ(seen.size(), KernelKinds().size());
}

TEST(AbiNames, FileOperationsNameTheirSyscallAndBelongToAFileKind) {
  int declared = 0;
  for (uint32_t op = 0; op < VIGIL_FILE_OP_MAX + 8; ++op) {
    if (FileOpName(op) == nullptr) {
      EXPECT_EQ(FileOpKind(op), 0) << op;
      continue;
    }
    ++declared;
    EXPECT_LT(op, VIGIL_FILE_OP_MAX) << FileOpName(op) << ": raise VIGIL_FILE_OP_MAX";
    const uint16_t kind = FileOpKind(op);
    EXPECT_GE(kind, VIGIL_KIND_FILE_FIRST) << FileOpName(op);
    EXPECT_LT(kind, VIGIL_KIND_FILE_FIRST + 16) << FileOpName(op);
    EXPECT_NE(KernelKindName(kind), nullptr) << FileOpName(op);
  }
  EXPECT_EQ(declared, VIGIL_FILE_OP_MAX - 1);
  EXPECT_STREQ(FileOpName(VIGIL_FILE_OP_OPENAT), "openat");
  EXPECT_STREQ(FileOpName(VIGIL_FILE_OP_FCHMODAT2), "fchmodat2");
  EXPECT_EQ(FileOpKind(VIGIL_FILE_OP_RMDIR), VIGIL_KIND_FILE_UNLINK);
}

TEST(AbiNames, SecuritySyscallsNameTheirSyscallAndBelongToASecurityKind) {
  std::set<uint16_t> kinds_with_a_syscall;
  for (uint32_t nr = 1; nr < 64; ++nr) {
    if (SyscallName(nr) == nullptr) {
      EXPECT_EQ(SyscallKind(nr), 0) << nr;
      continue;
    }
    const uint16_t kind = SyscallKind(nr);
    EXPECT_GE(kind, VIGIL_KIND_SECURITY_FIRST) << SyscallName(nr);
    EXPECT_LT(kind, VIGIL_KIND_SECURITY_FIRST + 16) << SyscallName(nr);
    kinds_with_a_syscall.insert(kind);
  }
  // A security kind no syscall leads to could never be decoded.
  for (uint16_t kind : KernelKinds()) {
    if (kind >= VIGIL_KIND_SECURITY_FIRST && kind < VIGIL_KIND_SECURITY_FIRST + 16) {
      EXPECT_TRUE(kinds_with_a_syscall.count(kind)) << KernelKindName(kind);
    }
  }
  EXPECT_STREQ(SyscallName(VIGIL_SYS_UMOUNT2), "umount2");
  EXPECT_EQ(SyscallKind(VIGIL_SYS_CLONE3), VIGIL_KIND_CLONE_NS);
  EXPECT_EQ(SyscallKind(VIGIL_SYS_SETGROUPS), VIGIL_KIND_SETID);
}

TEST(AbiNames, UndeclaredNumbersHaveNoName) {
  EXPECT_EQ(KernelKindName(0), nullptr);
  EXPECT_EQ(KernelKindName(15), nullptr);
  EXPECT_EQ(KernelKindName(VIGIL_KIND_MAX), nullptr);
  EXPECT_EQ(KindName(15), "kind_15");
  EXPECT_EQ(FileOpName(0), nullptr);
  EXPECT_EQ(SyscallName(0), nullptr);
  EXPECT_EQ(SyscallName(1u << 31), nullptr);
}

}  // namespace
}  // namespace vigil::decode
