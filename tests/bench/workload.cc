// Benchmark workloads for scripts/bench-overhead.sh: each runs one kind of
// syscall load and prints its wall time in seconds. Not a test.
//   bench_workload exec COUNT              fork + exec /bin/true, one after another
//   bench_workload exec-rate RATE SECONDS [PATH]
//                                          PATH (/bin/true) started RATE times a second
//   bench_workload open FILE COUNT         read-only open + close
//   bench_workload cwu DIR COUNT           create + write + unlink
//   bench_workload tcp COUNT               loopback TCP connect, accept, close
//   bench_workload mixed DIR COUNT         COUNT rounds of: 1 exec, 100 opens, 10 cwu, 5 tcp
//   bench_workload park COUNT              COUNT sleeping children, until killed
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

extern char** environ;

namespace {

void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

constexpr char kTrue[] = "/bin/true";

pid_t Spawn(const char* path = kTrue) {
  char* argv[] = {const_cast<char*>(path), nullptr};
  pid_t pid;
  if (const int err = posix_spawn(&pid, path, nullptr, nullptr, argv, environ); err != 0) {
    errno = err;  // posix_spawn returns its error
    Die(path);
  }
  return pid;
}

void Exec(long count) {
  for (long i = 0; i < count; ++i) {
    const pid_t pid = Spawn();
    if (waitpid(pid, nullptr, 0) < 0) Die("waitpid");
  }
}

void ExecRate(long rate, long seconds, const char* path) {
  signal(SIGCHLD, SIG_IGN);  // children are reaped by the kernel
  const auto start = std::chrono::steady_clock::now();
  const long total = rate * seconds;
  for (long i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::nanoseconds(i * 1000000000L / rate));
    Spawn(path);
  }
}

void Open(const char* path, long count) {
  for (long i = 0; i < count; ++i) {
    const int fd = open(path, O_RDONLY);
    if (fd < 0) Die(path);
    close(fd);
  }
}

void CreateWriteUnlink(const std::string& dir, long count) {
  const std::string path = dir + "/bench-cwu-" + std::to_string(getpid());
  static const char kData[64] = "benchmark";
  for (long i = 0; i < count; ++i) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) Die(path.c_str());
    if (write(fd, kData, sizeof(kData)) != sizeof(kData)) Die("write");
    close(fd);
    if (unlink(path.c_str()) != 0) Die("unlink");
  }
}

void Tcp(long count) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0) Die("bind");
  if (listen(listener, 128) != 0) Die("listen");
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) Die("getsockname");
  for (long i = 0; i < count; ++i) {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
    const int s = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) Die("accept");
    // The client closes first, after an RST-free exchange: no TIME_WAIT on
    // the server's side to exhaust ports.
    close(c);
    close(s);
  }
  close(listener);
}

// Children that stay (processes the sensor tracks), each a fork of this
// small process: they die with it.
void Park(long count) {
  for (long i = 0; i < count; ++i) {
    const pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) pause();
    }
  }
  std::printf("parked %ld\n", count);
  std::fflush(stdout);
  for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: see the comment at the top of workload.cc\n");
    return 2;
  }
  const std::string what = argv[1];
  const auto start = std::chrono::steady_clock::now();
  if (what == "exec") {
    Exec(std::atol(argv[2]));
  } else if (what == "exec-rate" && (argc == 4 || argc == 5)) {
    ExecRate(std::atol(argv[2]), std::atol(argv[3]), argc == 5 ? argv[4] : kTrue);
  } else if (what == "open" && argc == 4) {
    Open(argv[2], std::atol(argv[3]));
  } else if (what == "cwu" && argc == 4) {
    CreateWriteUnlink(argv[2], std::atol(argv[3]));
  } else if (what == "tcp") {
    Tcp(std::atol(argv[2]));
  } else if (what == "park") {
    Park(std::atol(argv[2]));
  } else if (what == "mixed" && argc == 4) {
    for (long i = 0, n = std::atol(argv[3]); i < n; ++i) {
      Exec(1);
      Open("/etc/hostname", 100);
      CreateWriteUnlink(argv[2], 10);
      Tcp(5);
    }
  } else {
    std::fprintf(stderr, "unknown workload %s\n", what.c_str());
    return 2;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%.4f\n", took.count());
  return 0;
}
