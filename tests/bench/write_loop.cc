// Benchmark workload: COUNT one-byte write()s, each read back, on one of
//   null  /dev/null (no socket: what every file or pipe write is),
//   udp   a connected UDP socket on 127.0.0.1 to a port that is not 53,
//   tcp   a loopback TCP connection (TCP_NODELAY: one segment per write),
// so that a probe's cost per write() can be told from the floor of its
// hook. Prints "<pid> <writes> <seconds> <cpu seconds>" on stdout: on a
// shared machine the CPU time of this process (the syscalls, and the
// loopback softirq work they run inline) is the steadier figure. Not a test.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

sockaddr_in Loopback() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// The two ends: `out` is written to, `in` read from (the same fd for null).
bool Open(const char* mode, int* out, int* in) {
  if (std::strcmp(mode, "null") == 0) {
    *out = open("/dev/null", O_WRONLY);
    *in = open("/dev/zero", O_RDONLY);
    return *out >= 0 && *in >= 0;
  }
  const bool tcp = std::strcmp(mode, "tcp") == 0;
  if (!tcp && std::strcmp(mode, "udp") != 0) return false;
  sockaddr_in a = Loopback();
  socklen_t len = sizeof(a);
  const int server = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (bind(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(server, reinterpret_cast<sockaddr*>(&a), &len) != 0 || (tcp && listen(server, 1) != 0)) {
    return false;
  }
  *out = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (connect(*out, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return false;
  *in = tcp ? accept(server, nullptr, nullptr) : server;
  const int one = 1;
  if (tcp) setsockopt(*out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return *in >= 0;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int out = -1, in = -1;
  if (argc != 3 || !Open(argv[1], &out, &in)) {
    std::fprintf(stderr, "usage: %s null|udp|tcp COUNT\n", argv[0]);
    return 2;
  }
  const long count = std::strtol(argv[2], nullptr, 10);
  char byte = 'x';
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds();
  for (long i = 0; i < count; ++i) {
    if (write(out, &byte, 1) != 1 || read(in, &byte, 1) != 1) {
      std::perror("write/read");
      return 1;
    }
  }
  const double cpu = CpuSeconds() - cpu_start;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%d %ld %.3f %.3f\n", static_cast<int>(getpid()), count, took.count(), cpu);
  return 0;
}
