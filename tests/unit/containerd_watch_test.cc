// containerd's event stream as the container enricher's watcher reads it,
// from a real gRPC server on a unix socket in the test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "container/runtime_clients.h"
#include "github.com/containerd/containerd/api/events/container.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace vigil {
namespace {

namespace events = containerd::services::events::v1;

// Sends `envelopes`, then ends the stream.
class EventsService final : public events::Events::Service {
 public:
  explicit EventsService(std::vector<events::Envelope> envelopes) : envelopes_(std::move(envelopes)) {}
  grpc::Status Subscribe(grpc::ServerContext*, const events::SubscribeRequest*,
                         grpc::ServerWriter<events::Envelope>* writer) override {
    for (const events::Envelope& e : envelopes_) writer->Write(e);
    return grpc::Status::OK;
  }

 private:
  const std::vector<events::Envelope> envelopes_;
};

events::Envelope Create(const std::string& id, const std::string& type_url) {
  containerd::events::ContainerCreate create;
  create.set_id(id);
  events::Envelope e;
  e.set_namespace_("k8s.io");
  e.set_topic("/containers/create");
  e.mutable_event()->set_type_url(type_url);
  e.mutable_event()->set_value(create.SerializeAsString());
  return e;
}

// Found by fuzz/runtime_fuzzer.cc: an envelope that does not parse (a string
// that is not UTF-8) ended Read with the rest of the stream unread, and
// Finish waited for good: the watcher saw no container again.
TEST(ContainerdWatch, AMessageThatDoesNotParseEndsTheWatch) {
  char tmpl[] = "/tmp/vigil-watch-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string socket = dir + "/containerd.sock";
  EventsService service({Create("first", "containerd.events.ContainerCreate"),
                         Create("second", "containerd.events.\xff\xfe"),
                         Create("third", "containerd.events.ContainerCreate")});
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  const std::unique_ptr<RuntimeClient> client = NewContainerdClient(socket, {"k8s.io"}, absl::Seconds(5));
  std::vector<std::string> seen;
  auto watch = std::async(std::launch::async, [&] {
    return client->Watch([&](const ContainerChange& c) { seen.push_back(c.container_id); });
  });
  // A hang is the failure; a minute is far beyond any loaded machine's delay.
  if (watch.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    client->CancelWatch();  // lets the thread, and so the test, end
    watch.wait();
    FAIL() << "Watch did not return after a message that does not parse";
  }
  EXPECT_FALSE(watch.get().ok());  // ended: the caller reconnects
  EXPECT_THAT(seen, ::testing::ElementsAre("first"));
  server->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil
