// What containerd's own API and the CRI RuntimeService answer the container
// enricher: the input picks the client and the status, and is parsed as the
// response messages (container, image, CRI status, event envelopes) that a
// gRPC server on a unix socket, run here, sends to the real clients.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "container/runtime_clients.h"
#include "cri/runtime_v1_subset.grpc.pb.h"
#include "fuzz_support.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

namespace containers = containerd::services::containers::v1;
namespace images = containerd::services::images::v1;
namespace events = containerd::services::events::v1;

// The answers of one input; read by the server's threads.
struct Answers {
  grpc::StatusCode code = grpc::OK;
  containers::GetContainerResponse container;
  images::GetImageResponse image;
  runtime::v1::ContainerStatusResponse cri;
  std::vector<events::Envelope> envelopes;
};

class Store {
 public:
  void Set(Answers answers) {
    absl::MutexLock lock(&mu_);
    answers_ = std::move(answers);
  }
  Answers Get() {
    absl::MutexLock lock(&mu_);
    return answers_;
  }

 private:
  absl::Mutex mu_;
  Answers answers_;
};

Store& Current() {
  static Store* store = new Store;
  return *store;
}

class ContainersService final : public containers::Containers::Service {
  grpc::Status Get(grpc::ServerContext*, const containers::GetContainerRequest*,
                   containers::GetContainerResponse* out) override {
    Answers a = Current().Get();
    if (a.code != grpc::OK) return grpc::Status(a.code, "fuzz");
    *out = a.container;
    return grpc::Status::OK;
  }
};

class ImagesService final : public images::Images::Service {
  grpc::Status Get(grpc::ServerContext*, const images::GetImageRequest*, images::GetImageResponse* out) override {
    *out = Current().Get().image;
    return grpc::Status::OK;
  }
};

class EventsService final : public events::Events::Service {
  grpc::Status Subscribe(grpc::ServerContext*, const events::SubscribeRequest*,
                         grpc::ServerWriter<events::Envelope>* writer) override {
    for (const events::Envelope& e : Current().Get().envelopes) {
      if (!writer->Write(e)) break;
    }
    return grpc::Status::OK;  // the stream ends: Watch returns
  }
};

class CriService final : public runtime::v1::RuntimeService::Service {
  grpc::Status ContainerStatus(grpc::ServerContext*, const runtime::v1::ContainerStatusRequest*,
                               runtime::v1::ContainerStatusResponse* out) override {
    Answers a = Current().Get();
    if (a.code != grpc::OK) return grpc::Status(a.code, "fuzz");
    *out = a.cri;
    return grpc::Status::OK;
  }
};

// One server for the whole fuzzing process.
struct Runtime {
  explicit Runtime(const std::string& socket) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&containers_service);
    builder.RegisterService(&images_service);
    builder.RegisterService(&events_service);
    builder.RegisterService(&cri_service);
    server = builder.BuildAndStart();
    if (server == nullptr) std::abort();
  }
  ContainersService containers_service;
  ImagesService images_service;
  EventsService events_service;
  CriService cri_service;
  std::unique_ptr<grpc::Server> server;
};

template <typename Message>
void ParseInto(FuzzedDataProvider& input, Message& out) {
  (void)out.ParseFromString(input.ConsumeRandomLengthString(1 << 14));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::fuzz::ScratchDir dir;
  static const std::string socket = dir.path() + "/runtime.sock";
  static Runtime* runtime = new Runtime(socket);  // serves until the process ends
  static const std::unique_ptr<vigil::RuntimeClient> containerd =
      vigil::NewContainerdClient(socket, {"k8s.io", "moby"}, absl::Seconds(10));
  static const std::unique_ptr<vigil::RuntimeClient> cri = vigil::NewCriClient(socket, absl::Seconds(10));
  (void)runtime;

  FuzzedDataProvider input(data, size);
  Answers answers;
  constexpr grpc::StatusCode kCodes[] = {grpc::OK, grpc::NOT_FOUND, grpc::UNAVAILABLE, grpc::INVALID_ARGUMENT};
  answers.code = input.PickValueInArray(kCodes);
  const bool use_cri = input.ConsumeBool();
  if (use_cri) {
    ParseInto(input, answers.cri);
  } else {
    ParseInto(input, answers.container);
    ParseInto(input, answers.image);
    while (input.remaining_bytes() > 0 && answers.envelopes.size() < 8)
      ParseInto(input, answers.envelopes.emplace_back());
  }
  Current().Set(std::move(answers));
  const std::string id = "4f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
  if (use_cri) {
    (void)cri->Lookup(id);
  } else {
    (void)containerd->Lookup(id);
    (void)containerd->Watch([](const vigil::ContainerChange&) {});
  }
  return 0;
}
