#include "container/runtime_clients.h"

#include <unistd.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "container/unix_http.h"
#include "cri/runtime_v1_subset.grpc.pb.h"
#include "github.com/containerd/containerd/api/events/container.pb.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"

namespace vigil {

namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(what, ": ", s.error_message());
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(msg);
    case grpc::StatusCode::CANCELLED:
      return absl::CancelledError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

std::shared_ptr<grpc::Channel> UnixChannel(const std::string& socket) {
  grpc::ChannelArguments args;
  // A runtime that restarts should be found again quickly, not after gRPC's
  // default reconnect backoff of up to two minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials(), args);
}

template <typename Map>
std::function<const std::string*(absl::string_view)> LabelsOf(const Map& labels) {
  return [&labels](absl::string_view key) -> const std::string* {
    auto it = labels.find(std::string(key));
    return it == labels.end() ? nullptr : &it->second;
  };
}

// "name@sha256:..." or "sha256:..." -> "sha256:..."
std::string DigestOf(absl::string_view ref) {
  if (size_t at = ref.find("@"); at != absl::string_view::npos) return std::string(ref.substr(at + 1));
  return absl::StartsWith(ref, "sha256:") ? std::string(ref) : "";
}

// containerd's event Any names its type without the "type.googleapis.com/"
// prefix ("containerd.events.ContainerCreate"), which Any::UnpackTo refuses.
template <typename T>
bool UnpackEvent(const google::protobuf::Any& any, T& out) {
  return absl::EndsWith(any.type_url(), T::descriptor()->full_name()) && out.ParseFromString(any.value());
}

class ContainerdClient : public RuntimeClient {
 public:
  ContainerdClient(std::string socket, std::vector<std::string> namespaces, absl::Duration timeout)
      : channel_(UnixChannel(socket)),
        containers_(containerd::services::containers::v1::Containers::NewStub(channel_)),
        images_(containerd::services::images::v1::Images::NewStub(channel_)),
        events_(containerd::services::events::v1::Events::NewStub(channel_)),
        namespaces_(std::move(namespaces)),
        timeout_(timeout) {}

  absl::string_view name() const override { return "containerd"; }

  absl::StatusOr<ContainerMetadata> Lookup(absl::string_view container_id) override {
    for (const std::string& ns : namespaces_) {
      grpc::ClientContext ctx;
      Prepare(ctx, ns);
      containerd::services::containers::v1::GetContainerRequest req;
      req.set_id(std::string(container_id));
      containerd::services::containers::v1::GetContainerResponse resp;
      absl::Status s = FromGrpc(containers_->Get(&ctx, req, &resp), "containerd Containers.Get");
      if (absl::IsNotFound(s)) continue;
      if (!s.ok()) return s;
      const auto& c = resp.container();
      ContainerMetadata out;
      out.image = c.image();
      FillFromKubernetesLabels(LabelsOf(c.labels()), out);
      if (!c.image().empty()) out.image_digest = ImageDigest(ns, c.image());
      return out;
    }
    return absl::NotFoundError(
        absl::StrCat("containerd has no container ", container_id, " in namespaces ", absl::StrJoin(namespaces_, ",")));
  }

  absl::Status Watch(const std::function<void(const ContainerChange&)>& on_change) override {
    grpc::ClientContext ctx;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return absl::CancelledError("watch cancelled");
      watch_ctx_ = &ctx;
    }
    containerd::services::events::v1::SubscribeRequest req;
    req.add_filters("topic~=\"/containers/\"");
    auto reader = events_->Subscribe(&ctx, req);
    containerd::services::events::v1::Envelope env;
    while (reader->Read(&env)) {
      ContainerChange change;
      if (env.topic() == "/containers/create") {
        containerd::events::ContainerCreate ev;
        if (!UnpackEvent(env.event(), ev)) continue;
        change.container_id = ev.id();
      } else if (env.topic() == "/containers/delete") {
        containerd::events::ContainerDelete ev;
        if (!UnpackEvent(env.event(), ev)) continue;
        change.container_id = ev.id();
        change.removed = true;
      } else {
        continue;
      }
      on_change(change);
    }
    // Read also ends at a message that does not parse (a string that is not
    // UTF-8, say), with the rest of the stream unread; Finish would then wait
    // for a status that never comes, and the watch would hang for good (found
    // by fuzz/runtime_fuzzer.cc). Cancelling first lets Finish return the
    // server's status if it came, CANCELLED otherwise.
    ctx.TryCancel();
    absl::Status s = FromGrpc(reader->Finish(), "containerd Events.Subscribe");
    absl::MutexLock lock(&mu_);
    watch_ctx_ = nullptr;
    return s.ok() ? absl::UnavailableError("containerd closed the event stream") : s;
  }

