#include "loader/ring_buffer.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include "common/status.h"

namespace vigil {

absl::StatusOr<std::unique_ptr<RingBuffer>> RingBuffer::Open(int map_fd, Callback callback) {
  std::unique_ptr<RingBuffer> rb(new RingBuffer(std::move(callback)));
  rb->rb_ = ring_buffer__new(map_fd, &RingBuffer::OnRecord, rb.get(), nullptr);
  if (rb->rb_ == nullptr) return LibbpfStatus(-errno, "ring_buffer__new");
  return rb;
}

RingBuffer::~RingBuffer() { ring_buffer__free(rb_); }

int RingBuffer::OnRecord(void* ctx, void* data, size_t size) {
  static_cast<RingBuffer*>(ctx)->callback_(absl::Span<const uint8_t>(static_cast<const uint8_t*>(data), size));
  return 0;
}

absl::StatusOr<int> RingBuffer::Poll(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return LibbpfStatus(n, "ring_buffer__poll");
  // Records written without a wake-up (BPF_RB_NO_WAKEUP) wake nobody: on a
  // timeout, take what is there.
  if (n <= 0) return Drain();
  return n;
}

absl::StatusOr<int> RingBuffer::Drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0) return LibbpfStatus(n, "ring_buffer__consume");
  return n;
}

}  // namespace vigil
