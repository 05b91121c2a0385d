// The kernel facts an exec event carries, on the real kernel: what fds 0, 1
// and 2 of the new program are, whether its file is in an overlayfs upper
// layer, a memfd or deleted, and whether exec raised its privileges. Each
// case makes the situation for real and compares with a look-alike that must
// not carry the fact.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "selftest/exec_child.h"
#include "sensor_harness.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

// A temporary directory that unprivileged users can enter (for the set-ID
// cases), removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-exec-facts-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    path_ = tmpl;
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A copy of /bin/true at `to` with `mode`, owned by root.
void CopyTrue(const fs::path& to, mode_t mode) {
  fs::copy_file("/bin/true", to, fs::copy_options::overwrite_existing);
  ASSERT_EQ(chown(to.c_str(), 0, 0), 0) << std::strerror(errno);
  // chmod after chown: chown clears the set-ID bits.
  ASSERT_EQ(chmod(to.c_str(), mode), 0) << std::strerror(errno);
}

using selftest::ExecChild;

// The child's pid once it ran `path` (or setup.exec_fd) and exited with 0; -1
// with a test failure otherwise.
pid_t RunChild(const std::string& path, const std::vector<std::string>& argv, const ExecChild& setup) {
  absl::StatusOr<pid_t> pid = selftest::RunExecChild(path, argv, setup);
  EXPECT_TRUE(pid.ok()) << pid.status();
  return pid.ok() ? *pid : -1;
}

class ExecFactsTest : public SharedSensorSuite<ExecFactsTest> {
 protected:
  // The exec event of `pid` (its only exec: RunChild execs once).
  v1::Exec ExecOf(pid_t pid) {
    if (pid < 0) return {};
    std::optional<v1::Event> e =
        sensor().WaitFor([pid](const v1::Event& e) { return IsExec(e) && e.process().pid() == uint32_t(pid); });
    if (!e) {
      ADD_FAILURE() << "no exec event for pid " << pid;
      return {};
    }
    return e->exec();
  }

  // Runs /bin/true with these fds as 0, 1, 2 and returns what its exec says of them.
  std::vector<v1::StdioFd> StdioOf(std::array<int, 3> fds) {
    ExecChild setup;
    setup.stdio = fds;
    const v1::Exec x = ExecOf(RunChild("/bin/true", {"true", Nonce()}, setup));
    return {x.stdio().begin(), x.stdio().end()};
  }

  TempDir dir_;
};

// Type of each of the three entries, in fd order.
std::vector<v1::FdType> Types(const std::vector<v1::StdioFd>& stdio) {
  std::vector<v1::FdType> types;
  for (size_t i = 0; i < stdio.size(); ++i) {
    EXPECT_EQ(stdio[i].fd(), i);
    types.push_back(stdio[i].type());
  }
  return types;
}

using ::testing::ElementsAre;

TEST_F(ExecFactsTest, StdioOnATcpSocketIsAReverseShell) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  sockaddr_in local{};
  len = sizeof(local);
  ASSERT_EQ(getsockname(client, reinterpret_cast<sockaddr*>(&local), &len), 0);
  const int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);

  const std::vector<v1::StdioFd> stdio = StdioOf({client, client, client});
  close(accepted);
  close(client);
  close(listener);

  ASSERT_THAT(Types(stdio), ElementsAre(v1::FD_TYPE_SOCKET, v1::FD_TYPE_SOCKET, v1::FD_TYPE_SOCKET));
  for (const v1::StdioFd& s : stdio) {
    SCOPED_TRACE(s.ShortDebugString());
    EXPECT_EQ(s.family(), "ipv4");
    EXPECT_EQ(s.protocol(), "tcp");
    EXPECT_EQ(s.local().ip(), "127.0.0.1");
    EXPECT_EQ(s.local().port(), ntohs(local.sin_port));
    EXPECT_EQ(s.remote().ip(), "127.0.0.1");
    EXPECT_EQ(s.remote().port(), ntohs(addr.sin_port));
  }
}