  void CancelWatch() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (watch_ctx_ != nullptr) watch_ctx_->TryCancel();
  }

 private:
  void Prepare(grpc::ClientContext& ctx, const std::string& ns) const {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    // containerd scopes every object to the namespace named in this header.
    ctx.AddMetadata("containerd-namespace", ns);
  }

  // The digest of the image's manifest (or index); "" when not known.
  std::string ImageDigest(const std::string& ns, const std::string& image) {
    grpc::ClientContext ctx;
    Prepare(ctx, ns);
    containerd::services::images::v1::GetImageRequest req;
    req.set_name(image);
    containerd::services::images::v1::GetImageResponse resp;
    if (!images_->Get(&ctx, req, &resp).ok()) return DigestOf(image);
    return resp.image().target().digest();
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<containerd::services::containers::v1::Containers::Stub> containers_;
  std::unique_ptr<containerd::services::images::v1::Images::Stub> images_;
  std::unique_ptr<containerd::services::events::v1::Events::Stub> events_;
  const std::vector<std::string> namespaces_;
  const absl::Duration timeout_;

  absl::Mutex mu_;
  grpc::ClientContext* watch_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

class CriClient : public RuntimeClient {
 public:
  CriClient(std::string socket, absl::Duration timeout)
      : stub_(runtime::v1::RuntimeService::NewStub(UnixChannel(socket))), timeout_(timeout) {}

  absl::string_view name() const override { return "cri"; }

  absl::StatusOr<ContainerMetadata> Lookup(absl::string_view container_id) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    runtime::v1::ContainerStatusRequest req;
    req.set_container_id(std::string(container_id));
    runtime::v1::ContainerStatusResponse resp;
    if (absl::Status s = FromGrpc(stub_->ContainerStatus(&ctx, req, &resp), "CRI ContainerStatus"); !s.ok()) {
      return s;
    }
    const auto& st = resp.status();
    ContainerMetadata out;
    out.name = st.metadata().name();
    out.image = st.image().image();
    out.image_digest = DigestOf(st.image_ref());
    FillFromKubernetesLabels(LabelsOf(st.labels()), out);
    return out;
  }

 private:
  std::unique_ptr<runtime::v1::RuntimeService::Stub> stub_;
  const absl::Duration timeout_;
};

class DockerClient : public RuntimeClient {
 public:
  DockerClient(std::string socket, absl::Duration timeout) : socket_(std::move(socket)), timeout_(timeout) {}

  absl::string_view name() const override { return "docker"; }

  absl::StatusOr<ContainerMetadata> Lookup(absl::string_view container_id) override {
    auto body = Get(absl::StrCat("/containers/", container_id, "/json"));
    if (!body.ok()) return body.status();
    nlohmann::json j = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return absl::UnknownError("docker: container JSON does not parse");
    ContainerMetadata out;
    if (auto n = j.find("Name"); n != j.end() && n->is_string()) {
      out.name = std::string(absl::StripPrefix(n->get<std::string>(), "/"));
    }
    // The image id (its config's digest): the registry's manifest digest is
    // only in the image's own record (GET /images/{name}/json, RepoDigests).
    if (auto img = j.find("Image"); img != j.end() && img->is_string()) out.image_digest = DigestOf(*img);
    std::map<std::string, std::string> labels;
    if (auto cfg = j.find("Config"); cfg != j.end() && cfg->is_object()) {
      if (auto img = cfg->find("Image"); img != cfg->end() && img->is_string()) out.image = *img;
      if (auto l = cfg->find("Labels"); l != cfg->end() && l->is_object()) {
        for (const auto& [k, v] : l->items()) {
          if (v.is_string()) labels[k] = v.get<std::string>();
        }
      }
    }
    FillFromKubernetesLabels(LabelsOf(labels), out);
    return out;
  }

 private:
  absl::StatusOr<std::string> Get(const std::string& path) {
    absl::StatusOr<HttpReply> reply = UnixSocketGet(socket_, path, timeout_);
    if (!reply.ok()) return absl::Status(reply.status().code(), absl::StrCat("docker: ", reply.status().message()));
    if (reply->status == 404) return absl::NotFoundError(absl::StrCat("docker has no ", path));
    if (reply->status != 200) return absl::UnknownError(absl::StrCat("docker: HTTP ", reply->status, " for ", path));
    return std::move(reply->body);
  }

  const std::string socket_;
  const absl::Duration timeout_;
};

}  // namespace

void FillFromKubernetesLabels(const std::function<const std::string*(absl::string_view key)>& label,
                              ContainerMetadata& out) {
  if (const std::string* v = label("io.kubernetes.container.name")) out.name = *v;
  if (const std::string* v = label("io.kubernetes.pod.name")) out.pod_name = *v;
  if (const std::string* v = label("io.kubernetes.pod.namespace")) out.pod_namespace = *v;
  if (const std::string* v = label("io.kubernetes.pod.uid")) out.pod_uid = *v;
}

const std::vector<RuntimeSocket>& StandardRuntimeSockets() {
  static const auto* sockets = new std::vector<RuntimeSocket>{
      {"containerd", "/run/containerd/containerd.sock"},
      {"containerd", "/run/k3s/containerd/containerd.sock"},
      {"cri-o", "/run/crio/crio.sock"},
      {"cri-o", "/var/run/crio/crio.sock"},
      {"docker", "/run/docker.sock"},
      {"docker", "/var/run/docker.sock"},
  };
  return *sockets;
}

std::string ResolveRuntimeSocket(const std::string& configured, absl::string_view runtime) {
  if (configured != "auto") return configured;
  for (const RuntimeSocket& s : StandardRuntimeSockets()) {
    if (s.runtime == runtime && access(s.path.c_str(), F_OK) == 0) return s.path;
  }
  return "";
}

std::unique_ptr<RuntimeClient> NewContainerdClient(std::string socket, std::vector<std::string> namespaces,
                                                   absl::Duration timeout) {
  return std::make_unique<ContainerdClient>(std::move(socket), std::move(namespaces), timeout);
}

std::unique_ptr<RuntimeClient> NewCriClient(std::string socket, absl::Duration timeout) {
  return std::make_unique<CriClient>(std::move(socket), timeout);
}

std::unique_ptr<RuntimeClient> NewDockerClient(std::string socket, absl::Duration timeout) {
  return std::make_unique<DockerClient>(std::move(socket), timeout);
}

}  // namespace vigil
