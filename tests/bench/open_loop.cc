// Benchmark workload: N read-only open+close pairs of one file, the bulk of
// real file activity that the file family must filter in the kernel.
// Prints "<pid> <opens> <seconds>" on stdout. Not a test.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FILE COUNT\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const long count = std::strtol(argv[2], nullptr, 10);
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const int fd = open(path, O_RDONLY);
    if (fd < 0) {
      std::perror(path);
      return 1;
    }
    close(fd);
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%d %ld %.3f\n", static_cast<int>(getpid()), count, took.count());
  return 0;
}