TEST_F(ExecFactsTest, StdioOnAUnixSocket) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  const std::vector<v1::StdioFd> stdio = StdioOf({pair[0], pair[0], pair[0]});
  close(pair[0]);
  close(pair[1]);
  ASSERT_THAT(Types(stdio), ElementsAre(v1::FD_TYPE_SOCKET, v1::FD_TYPE_SOCKET, v1::FD_TYPE_SOCKET));
  EXPECT_EQ(stdio[0].family(), "unix");
  EXPECT_TRUE(stdio[0].protocol().empty());
  EXPECT_FALSE(stdio[0].has_remote());
}

TEST_F(ExecFactsTest, StdioOnAPipeAFileAndDevNull) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  const fs::path file = dir_.path() / "out.txt";
  const int out = open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(out, 0);
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_GE(null, 0);
  const std::vector<v1::StdioFd> stdio = StdioOf({p[0], out, null});
  close(p[0]);
  close(p[1]);
  close(out);
  close(null);
  EXPECT_THAT(Types(stdio), ElementsAre(v1::FD_TYPE_PIPE, v1::FD_TYPE_FILE, v1::FD_TYPE_DEVICE));
  for (const v1::StdioFd& s : stdio) EXPECT_TRUE(s.family().empty()) << s.ShortDebugString();
}

TEST_F(ExecFactsTest, StdioOnAPseudoTerminal) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0) << std::strerror(errno);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  char name[128];
  ASSERT_EQ(ptsname_r(master, name, sizeof(name)), 0);
  const int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0) << name << ": " << std::strerror(errno);
  const std::vector<v1::StdioFd> stdio = StdioOf({slave, slave, slave});
  close(slave);
  close(master);
  EXPECT_THAT(Types(stdio), ElementsAre(v1::FD_TYPE_TTY, v1::FD_TYPE_TTY, v1::FD_TYPE_TTY));
}

TEST_F(ExecFactsTest, ClosedStdin) {
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  ASSERT_GE(null, 0);
  const std::vector<v1::StdioFd> stdio = StdioOf({-1, null, null});
  close(null);
  EXPECT_THAT(Types(stdio), ElementsAre(v1::FD_TYPE_CLOSED, v1::FD_TYPE_DEVICE, v1::FD_TYPE_DEVICE));
}

