#include "process/process_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/exec_id.h"
#include "google/protobuf/util/message_differencer.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

constexpr char kNode[] = "node-a";

// A process as /proc shows it.
struct FakeProcess {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint64_t start_ticks = 0;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::vector<std::string> argv;
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
};

// A directory laid out like /proc, for ProcessCacheOptions::proc_root.
class FakeProcRoot {
 public:
  FakeProcRoot() {
    std::string tmpl = fs::temp_directory_path() / "vigil-proc-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    root_ = tmpl;
  }
  ~FakeProcRoot() { fs::remove_all(root_); }

  const std::string& root() const { return root_; }

  void Add(const FakeProcess& p) {
    const fs::path dir = fs::path(root_) / std::to_string(p.pid);
    fs::create_directories(dir);
    // Field 22 is the start time; the rest as a sleeping process shows them.
    Write(dir / "stat", absl::StrCat(p.pid, " (", p.comm, ") S ", p.ppid, " ", p.pid, " ", p.pid,
                                     " 0 -1 4194560 1377 0 0 0 5 3 0 0 20 0 1 0 ", p.start_ticks,
                                     " 8458240 1044 18446744073709551615 94178 94187 140736 0 0 0 0 4096 "
                                     "1260 0 0 0 17 1 0 0 0 0 0 94195 94196 94197 140737 140738 140739 "
                                     "140740 0\n"));
    Write(dir / "status", absl::StrCat("Name:\t", p.comm, "\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t", p.pid,
                                       "\nNgid:\t0\nPid:\t", p.pid, "\nPPid:\t", p.ppid, "\nTracerPid:\t0\nUid:\t",
                                       p.uid, "\t", p.euid, "\t", p.euid, "\t", p.euid, "\nGid:\t", p.gid, "\t", p.egid,
                                       "\t", p.egid, "\t", p.egid, "\nFDSize:\t64\nGroups:\t\n"));
    std::string cmdline;
    for (const auto& arg : p.argv) absl::StrAppend(&cmdline, arg, std::string(1, '\0'));
    Write(dir / "cmdline", cmdline);
    if (!p.exe.empty()) fs::create_symlink(p.exe, dir / "exe");
    if (!p.cwd.empty()) fs::create_symlink(p.cwd, dir / "cwd");
  }

 private:
  static void Write(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good()) << path;
  }

  std::string root_;
};

// (pid, start ticks): a process's identity.
struct Id {
  uint32_t pid = 0;
  uint64_t ticks = 0;
  std::string exec_id() const { return ExecId(kNode, pid, ticks); }
};

// Events as the decoder builds them: identity and lineage from the kernel,
// exe/argv only on exec.
v1::Event MakeEvent(v1::EventKind kind, Id self, Id parent) {
  v1::Event e;
  e.set_kind(kind);
  e.set_node(kNode);
  v1::Process* p = e.mutable_process();
  p->set_pid(self.pid);
  p->set_tid(self.pid);
  p->set_ppid(parent.pid);
  p->set_uid(0);
  p->set_exec_id(self.exec_id());
  if (parent.pid != 0) p->set_parent_exec_id(parent.exec_id());
  return e;
}
v1::Event ForkEvent(Id child, Id parent) {
  v1::Event e = MakeEvent(v1::EVENT_KIND_FORK, child, parent);
  e.mutable_fork()->set_parent_tid(parent.pid);
  return e;
}
v1::Event ExecEvent(Id self, Id parent, const std::string& filename, const std::vector<std::string>& argv) {
  v1::Event e = MakeEvent(v1::EVENT_KIND_EXEC, self, parent);
  e.mutable_exec()->set_filename(filename);
  e.mutable_exec()->set_argc(static_cast<uint32_t>(argv.size()));
  e.mutable_process()->set_exe(filename);
  for (const auto& a : argv) e.mutable_process()->add_argv(a);
  return e;
}
v1::Event ExitEvent(Id self, Id parent) {
  v1::Event e = MakeEvent(v1::EVENT_KIND_EXIT, self, parent);
  e.mutable_exit()->set_exit_code(0);
  return e;
}

const Id kInit{1, 2};
const Id kShell{100, 500};
const Id kChild{200, 700};
const std::vector<std::string> kShellArgv = {"bash", "-c", "run it"};

