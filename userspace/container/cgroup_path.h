#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

// What a cgroup path says about the container in it. Every runtime names the
// cgroup of a container after the container id, and the kubelet puts a pod's
// containers under a cgroup named after the pod uid; nothing else is in the path.
struct CgroupContainer {
  std::string runtime;       // "containerd", "cri-o", "docker", "podman"; empty when the path does not say
  std::string container_id;  // empty: not in a container (host), or a pod's own cgroup
  std::string pod_uid;       // with dashes, as the API server has it
  std::string qos;           // "guaranteed", "burstable", "besteffort" for Kubernetes pods

  bool host() const { return container_id.empty() && pod_uid.empty(); }
  bool operator==(const CgroupContainer&) const = default;
};

// Parses a cgroup path relative to its hierarchy's root (as in /proc/<pid>/cgroup
// or below the cgroup2 mount), for cgroup v1 and v2, the cgroupfs and systemd
// drivers. InvalidArgument for a path that is not absolute or that starts a
// Kubernetes or runtime convention and breaks it (pod without a uid, ...).
absl::StatusOr<CgroupContainer> ParseCgroupPath(absl::string_view path);

// The path a process's /proc/<pid>/cgroup gives for the cgroup v2 hierarchy
// ("0::/..."), else for the v1 hierarchy most runtimes name first
// ("name=systemd", then "memory", "pids", "cpu"). NotFound when there is none.
absl::StatusOr<std::string> CgroupPathFromProcFile(absl::string_view contents);

}  // namespace vigil
