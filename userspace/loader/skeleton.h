#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "loader/probe_set.h"

namespace vigil {

// Owns one bpftool-generated skeleton (open -> configure -> the loader loads).
template <typename Skel, Skel* (*Open)(const bpf_object_open_opts*), void (*Destroy)(Skel*)>
class Skeleton : public BpfObject {
 public:
  static absl::StatusOr<std::unique_ptr<Skeleton>> Make(const bpf_object_open_opts* opts) {
    Skel* skel = Open(opts);
    if (skel == nullptr) return LibbpfStatus(-errno, "open BPF object");
    return std::unique_ptr<Skeleton>(new Skeleton(skel));
  }
  ~Skeleton() override { Destroy(skel_); }
  bpf_object* object() const override { return skel_->obj; }
  uint32_t abi_version() const override { return skel_->rodata->vigil_object_abi; }
  void set_preempt_kfuncs(bool available) override { skel_->rodata->vigil_preempt_kfuncs = available ? 1 : 0; }
  void set_task_btf(bool available) override {
    skel_->rodata->vigil_task_btf = available ? 1 : 0;
    // Task storage serves only that path: without it the map is not created
    // (an older kernel would refuse it), and libbpf poisons its references,
    // which the verifier then never reaches.
    bpf_map* map;
    bpf_object__for_each_map(map, skel_->obj) {
      if (bpf_map__type(map) == BPF_MAP_TYPE_TASK_STORAGE) bpf_map__set_autocreate(map, available);
    }
  }
  void set_wakeup_interval_ns(uint64_t ns) override { skel_->rodata->vigil_wakeup_interval_ns = ns; }
  Skel* skel() const { return skel_; }

 private:
  explicit Skeleton(Skel* skel) : skel_(skel) {}
  Skel* skel_;
};

}  // namespace vigil