class ProcessCacheTest : public ::testing::Test {
 protected:
  ProcessCacheTest() {
    proc_.Add({.pid = 1,
               .ppid = 0,
               .start_ticks = 2,
               .comm = "systemd",
               .exe = "/usr/lib/systemd/systemd",
               .cwd = "/",
               .argv = {"/sbin/init", "splash"}});
    // comm with spaces and parentheses, as a process may name itself.
    proc_.Add({.pid = 100,
               .ppid = 1,
               .start_ticks = 500,
               .comm = "we) ird (sh",
               .exe = "/usr/bin/bash",
               .cwd = "/srv",
               .argv = kShellArgv,
               .uid = 1000,
               .euid = 0,
               .gid = 1001,
               .egid = 1002});
  }

  ProcessCacheOptions Options() {
    return {.node = kNode, .proc_root = proc_.root(), .now = [this] { return now_; }};
  }

  static v1::Event Enriched(ProcessCache& cache, v1::Event e) {
    cache.Enrich(e);
    return e;
  }

  // An event that reaches the cache but is about no process (a health report).
  static v1::Event Tick() {
    v1::Event e;
    e.set_kind(v1::EVENT_KIND_SENSOR_HEALTH);
    return e;
  }

  FakeProcRoot proc_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST_F(ProcessCacheTest, SeedsFromProcRoot) {
  ProcessCache cache(Options());
  EXPECT_EQ(cache.SeedFromProc(), 2u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(ProcessCacheTest, ForkExecExitLineage) {
  ProcessCache cache(Options());
  ASSERT_EQ(cache.SeedFromProc(), 2u);

  // The child runs its parent's image until it execs.
  v1::Process forked = Enriched(cache, ForkEvent(kChild, kShell)).process();
  EXPECT_EQ(forked.exe(), "/usr/bin/bash");
  EXPECT_THAT(forked.argv(), ElementsAreArray(kShellArgv));
  EXPECT_EQ(forked.cwd(), "/srv");

  // exec replaces the image, keeps cwd, resolves a relative filename against it.
  v1::Event exec = Enriched(cache, ExecEvent(kChild, kShell, "./tool", {"./tool", "--flag"}));
  EXPECT_EQ(exec.process().exe(), "/srv/tool");
  EXPECT_THAT(exec.process().argv(), ElementsAre("./tool", "--flag"));
  EXPECT_EQ(exec.process().cwd(), "/srv");
  EXPECT_EQ(exec.exec().filename(), "./tool") << "the filename stays as passed to execve";

  // Ancestors: parent first.
  ASSERT_EQ(exec.ancestors_size(), 2);
  const v1::Process& parent = exec.ancestors(0);
  EXPECT_EQ(parent.exec_id(), "node-a:500:100");
  EXPECT_EQ(parent.parent_exec_id(), "node-a:2:1");
  EXPECT_EQ(parent.pid(), 100u);
  EXPECT_EQ(parent.ppid(), 1u);
  EXPECT_EQ(parent.comm(), "we) ird (sh");
  EXPECT_EQ(parent.exe(), "/usr/bin/bash");
  EXPECT_THAT(parent.argv(), ElementsAreArray(kShellArgv));
  EXPECT_EQ(parent.cwd(), "/srv");
  EXPECT_EQ(parent.uid(), 1000u);
  EXPECT_EQ(parent.euid(), 0u);
  EXPECT_TRUE(parent.has_euid());
  EXPECT_EQ(parent.gid(), 1001u);
  EXPECT_EQ(parent.egid(), 1002u);
  const v1::Process& grandparent = exec.ancestors(1);
  EXPECT_EQ(grandparent.exec_id(), "node-a:2:1");
  EXPECT_EQ(grandparent.parent_exec_id(), "");
  EXPECT_EQ(grandparent.comm(), "systemd");
  EXPECT_THAT(grandparent.argv(), ElementsAre("/sbin/init", "splash"));

  // The kernel sends exit without exe/argv: the cache knows them.
  v1::Process exited = Enriched(cache, ExitEvent(kChild, kShell)).process();
  EXPECT_EQ(exited.exe(), "/srv/tool");
  EXPECT_THAT(exited.argv(), ElementsAre("./tool", "--flag"));
  EXPECT_EQ(exited.cwd(), "/srv");
}

TEST_F(ProcessCacheTest, AncestorIsTheProcessAsSeenFieldForField) {
  // The cache keeps processes compactly; what it gives back as an ancestor
  // must still be the process its exec event carried, but for the thread id.
  ProcessCache cache(Options());
  cache.SeedFromProc();
  const Id a{300, 800}, b{301, 801};
  v1::Event exec = ExecEvent(a, kShell, "/opt/app/bin/svc", {"svc", "", "--name=caf\xc3\xa9", "last"});
  v1::Process& p = *exec.mutable_process();
  p.set_comm("svc");
  p.set_cwd("/opt/app");
  p.set_ns_pid(7);
  p.set_uid(0);  // root: present though zero
  p.set_euid(0);
  p.clear_gid();  // unknown: stays absent
  p.set_egid(50);
  p.set_argv_truncated(true);
  p.mutable_start_time()->set_seconds(1'700'000'123);
  p.mutable_start_time()->set_nanos(456'000'000);
  const v1::Process seen = Enriched(cache, exec).process();

  v1::Event child = Enriched(cache, ExecEvent(b, a, "/bin/true", {"true"}));
  ASSERT_GE(child.ancestors_size(), 1);
  v1::Process expected = seen;
  expected.clear_tid();
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(expected, child.ancestors(0))) << diff;

  // And a later event of that process is filled from it.
  v1::Process exited = Enriched(cache, ExitEvent(a, kShell)).process();
  EXPECT_THAT(exited.argv(), ElementsAre("svc", "", "--name=caf\xc3\xa9", "last"));
  EXPECT_TRUE(exited.argv_truncated());
  EXPECT_EQ(exited.cwd(), "/opt/app");
}

TEST_F(ProcessCacheTest, AncestorsOfForkedGenerations) {
  ProcessCache cache(Options());
  cache.SeedFromProc();
  const Id a{300, 800}, b{301, 801};
  Enriched(cache, ForkEvent(a, kShell));
  Enriched(cache, ForkEvent(b, a));
  v1::Event exec = Enriched(cache, ExecEvent(b, a, "/bin/true", {"true"}));
  std::vector<std::string> chain;
  for (const auto& p : exec.ancestors()) chain.push_back(p.exec_id());
  EXPECT_THAT(chain, ElementsAre(a.exec_id(), kShell.exec_id(), kInit.exec_id()));
  EXPECT_TRUE(exec.ancestors(0).tid() == 0) << "ancestors carry no thread id";
}

// The pipeline decodes every exec into one reused event, whose ancestors
// the decoder leaves to the cache: it keeps those that did not change. What
// comes out must be what a new event gets, whatever changed in between.
TEST_F(ProcessCacheTest, AReusedEventGetsTheAncestorsANewOneGets) {
  ProcessCache fresh(Options()), reusing(Options());
  fresh.SeedFromProc();
  reusing.SeedFromProc();
  v1::Event reused;
  // As the decoder does: every field anew but the ancestors.
  auto decode_into_reused = [&reused](const v1::Event& from) {
    google::protobuf::RepeatedPtrField<v1::Process> kept;
    kept.Swap(reused.mutable_ancestors());
    reused = from;
    reused.mutable_ancestors()->Swap(&kept);
  };
  auto step = [&](const std::string& what, const v1::Event& e) {
    const v1::Event want = Enriched(fresh, e);
    decode_into_reused(e);
    reusing.Enrich(reused);
    std::string diff;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differencer.Compare(want, reused)) << what << ": " << diff;
    return want.ancestors_size();
  };
  const Id a{300, 800}, b{301, 801}, c{302, 802}, d{303, 803}, e{304, 804};
  EXPECT_EQ(step("first exec", ExecEvent(a, kShell, "/bin/a", {"a"})), 2);
  EXPECT_EQ(step("a sibling: the same ancestors", ExecEvent(b, kShell, "/bin/b", {"b"})), 2);
  // The shell execs another program: the same process, another image.
  step("the parent execs", ExecEvent(kShell, kInit, "/usr/bin/zsh", {"zsh", "-l"}));
  EXPECT_EQ(step("its child after", ExecEvent(c, kShell, "/bin/c", {"c"})), 2);
  Enriched(fresh, ForkEvent(d, c));
  Enriched(reusing, ForkEvent(d, c));
  EXPECT_EQ(step("a longer lineage", ExecEvent(e, d, "/bin/e", {"e"})), 4);
  EXPECT_EQ(step("a shorter one", ExecEvent(a, kShell, "/bin/a2", {"a2"})), 2);
  EXPECT_EQ(step("an exit has none", ExitEvent(a, kShell)), 0);
  EXPECT_EQ(step("nor has a fork", ForkEvent(b, kShell)), 0);
  EXPECT_EQ(step("an exec after them", ExecEvent(b, kShell, "/bin/b2", {"b2"})), 2);
  EXPECT_EQ(step("a parent not this node's", ExecEvent(c, Id{9, 9}, "/bin/c2", {"c2"})), 0);
  // A parked event is moved out of the pipeline's: what is left has none.
  EXPECT_EQ(step("before a move", ExecEvent(a, kShell, "/bin/a3", {"a3"})), 2);
  const v1::Event parked = std::move(reused);
  EXPECT_EQ(parked.ancestors_size(), 2);
  EXPECT_EQ(step("after it", ExecEvent(b, kShell, "/bin/b3", {"b3"})), 2);
}

TEST_F(ProcessCacheTest, MaxAncestorsBoundsTheChain) {
  ProcessCacheOptions options = Options();
  options.max_ancestors = 1;
  ProcessCache cache(options);
  cache.SeedFromProc();
  v1::Event exec = Enriched(cache, ExecEvent(kChild, kShell, "/bin/ls", {"ls"}));
  ASSERT_EQ(exec.ancestors_size(), 1);
  EXPECT_EQ(exec.ancestors(0).exec_id(), kShell.exec_id());

  options.max_ancestors = 0;
  ProcessCache none(options);
  none.SeedFromProc();
  EXPECT_THAT(Enriched(none, ExecEvent(kChild, kShell, "/bin/ls", {"ls"})).ancestors(), IsEmpty());
}

// A process running before the sensor with a huge command line (a CI
// harness's `bash -c <script>`) must not carry it into every event below it.
TEST_F(ProcessCacheTest, ArgvFromProcObeysTheKernelLimits) {
  const std::string script(30000, 's');
  proc_.Add({.pid = 60,
             .ppid = 1,
             .start_ticks = 45,
             .comm = "bash",
             .exe = "/usr/bin/bash",
             .cwd = "/",
             .argv = {"bash", "-c", script, "never-reached"}});
  proc_.Add({.pid = 61,
             .ppid = 1,
             .start_ticks = 46,
             .comm = "many",
             .exe = "/bin/many",
             .cwd = "/",
             .argv = {"a", "b", "c", "d"}});
  ProcessCacheOptions options = Options();
  options.max_arg_bytes = 100;
  options.max_args = 3;
  ProcessCache cache(options);
  cache.SeedFromProc();

  // "bash\0-c\0" is 8 bytes: 92 of the script fit, nothing after it.
  v1::Process bash = Enriched(cache, ExitEvent({60, 45}, kInit)).process();
  ASSERT_EQ(bash.argv_size(), 3);
  EXPECT_EQ(bash.argv(2), std::string(92, 's'));
  EXPECT_TRUE(bash.argv_truncated());

  v1::Process many = Enriched(cache, ExitEvent({61, 46}, kInit)).process();
  EXPECT_THAT(many.argv(), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(many.argv_truncated());

  // Within the limits: exact, not flagged.
  v1::Process shell = Enriched(cache, ExitEvent(kShell, kInit)).process();
  EXPECT_THAT(shell.argv(), ElementsAreArray(kShellArgv));
  EXPECT_FALSE(shell.argv_truncated());
}

TEST_F(ProcessCacheTest, AncestorArgvIsCutAtItsOwnLimit) {
  ProcessCacheOptions options = Options();
  options.ancestor_arg_bytes = 10;
  ProcessCache cache(options);
  cache.SeedFromProc();
  const Id parent{300, 800}, child{301, 801};
  Enriched(cache, ForkEvent(parent, kShell));
  // A multi-byte character straddles the cut: it goes whole, never half.
  Enriched(cache, ExecEvent(parent, kShell, "/bin/sh", {"sh", "-c", "a\u00e9\u00e9\u00e9"}));
  Enriched(cache, ForkEvent(child, parent));
  v1::Event exec = Enriched(cache, ExecEvent(child, parent, "/bin/true", {"true"}));
  ASSERT_GE(exec.ancestors_size(), 2);
  // "sh\0-c\0" is 6 bytes; 4 left: "a" and one two-byte character, the next would split.
  EXPECT_THAT(exec.ancestors(0).argv(), ElementsAre("sh", "-c", "a\u00e9"));
  EXPECT_TRUE(exec.ancestors(0).argv_truncated());
  // "bash\0-c\0" is 8 bytes, "run it" does not fit in the 2 left.
  EXPECT_THAT(exec.ancestors(1).argv(), ElementsAre("bash", "-c", "ru"));
  // The cut is only in the ancestor list: the process's own events keep all of it.
  EXPECT_THAT(Enriched(cache, ExitEvent(parent, kShell)).process().argv(),
              ElementsAre("sh", "-c", "a\u00e9\u00e9\u00e9"));
  EXPECT_FALSE(Enriched(cache, ExitEvent(parent, kShell)).process().argv_truncated());
}

TEST_F(ProcessCacheTest, RelativeFilenames) {
  proc_.Add({.pid = 50, .ppid = 1, .start_ticks = 40, .comm = "rooted", .exe = "/bin/sh", .cwd = "/", .argv = {}});
  ProcessCache cache(Options());
  cache.SeedFromProc();
  EXPECT_EQ(Enriched(cache, ExecEvent({50, 40}, kInit, "./tool", {"x"})).process().exe(), "/tool");
  EXPECT_EQ(Enriched(cache, ExecEvent({50, 40}, kInit, "bin/tool", {"x"})).process().exe(), "/bin/tool");
  EXPECT_EQ(Enriched(cache, ExecEvent(kShell, kInit, "/abs/tool", {"x"})).process().exe(), "/abs/tool");
  // cwd unknown: nothing to resolve against.
  EXPECT_EQ(Enriched(cache, ExecEvent({999, 1}, kInit, "./tool", {"x"})).process().exe(), "./tool");
}

TEST_F(ProcessCacheTest, ExecAfterExecKeepsCwd) {
  ProcessCache cache(Options());
  cache.SeedFromProc();
  Enriched(cache, ExecEvent(kShell, kInit, "/usr/bin/env", {"env", "python3"}));
  v1::Event second = Enriched(cache, ExecEvent(kShell, kInit, "./venv/python3", {"python3"}));
  EXPECT_EQ(second.process().cwd(), "/srv");
  EXPECT_EQ(second.process().exe(), "/srv/venv/python3");
  EXPECT_THAT(Enriched(cache, ExitEvent(kShell, kInit)).process().argv(), ElementsAre("python3"));
}

TEST_F(ProcessCacheTest, PidReuseGetsItsOwnIdentity) {
  ProcessCache cache(Options());
  cache.SeedFromProc();
  const Id old_proc{300, 800}, new_proc{300, 900};
  Enriched(cache, ForkEvent(old_proc, kShell));
  Enriched(cache, ExecEvent(old_proc, kShell, "/bin/old", {"old", "--secret"}));
  Enriched(cache, ExitEvent(old_proc, kShell));

  // Same pid, later start, forked by init.
  v1::Process forked = Enriched(cache, ForkEvent(new_proc, kInit)).process();
  EXPECT_EQ(forked.exe(), "/usr/lib/systemd/systemd");
  EXPECT_THAT(forked.argv(), ElementsAre("/sbin/init", "splash"));
  v1::Process exited = Enriched(cache, ExitEvent(new_proc, kInit)).process();
  EXPECT_EQ(exited.exec_id(), "node-a:900:300");
  EXPECT_THAT(exited.argv(), ElementsAre("/sbin/init", "splash"));

  // A third one the cache never saw, and /proc does not have: left alone.
  v1::Process unknown = Enriched(cache, ExitEvent({300, 950}, kInit)).process();
  EXPECT_EQ(unknown.exe(), "");
  EXPECT_THAT(unknown.argv(), IsEmpty());

  // The old one is still itself.
  EXPECT_THAT(Enriched(cache, ExitEvent(old_proc, kShell)).process().argv(), ElementsAre("old", "--secret"));
}

TEST_F(ProcessCacheTest, ExitedEntriesExpireAfterGrace) {
  ProcessCacheOptions options = Options();
  options.exit_grace = absl::Seconds(30);
  ProcessCache cache(options);
  cache.SeedFromProc();
  Enriched(cache, ExecEvent(kChild, kShell, "/bin/sleep", {"sleep", "1"}));
  ASSERT_EQ(cache.size(), 3u);
  Enriched(cache, ExitEvent(kChild, kShell));

  now_ += absl::Seconds(30) - absl::Milliseconds(1);
  Enriched(cache, Tick());
  EXPECT_EQ(cache.size(), 3u) << "expired before the grace period";
  // Still there for its children's lineage and late events.
  v1::Event grandchild = Enriched(cache, ExecEvent({201, 701}, kChild, "/bin/true", {"true"}));
  ASSERT_GE(grandchild.ancestors_size(), 1);
  EXPECT_EQ(grandchild.ancestors(0).exe(), "/bin/sleep");
  EXPECT_EQ(cache.size(), 4u);

  now_ += absl::Milliseconds(1);
  Enriched(cache, Tick());
  EXPECT_EQ(cache.size(), 3u) << "not expired after the grace period";
  EXPECT_EQ(Enriched(cache, ExitEvent(kChild, kShell)).process().exe(), "");
  EXPECT_EQ(cache.evictions(), 0u) << "expiry is not eviction";
}

TEST_F(ProcessCacheTest, EvictsLeastRecentlyUsedWhenFull) {
  ProcessCacheOptions options = Options();
  options.max_entries = 3;
  ProcessCache cache(options);
  auto exec = [&](uint32_t pid, const std::string& exe) { Enriched(cache, ExecEvent({pid, 1}, kInit, exe, {exe})); };
  auto exe_of = [&](uint32_t pid) { return Enriched(cache, ExitEvent({pid, 1}, kInit)).process().exe(); };
  exec(1001, "/bin/a");
  exec(1002, "/bin/b");
  exec(1003, "/bin/c");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 0u);

  exec(1001, "/bin/a2");  // used again: now the most recent
  exec(1004, "/bin/d");   // pushes out 1002, the least recently used
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_EQ(exe_of(1002), "");
  EXPECT_EQ(exe_of(1001), "/bin/a2");
  EXPECT_EQ(exe_of(1003), "/bin/c");
  EXPECT_EQ(exe_of(1004), "/bin/d");

  for (uint32_t pid = 2000; pid < 2010; ++pid) {
    Enriched(cache, ForkEvent({pid, 1}, kInit));
    ASSERT_LE(cache.size(), 3u);
  }
  EXPECT_EQ(cache.evictions(), 11u);
}

TEST_F(ProcessCacheTest, SeedFromProcRespectsMaxEntries) {
  for (uint32_t pid = 10; pid < 20; ++pid) {
    proc_.Add({.pid = pid, .ppid = 1, .start_ticks = pid, .comm = "w", .exe = "/bin/w", .cwd = "/", .argv = {}});
  }
  ProcessCacheOptions options = Options();
  options.max_entries = 4;
  ProcessCache cache(options);
  cache.SeedFromProc();
  EXPECT_LE(cache.size(), 4u) << "the cache is bounded, also right after seeding";
}

TEST_F(ProcessCacheTest, UnseenProcessFilledFromProcWhenStartTimeMatches) {
  ProcessCache cache(Options());  // not seeded
  proc_.Add({.pid = 400,
             .ppid = 1,
             .start_ticks = 1000,
             .comm = "app",
             .exe = "/opt/app/bin/app",
             .cwd = "/var/lib/app",
             .argv = {"app", "--serve"}});

  v1::Process same = Enriched(cache, ExitEvent({400, 1000}, kInit)).process();
  EXPECT_EQ(same.exe(), "/opt/app/bin/app");
  EXPECT_THAT(same.argv(), ElementsAre("app", "--serve"));
  EXPECT_EQ(same.cwd(), "/var/lib/app");
  EXPECT_EQ(same.parent_exec_id(), kInit.exec_id());

  // Same pid, another start time: /proc shows someone else.
  v1::Process other = Enriched(cache, ExitEvent({400, 1001}, kInit)).process();
  EXPECT_EQ(other.exe(), "");
  EXPECT_THAT(other.argv(), IsEmpty());
  EXPECT_EQ(other.cwd(), "");
}

TEST_F(ProcessCacheTest, UnseenProcessExecResolvesAgainstProcCwd) {
  ProcessCache cache(Options());
  proc_.Add({.pid = 401,
             .ppid = 1,
             .start_ticks = 1000,
             .comm = "make",
             .exe = "/usr/bin/make",
             .cwd = "/home/u/src",
             .argv = {"make"}});
  v1::Process p = Enriched(cache, ExecEvent({401, 1000}, kInit, "./configure", {"./configure"})).process();
  EXPECT_EQ(p.exe(), "/home/u/src/configure");
  EXPECT_EQ(p.cwd(), "/home/u/src");
}

TEST_F(ProcessCacheTest, EventsWithoutProcessPassUntouched) {
  ProcessCache cache(Options());
  v1::Event e = Tick();
  cache.Enrich(e);
  EXPECT_FALSE(e.has_process());
  EXPECT_EQ(cache.size(), 0u);
}

// The cache is keyed by this node's exec ids; one from elsewhere (not made by
// this sensor) is passed on as it came, and neither cached nor looked up.
TEST_F(ProcessCacheTest, AnExecIdNotOfThisNodeIsLeftAsItIs) {
  ProcessCache cache(Options());
  cache.SeedFromProc();
  const size_t seeded = cache.size();
  v1::Event e = ExecEvent(kChild, kShell, "/bin/ls", {"ls"});
  e.mutable_process()->set_exec_id("node-b:700:200");
  const v1::Event before = e;
  cache.Enrich(e);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(e, before)) << e.DebugString();
  EXPECT_EQ(cache.size(), seeded);
  EXPECT_EQ(cache.Lookup("node-b:700:200"), nullptr);
  EXPECT_EQ(cache.Lookup(kChild.exec_id()), nullptr);
  ASSERT_NE(cache.Lookup(kShell.exec_id()), nullptr);
  EXPECT_EQ(cache.Lookup(kShell.exec_id())->pid, kShell.pid);
}

// Parent() follows the parent's exec id from entry to entry.
TEST_F(ProcessCacheTest, ParentWalksTheChain) {
  ProcessCache cache(Options());
  cache.SeedFromProc();
  Enriched(cache, ForkEvent(kChild, kShell));
  const CachedProcess* child = cache.Lookup(kChild.exec_id());
  ASSERT_NE(child, nullptr);
  const CachedProcess* shell = cache.Parent(*child);
  ASSERT_NE(shell, nullptr);
  EXPECT_EQ(shell->pid, kShell.pid);
  EXPECT_EQ(shell->exe(), "/usr/bin/bash");
  const CachedProcess* init = cache.Parent(*shell);
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->pid, kInit.pid);
  EXPECT_EQ(cache.Parent(*init), nullptr);
}

