#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {

// What a runtime says about one container; Kubernetes fields come from the
// labels the kubelet (through the CRI) puts on every container.
struct ContainerMetadata {
  std::string name;  // io.kubernetes.container.name, else the runtime's name
  std::string image;
  std::string image_digest;   // "sha256:..."
  std::string pod_name;       // io.kubernetes.pod.name
  std::string pod_namespace;  // io.kubernetes.pod.namespace
  std::string pod_uid;        // io.kubernetes.pod.uid
};

// A container appeared or went away in a runtime.
struct ContainerChange {
  std::string container_id;
  bool removed = false;
};

// One container runtime's API. Lookup errors: NotFound when this runtime does
// not have the container, Unavailable (or DeadlineExceeded) when it cannot be
// reached. Called from the container resolver's threads only.
class RuntimeClient {
 public:
  virtual ~RuntimeClient() = default;
  virtual absl::string_view name() const = 0;
  virtual absl::StatusOr<ContainerMetadata> Lookup(absl::string_view container_id) = 0;
  // Streams container creations and removals until the stream breaks or
  // CancelWatch(); returns why it ended. Unimplemented when the runtime has
  // no event stream.
  virtual absl::Status Watch(const std::function<void(const ContainerChange&)>& /*on_change*/) {
    return absl::UnimplementedError(absl::StrCat(name(), " has no event stream"));
  }
  // From another thread: makes a running Watch() return.
  virtual void CancelWatch() {}
};

// containerd's own API (containers, images and events services) on its unix
// socket. A container is looked up in each of `namespaces` in turn.
std::unique_ptr<RuntimeClient> NewContainerdClient(std::string socket, std::vector<std::string> namespaces,
                                                   absl::Duration timeout);
// The CRI RuntimeService (CRI-O, containerd's CRI plugin).
std::unique_ptr<RuntimeClient> NewCriClient(std::string socket, absl::Duration timeout);
// A runtime's API socket: runtime is "containerd", "cri-o" or "docker".
struct RuntimeSocket {
  std::string runtime;
  std::string path;
};

// The standard sockets of each runtime (and k3s's containerd), in the order
// "auto" tries them; vigilctl preflight checks the same list.
const std::vector<RuntimeSocket>& StandardRuntimeSockets();
// A --*_socket setting: "auto" is the first standard socket of `runtime`
// that exists ("" when none does); anything else is taken as given.
std::string ResolveRuntimeSocket(const std::string& configured, absl::string_view runtime);

// The Docker Engine API (GET /containers/<id>/json) on its unix socket.
std::unique_ptr<RuntimeClient> NewDockerClient(std::string socket, absl::Duration timeout);

// Fills the Kubernetes fields of `out` from the kubelet's labels.
void FillFromKubernetesLabels(const std::function<const std::string*(absl::string_view key)>& label,
                              ContainerMetadata& out);

}  // namespace vigil
