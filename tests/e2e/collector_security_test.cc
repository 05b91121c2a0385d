// What the collector refuses, seen from a real gRPC client over loopback:
// sensors without a certificate from its CA, and invalid or oversized
// batches, each for that stream alone; and that a batch a sensor resends
// (its ack was lost) is acknowledged again but stored once, also across a
// normal collector restart. Needs no root.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "collector_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sensor_harness.h"
#include "vigil/v1/collector.grpc.pb.h"

namespace vigil::testing {
namespace {

using ::testing::HasSubstr;

v1::PublishRequest Batch(uint64_t sequence, int events, const std::string& node) {
  v1::PublishRequest r;
  r.set_sequence(sequence);
  r.mutable_sensor()->set_node(node);
  r.mutable_sensor()->set_instance_id(node + "-instance");
  for (int i = 0; i < events; ++i) {
    v1::Event* e = r.add_events();
    e->set_id(absl::StrCat(node, "-instance-", sequence, "-", i));
    e->set_kind(v1::EVENT_KIND_EXEC);
    e->set_node(node);
    e->mutable_process()->set_pid(1000 + i);
    e->mutable_process()->add_argv("/bin/true");
  }
  return r;
}

// One Publish stream.
class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel) : stub_(v1::Collector::NewStub(channel)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    stream_ = stub_->Publish(&context_);
  }
  // Sends one batch; true when it was acknowledged.
  bool Publish(const v1::PublishRequest& r) {
    if (!stream_->Write(r)) return false;
    v1::PublishResponse ack;
    return stream_->Read(&ack) && ack.sequence() == r.sequence();
  }
  // Sends one batch without waiting for its acknowledgement.
  bool Send(const v1::PublishRequest& r) { return stream_->Write(r); }
  // Reads acknowledgements until the collector ends the stream: the last (0 for none).
  uint64_t LastAck() {
    v1::PublishResponse ack;
    uint64_t last = 0;
    while (stream_->Read(&ack)) last = ack.sequence();
    return last;
  }
  grpc::Status Finish() {
    stream_->WritesDone();
    return stream_->Finish();
  }

 private:
  std::unique_ptr<v1::Collector::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::PublishRequest, v1::PublishResponse>> stream_;
};

std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address, const std::string& dir, const std::string& client,
                                          bool own_connection = false) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWholeFile(dir + "/ca.pem");
  if (!client.empty()) {
    ssl.pem_cert_chain = ReadWholeFile(dir + "/" + client + ".pem");
    ssl.pem_private_key = ReadWholeFile(dir + "/" + client + ".key");
  }
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

class CollectorSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(MakeCertificates(dir_.path()));
    collector_ = std::make_unique<CollectorProcess>(
        dir_.path() + "/collector",
        std::vector<std::string>{"--ca=" + dir_.path() + "/ca.pem", "--cert=" + dir_.path() + "/server.pem",
                                 "--key=" + dir_.path() + "/server.key", "--max_batch_bytes=1048576"});
    ASSERT_OK(collector_->Start());
  }
  TempDir dir_;
  std::unique_ptr<CollectorProcess> collector_;
};

TEST_F(CollectorSecurity, SensorWithCertificateFromItsCaIsAccepted) {
  Client c(TlsChannel(collector_->address(), dir_.path(), "client"));
  EXPECT_TRUE(c.Publish(Batch(1, 3, "node-a")));
  EXPECT_TRUE(c.Finish().ok());
}

TEST_F(CollectorSecurity, ClientWithoutCertificateIsRefused) {
  Client c(TlsChannel(collector_->address(), dir_.path(), ""));
  EXPECT_FALSE(c.Publish(Batch(1, 3, "node-x")));
  const grpc::Status s = c.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(collector_->IdCounts().size(), 0u);
}

TEST_F(CollectorSecurity, ClientWithCertificateFromAnotherCaIsRefused) {
  Client c(TlsChannel(collector_->address(), dir_.path(), "other-client"));
  EXPECT_FALSE(c.Publish(Batch(1, 3, "node-b")));
  const grpc::Status s = c.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(collector_->IdCounts().size(), 0u);
}