// An overlay mount as a container runtime makes one: image layers below,
// the container's writes in the upper directory.
class OverlayMount {
 public:
  explicit OverlayMount(const fs::path& base) : merged_(base / "merged") {
    for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directory(base / d);
    CopyTrue(base / "lower" / "from-image", 0755);
    CopyTrue(base / "upper" / "dropped", 0755);
    const std::string opts =
        absl::StrCat("lowerdir=", (base / "lower").string(), ",upperdir=", (base / "upper").string(),
                     ",workdir=", (base / "work").string());
    if (mount("overlay", merged_.c_str(), "overlay", 0, opts.c_str()) != 0) {
      ADD_FAILURE() << "mount overlay " << opts << ": " << std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~OverlayMount() {
    if (mounted_) umount2(merged_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const fs::path& merged() const { return merged_; }

 private:
  fs::path merged_;
  bool mounted_ = false;
};

TEST_F(ExecFactsTest, UpperLayerOfAnOverlayIsDrift) {
  OverlayMount overlay(dir_.path());
  ASSERT_TRUE(overlay.mounted());
  // Written through the mount, as a process in a container would.
  const fs::path written = overlay.merged() / "written";
  fs::copy_file("/bin/true", written);
  fs::permissions(written, fs::perms::owner_all);

  const v1::Exec upper = ExecOf(RunChild(overlay.merged() / "dropped", {"dropped", Nonce()}, {}));
  const v1::Exec lower = ExecOf(RunChild(overlay.merged() / "from-image", {"from-image", Nonce()}, {}));
  const v1::Exec through = ExecOf(RunChild(written, {"written", Nonce()}, {}));
  const v1::Exec host = ExecOf(RunChild("/bin/true", {"true", Nonce()}, {}));
  EXPECT_TRUE(upper.upper_layer()) << "a file in the upper directory";
  EXPECT_TRUE(through.upper_layer()) << "a file written through the overlay";
  EXPECT_FALSE(lower.upper_layer()) << "a file of the lower layer";
  EXPECT_FALSE(host.upper_layer()) << "not on an overlay at all";
  for (const v1::Exec& x : {upper, lower, through, host}) {
    EXPECT_FALSE(x.memfd() || x.deleted() || x.setuid() || x.setgid() || x.file_caps()) << x.ShortDebugString();
  }
}

// The content of /bin/true.
std::string TrueImage() {
  std::ifstream in("/bin/true", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(ExecFactsTest, MemfdIsFileless) {
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "vigil-payload", MFD_CLOEXEC));
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string image = TrueImage();
  ASSERT_EQ(write(fd, image.data(), image.size()), static_cast<ssize_t>(image.size()));
  ExecChild setup;
  setup.stdio = {-1, -1, -1};
  setup.exec_fd = fd;
  const v1::Exec x = ExecOf(RunChild("memfd", {"payload", Nonce()}, setup));
  close(fd);
  EXPECT_TRUE(x.memfd()) << x.ShortDebugString();
  EXPECT_FALSE(x.deleted()) << "a memfd never had a name to lose";
  EXPECT_FALSE(x.upper_layer());
}

TEST_F(ExecFactsTest, UnlinkedFileIsDeleted) {
  const fs::path path = dir_.path() / "gone";
  CopyTrue(path, 0755);
  const v1::Exec kept = ExecOf(RunChild(path, {"gone", Nonce()}, {}));
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink(path.c_str()), 0);
  ExecChild setup;
  setup.exec_fd = fd;
  const v1::Exec gone = ExecOf(RunChild(path, {"gone", Nonce()}, setup));
  close(fd);
  EXPECT_TRUE(gone.deleted()) << gone.ShortDebugString();
  EXPECT_FALSE(gone.memfd());
  EXPECT_FALSE(kept.deleted()) << "the same file before it was unlinked";
}

TEST_F(ExecFactsTest, SetuidAndSetgidRootRunByNobody) {
  const fs::path plain = dir_.path() / "plain";
  const fs::path suid = dir_.path() / "suid";
  const fs::path sgid = dir_.path() / "sgid";
  CopyTrue(plain, 0755);
  CopyTrue(suid, 04755);
  CopyTrue(sgid, 02755);
  ExecChild nobody;
  nobody.uid = kNobody;

  const v1::Exec p = ExecOf(RunChild(plain, {"plain", Nonce()}, nobody));
  const v1::Exec u = ExecOf(RunChild(suid, {"suid", Nonce()}, nobody));
  const v1::Exec g = ExecOf(RunChild(sgid, {"sgid", Nonce()}, nobody));
  const v1::Exec root_u = ExecOf(RunChild(suid, {"suid", Nonce()}, {}));
  EXPECT_TRUE(u.setuid()) << u.ShortDebugString();
  EXPECT_FALSE(u.setgid() || u.file_caps()) << u.ShortDebugString();
  EXPECT_TRUE(g.setgid()) << g.ShortDebugString();
  EXPECT_FALSE(g.setuid() || g.file_caps()) << g.ShortDebugString();
  EXPECT_FALSE(p.setuid() || p.setgid() || p.file_caps()) << "no set-ID bits: " << p.ShortDebugString();
  EXPECT_FALSE(root_u.setuid() || root_u.file_caps()) << "root gains nothing: " << root_u.ShortDebugString();
}

TEST_F(ExecFactsTest, FileCapabilitiesRunByNobody) {
  const fs::path capped = dir_.path() / "capped";
  const fs::path plain = dir_.path() / "plain";
  CopyTrue(capped, 0755);
  CopyTrue(plain, 0755);
  ASSERT_EQ(::vigil::testing::Run({"/usr/sbin/setcap", "cap_net_raw+ep", capped.string()}), 0)
      << "setcap (libcap2-bin, scripts/install-deps.sh)";
  ExecChild nobody;
  nobody.uid = kNobody;
  const v1::Exec c = ExecOf(RunChild(capped, {"capped", Nonce()}, nobody));
  const v1::Exec p = ExecOf(RunChild(plain, {"plain", Nonce()}, nobody));
  EXPECT_TRUE(c.file_caps()) << c.ShortDebugString();
  EXPECT_FALSE(c.setuid() || c.setgid()) << c.ShortDebugString();
  EXPECT_FALSE(p.file_caps()) << p.ShortDebugString();
}

}  // namespace
}  // namespace vigil::testing
