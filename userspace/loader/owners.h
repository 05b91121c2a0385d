#pragma once

// Owners of the kernel objects the loader holds outside a skeleton: a file
// descriptor (maps it creates, the cgroup it attaches to), a BPF link, a
// BTF object. Each is released exactly once, when its owner goes.

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <memory>
#include <utility>

namespace vigil {

// A file descriptor, closed on destruction; -1 holds nothing.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct BpfLinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
// An attached program; detached on destruction.
using BpfLinkPtr = std::unique_ptr<bpf_link, BpfLinkDeleter>;

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

}  // namespace vigil