TEST_F(CollectorSecurity, PlaintextClientIsRefused) {
  Client c(grpc::CreateChannel(collector_->address(), grpc::InsecureChannelCredentials()));
  EXPECT_FALSE(c.Publish(Batch(1, 3, "node-p")));
  EXPECT_EQ(c.Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CollectorSecurity, BadBatchesFailTheirOwnStreamOnly) {
  auto channel = TlsChannel(collector_->address(), dir_.path(), "client");
  Client good(channel);
  ASSERT_TRUE(good.Publish(Batch(1, 10, "node-a")));

  Client malformed(channel);
  v1::PublishRequest no_id = Batch(1, 3, "node-a");
  no_id.mutable_events(1)->clear_id();
  EXPECT_FALSE(malformed.Publish(no_id));
  const grpc::Status m = malformed.Finish();
  EXPECT_EQ(m.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(m.error_message(), HasSubstr("event 1 has no id"));

  Client oversized(channel);
  v1::PublishRequest big = Batch(1, 1, "node-a");
  big.mutable_events(0)->mutable_process()->add_argv(std::string(2 << 20, 'a'));  // 2 MiB > 1 MiB cap
  EXPECT_FALSE(oversized.Publish(big));
  const grpc::Status o = oversized.Finish();
  EXPECT_EQ(o.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << o.error_message();

  // The good stream carries on, on the same connection.
  ASSERT_TRUE(good.Publish(Batch(2, 10, "node-a")));
  EXPECT_TRUE(good.Finish().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::map<std::string, int> ids;
  while ((ids = collector_->IdCounts()).size() < 20 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(ids.size(), 20u);
  for (const auto& [id, n] : ids) EXPECT_TRUE(id.starts_with("node-a")) << id;
}

// Waits for `want` distinct ids at the collector, then a little longer, so a
// duplicate forwarded after them would be seen too.
std::map<std::string, int> Settled(const CollectorProcess& c, size_t want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (c.IdCounts().size() < want && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  absl::SleepFor(absl::Seconds(1));
  return c.IdCounts();
}

void ExpectEachOnce(const std::map<std::string, int>& ids, size_t want) {
  EXPECT_EQ(ids.size(), want);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
}

// Batches a sensor sent ahead of one the collector refuses are stored and
// acknowledged before the stream ends: the refusal costs the sensor the bad
// batch only.
TEST_F(CollectorSecurity, BatchesAheadOfARefusedOneAreAcknowledged) {
  Client c(TlsChannel(collector_->address(), dir_.path(), "client"));
  for (uint64_t s = 1; s <= 5; ++s) ASSERT_TRUE(c.Send(Batch(s, 4, "node-a")));
  v1::PublishRequest no_id = Batch(6, 3, "node-a");
  no_id.mutable_events(0)->clear_id();
  ASSERT_TRUE(c.Send(no_id));
  EXPECT_EQ(c.LastAck(), 5u);
  EXPECT_EQ(c.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::map<std::string, int> ids = Settled(*collector_, 20);
  ExpectEachOnce(ids, 20);
}

// The client certificate names node-a (its SAN): that is the only node it
// may publish as, and as it alone, from the first batch to the last.
TEST_F(CollectorSecurity, ACertificatePublishesOnlyAsTheNodeItNames) {
  auto channel = TlsChannel(collector_->address(), dir_.path(), "client");
  Client other(channel);
  EXPECT_FALSE(other.Publish(Batch(1, 3, "node-b")));
  grpc::Status s = other.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("not named by the client certificate"));

  Client changes(channel);
  ASSERT_TRUE(changes.Publish(Batch(1, 3, "node-a")));
  v1::PublishRequest moved = Batch(2, 3, "node-a");
  moved.mutable_sensor()->set_instance_id("someone-else");
  EXPECT_FALSE(changes.Publish(moved));
  s = changes.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  Client foreign(channel);
  v1::PublishRequest smuggled = Batch(1, 3, "node-a");
  smuggled.mutable_events(2)->set_node("node-b");
  EXPECT_FALSE(foreign.Publish(smuggled));
  s = foreign.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  Client overlong(channel);
  v1::PublishRequest big_name = Batch(1, 3, "node-a");
  big_name.mutable_sensor()->set_cluster(std::string(64 << 10, 'c'));
  EXPECT_FALSE(overlong.Publish(big_name));
  EXPECT_EQ(overlong.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const std::map<std::string, int> ids = Settled(*collector_, 3);
  EXPECT_EQ(ids.size(), 3u) << "only the first accepted batch is stored";
}

// One node holds a bounded number of streams: a peer cannot open thousands.
TEST_F(CollectorSecurity, StreamsPerNodeAreCapped) {
  auto channel = TlsChannel(collector_->address(), dir_.path(), "client");
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(std::make_unique<Client>(channel));
    ASSERT_TRUE(open.back()->Publish(Batch(1, 1, "node-a"))) << "stream " << i;
  }
  // A connection of its own (HTTP/2 also caps streams per connection).
  Client fifth(TlsChannel(collector_->address(), dir_.path(), "client", /*own_connection=*/true));
  EXPECT_FALSE(fifth.Publish(Batch(1, 1, "node-a")));
  const grpc::Status s = fifth.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  for (auto& c : open) EXPECT_TRUE(c->Finish().ok());
  // Closed streams give their places back.
  Client again(channel);
  EXPECT_TRUE(again.Publish(Batch(2, 1, "node-a")));
  EXPECT_TRUE(again.Finish().ok());
}

TEST_F(CollectorSecurity, ResentBatchIsAcknowledgedAndStoredOnce) {
  auto channel = TlsChannel(collector_->address(), dir_.path(), "client");
  Client first(channel);
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_TRUE(first.Publish(Batch(s, 5, "node-a")));
  // As after a broken stream: the sensor resends from its last ack it saw.
  Client again(channel);
  for (uint64_t s = 2; s <= 4; ++s) EXPECT_TRUE(again.Publish(Batch(s, 5, "node-a"))) << s;
  EXPECT_TRUE(again.Finish().ok());
  EXPECT_TRUE(first.Finish().ok());
  ExpectEachOnce(Settled(*collector_, 20), 20);
}

TEST_F(CollectorSecurity, AfterANormalStopAResendIsStillStoredOnce) {
  const int port = collector_->port();
  {
    Client c(TlsChannel(collector_->address(), dir_.path(), "client"));
    ASSERT_TRUE(c.Publish(Batch(1, 5, "node-a")));
    EXPECT_TRUE(c.Finish().ok());
  }
  collector_->Stop(SIGTERM);
  ASSERT_OK(collector_->Start(port));
  Client c(TlsChannel(collector_->address(), dir_.path(), "client"));
  EXPECT_TRUE(c.Publish(Batch(1, 5, "node-a"))) << "a resend is acknowledged";
  EXPECT_TRUE(c.Publish(Batch(2, 5, "node-a")));
  EXPECT_TRUE(c.Finish().ok());
  ExpectEachOnce(Settled(*collector_, 10), 10);
}

TEST_F(CollectorSecurity, StoppingCollectorEndsStreamsWithoutStoringMore) {
  const int port = collector_->port();
  Client c(TlsChannel(collector_->address(), dir_.path(), "client"));
  ASSERT_TRUE(c.Publish(Batch(1, 5, "node-a")));
  std::thread stop([this] { collector_->Stop(SIGTERM); });
  absl::SleepFor(absl::Milliseconds(500));  // the collector is draining, our stream still open
  EXPECT_FALSE(c.Publish(Batch(2, 5, "node-a")));
  const grpc::Status s = c.Finish();
  stop.join();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("shutting down"));
  ASSERT_OK(collector_->Start(port));
  const std::map<std::string, int> ids = Settled(*collector_, 5);
  ExpectEachOnce(ids, 5);
  for (const auto& [id, n] : ids) EXPECT_TRUE(id.starts_with("node-a-instance-1-")) << id << " was not acknowledged";
}

}  // namespace
}  // namespace vigil::testing
