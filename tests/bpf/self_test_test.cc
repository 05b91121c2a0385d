// `vigil-sensor --self_test` on this kernel, as the kernel matrix's host
// column runs it: every process probe attached and passing, in both hook
// modes, with its hook, program and verifier instruction count reported.
#include <bpf/btf.h>
#include <stdio.h>
#include <sys/wait.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/kernel.h"
#include "loader/owners.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct SelfTestRun {
  int status = -1;
  std::vector<std::string> lines;  // stdout and stderr
};

SelfTestRun RunSelfTest(const std::string& flags) {
  SelfTestRun run;
  const std::string cmd = absl::StrCat(VIGIL_SENSOR_PATH, " --self_test --output=/dev/null ", flags, " 2>&1");
  FILE* out = popen(cmd.c_str(), "r");
  if (out == nullptr) return run;
  std::string text;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), out)) > 0;) text.append(buf, n);
  run.status = pclose(out);
  run.lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  return run;
}

TEST(SelfTest, EveryProcessProbePassesInBothHookModes) {
  RequireBpfOrSkip();
  for (const auto& [mode, hook] : {std::pair{"auto", "tp_btf"}, {"tracepoint", "raw_tp"}}) {
    SelfTestRun run = RunSelfTest(absl::StrCat("--hooks=", mode));
    ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << mode << ": wait status " << run.status << "\n"
                                                                       << absl::StrJoin(run.lines, "\n");
    for (const char* probe : {"exec", "fork", "exit"}) {
      EXPECT_THAT(run.lines,
                  Contains(AllOf(StartsWith(absl::StrCat("VIGIL-SELFTEST probe=", probe, " family=process hook=", hook,
                                                         " program=vigil_", probe, "_")),
                                 HasSubstr(" insns="), HasSubstr(" result=pass"))))
          << mode;
    }
    EXPECT_THAT(run.lines,
                Contains(AllOf(StartsWith("VIGIL-SELFTEST-SUMMARY "), HasSubstr(absl::StrCat(" hooks=", mode)),
                               HasSubstr(" fail=0 "), HasSubstr(" result=pass"))))
        << mode;
  }
}

// The file family's probes are on their fexit programs where this kernel's
// trampolines work (the loader's own probe answers), and otherwise on their
// tracepoints, saying why the better hook was passed over (the dev host
// refuses fentry programs: EPERM; the VM matrix has kernels that take them).
TEST(SelfTest, FileProbesAreOnFexitWhereTrampolinesWorkAndSayWhyNotElsewhere) {
  RequireBpfOrSkip();
  const BtfPtr vmlinux(btf__load_vmlinux_btf());
  const absl::Status fentry = ProbeFentry(vmlinux.get(), "do_sys_openat2");
  SelfTestRun run = RunSelfTest("--hooks=auto");
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << absl::StrJoin(run.lines, "\n");
  // Each probe and the fexit program of its first syscall.
  const std::pair<const char*, const char*> kProbes[] = {
      {"open", "vigil_file_open_fexit"},        {"unlink", "vigil_file_unlinkat_fexit"},
      {"rename", "vigil_file_renameat2_fexit"}, {"chmod", "vigil_file_fchmodat_fexit"},
      {"chown", "vigil_file_fchownat_fexit"},   {"utimes", "vigil_file_utimensat_fexit"},
  };
  for (const auto& [probe, program] : kProbes) {
    const std::string head = absl::StrCat("VIGIL-SELFTEST probe=", probe, " family=file ");
    if (fentry.ok()) {
      EXPECT_THAT(run.lines, Contains(AllOf(StartsWith(absl::StrCat(head, "hook=fentry program=", program, " ")),
                                            HasSubstr(" result=pass"))));
    } else {
      EXPECT_THAT(run.lines,
                  Contains(AllOf(StartsWith(absl::StrCat(head, "hook=tracepoint ")),
                                 HasSubstr(absl::StrCat(" passed_over=\"fentry: fentry programs do not work here: ",
                                                        fentry.message())),
                                 HasSubstr(" result=pass"))))
          << probe << ": " << fentry;
    }
  }
}

// The break only bites kernels before 5.11; here it must change nothing.
TEST(SelfTest, BrokenExecStillPassesOnANewKernel) {
  RequireBpfOrSkip();
  SelfTestRun run = RunSelfTest("--self_test_break=exec");
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << absl::StrJoin(run.lines, "\n");
  EXPECT_THAT(run.lines, Contains(AllOf(StartsWith("VIGIL-SELFTEST probe=exec "), HasSubstr(" result=pass"))));
}

TEST(SelfTest, RefusesToBreakAProbeItCannotBreak) {
  SelfTestRun run = RunSelfTest("--self_test_break=fork");
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 2) << run.status;
  EXPECT_THAT(run.lines, Contains(HasSubstr("--self-test-break must be exec or empty, not fork")));
}

}  // namespace
}  // namespace vigil::testing
