#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/unique_fd.h"

struct ring_buffer;

namespace vigil {

// Owns a libbpf ring_buffer consumer on one ring buffer map.
class RingBuffer {
 public:
  using Callback = std::function<void(absl::Span<const uint8_t>)>;

  static absl::StatusOr<std::unique_ptr<RingBuffer>> Open(int map_fd, Callback callback);
  ~RingBuffer();

  // Waits up to `timeout_ms` for a wake-up from the kernel, then hands every
  // record in the buffer to the callback, woken or not. Returns how many.
  absl::StatusOr<int> Poll(int timeout_ms);
  // Hands over whatever is in the buffer now, without waiting.
  absl::StatusOr<int> Drain();

 private:
  explicit RingBuffer(Callback callback) : callback_(std::move(callback)) {}
  static int OnRecord(void* ctx, void* data, size_t size);

  Callback callback_;
  ring_buffer* rb_ = nullptr;
  UniqueFd epoll_;  // edge-triggered on the map: see Open()
};

}  // namespace vigil
