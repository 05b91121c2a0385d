#include "loader/ring_buffer.h"

#include <bpf/libbpf.h>
#include <sys/epoll.h>

#include <cerrno>

#include "common/status.h"

namespace vigil {

absl::StatusOr<std::unique_ptr<RingBuffer>> RingBuffer::Open(int map_fd, Callback callback) {
  std::unique_ptr<RingBuffer> rb(new RingBuffer(std::move(callback)));
  rb->rb_ = ring_buffer__new(map_fd, &RingBuffer::OnRecord, rb.get(), nullptr);
  if (rb->rb_ == nullptr) return LibbpfStatus(-errno, "ring_buffer__new");
  // Our own epoll, edge-triggered, where libbpf's ring_buffer__poll() waits
  // level-triggered: records that came while the reader worked made that
  // return again at once, every wake-up a second time, with an epoll_wait,
  // a handful of records and a flush of the sinks each (about 30 a second
  // at 1,600 execs/s). Edge-triggered, it returns on the probes' next
  // wake-up only, and those records wait for it or for the poll's timeout,
  // as any record written without a wake-up does.
  rb->epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  if (!rb->epoll_.valid()) return ErrnoStatus(errno, "epoll_create1");
  epoll_event e{.events = EPOLLIN | EPOLLET, .data = {.fd = map_fd}};
  if (epoll_ctl(rb->epoll_.get(), EPOLL_CTL_ADD, map_fd, &e) != 0)
    return ErrnoStatus(errno, "epoll_ctl on the ring buffer");
  return rb;
}

RingBuffer::~RingBuffer() { ring_buffer__free(rb_); }

int RingBuffer::OnRecord(void* ctx, void* data, size_t size) {
  static_cast<RingBuffer*>(ctx)->callback_(absl::Span<const uint8_t>(static_cast<const uint8_t*>(data), size));
  return 0;
}

absl::StatusOr<int> RingBuffer::Poll(int timeout_ms) {
  epoll_event e;
  if (epoll_wait(epoll_.get(), &e, 1, timeout_ms) < 0 && errno != EINTR)
    return ErrnoStatus(errno, "epoll_wait on the ring buffer");
  // Woken or not: records written without a wake-up (BPF_RB_NO_WAKEUP) wake
  // nobody, and on a timeout are taken all the same.
  return Drain();
}

absl::StatusOr<int> RingBuffer::Drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0) return LibbpfStatus(n, "ring_buffer__consume");
  return n;
}

}  // namespace vigil