// The real /proc: this test's own process.
std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Id SelfFromProc(uint32_t pid) {
  const std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  std::vector<std::string> fields = absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  return {pid, std::stoull(fields.at(19))};  // field 22
}

TEST(ProcessCacheRealProc, SeedFromProcLearnsThisProcess) {
  ProcessCache cache(ProcessCacheOptions{.node = kNode});
  EXPECT_GE(cache.SeedFromProc(), 1u);
  const Id self = SelfFromProc(static_cast<uint32_t>(getpid()));
  const Id parent = SelfFromProc(static_cast<uint32_t>(getppid()));
  const std::string exe = fs::read_symlink("/proc/self/exe");
  std::string cmdline = ReadAll("/proc/self/cmdline");
  ASSERT_FALSE(cmdline.empty());
  cmdline.pop_back();
  const std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
  ASSERT_EQ(argv[0], program_invocation_name);

  // Known from the seed alone: ancestors come only from the cache.
  v1::Event child_exec = ExecEvent({0x7ffffff0, 1}, self, "/bin/true", {"true"});
  cache.Enrich(child_exec);
  ASSERT_GE(child_exec.ancestors_size(), 1);
  EXPECT_EQ(child_exec.ancestors(0).exec_id(), self.exec_id());
  EXPECT_EQ(child_exec.ancestors(0).exe(), exe);
  EXPECT_THAT(child_exec.ancestors(0).argv(), ElementsAreArray(argv));
  EXPECT_EQ(child_exec.ancestors(0).cwd(), fs::current_path().string());
  EXPECT_EQ(child_exec.ancestors(0).parent_exec_id(), parent.exec_id());

  v1::Event exit = ExitEvent(self, parent);
  cache.Enrich(exit);
  EXPECT_EQ(exit.process().exe(), exe);
  EXPECT_THAT(exit.process().argv(), ElementsAreArray(argv));
}

}  // namespace
}  // namespace vigil
