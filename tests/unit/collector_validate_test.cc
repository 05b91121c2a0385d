#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collector/validate.h"
#include "status_matchers.h"

namespace vigil::collector {
namespace {

using test::IsOk;
using test::StatusIs;

v1::PublishRequest Batch(uint64_t sequence, int events, bool identity) {
  v1::PublishRequest r;
  r.set_sequence(sequence);
  if (identity) {
    r.mutable_sensor()->set_node("node-a");
    r.mutable_sensor()->set_instance_id("abc");
  }
  for (int i = 0; i < events; ++i) {
    v1::Event* e = r.add_events();
    e->set_id("abc-" + std::to_string(sequence * 1000 + i));
    e->set_kind(v1::EVENT_KIND_EXEC);
  }
  return r;
}

TEST(ValidateRequest, AcceptsAStreamOfIncreasingBatches) {
  StreamState state;
  EXPECT_THAT(ValidateRequest(Batch(5, 3, true), {}, state), IsOk());
  EXPECT_THAT(ValidateRequest(Batch(6, 1, false), {}, state), IsOk());
  EXPECT_THAT(ValidateRequest(Batch(9, 1, false), {}, state), IsOk());  // gaps: spooled batches lost to the cap
  EXPECT_EQ(state.last_sequence, 9u);
}

TEST(ValidateRequest, FirstRequestMustIdentifyTheSensor) {
  StreamState state;
  EXPECT_THAT(ValidateRequest(Batch(1, 1, false), {}, state),
              StatusIs(absl::StatusCode::kInvalidArgument, "must carry the sensor identity"));
}

TEST(ValidateRequest, SequenceMustBePositiveAndIncrease) {
  StreamState state;
  EXPECT_THAT(ValidateRequest(Batch(0, 1, true), {}, state),
              StatusIs(absl::StatusCode::kInvalidArgument, "sequence must be > 0"));
  ASSERT_THAT(ValidateRequest(Batch(4, 1, true), {}, state), IsOk());
  EXPECT_THAT(ValidateRequest(Batch(4, 1, false), {}, state),
              StatusIs(absl::StatusCode::kInvalidArgument, "sequence does not increase (previous was 4)"));
}

TEST(ValidateRequest, EveryEventNeedsAnIdAndAKind) {
  StreamState state;
  v1::PublishRequest no_id = Batch(1, 3, true);
  no_id.mutable_events(1)->clear_id();
  EXPECT_THAT(ValidateRequest(no_id, {}, state), StatusIs(absl::StatusCode::kInvalidArgument, "event 1 has no id"));
  v1::PublishRequest no_kind = Batch(1, 3, true);
  no_kind.mutable_events(2)->clear_kind();
  EXPECT_THAT(ValidateRequest(no_kind, {}, state),
              StatusIs(absl::StatusCode::kInvalidArgument, "event 2 (abc-1002) has no kind"));
  EXPECT_FALSE(state.identified);  // a refused request does not count
}

TEST(ValidateRequest, RefusesEmptyAndOverfullBatches) {
  StreamState state;
  EXPECT_THAT(ValidateRequest(Batch(1, 0, true), {}, state), StatusIs(absl::StatusCode::kInvalidArgument, "no events"));
  EXPECT_THAT(ValidateRequest(Batch(1, 11, true), BatchLimits{.max_events = 10}, state),
              StatusIs(absl::StatusCode::kInvalidArgument, "11 events, more than the limit of 10"));
}

// Issue 15, defect 3: a peer cannot publish as any node.
TEST(ValidateRequest, TheNodeMustBeOneTheCertificateNames) {
  StreamState state{.certificate_names = {"node-b", "node-c"}};
  EXPECT_THAT(
      ValidateRequest(Batch(1, 1, true), {}, state),
      StatusIs(absl::StatusCode::kPermissionDenied, "batch 1: node node-a is not named by the client certificate"));
  state.certificate_names = {"node-a"};
  EXPECT_THAT(ValidateRequest(Batch(1, 1, true), {}, state), IsOk());
}

TEST(ValidateRequest, TheIdentityNeverChangesMidStream) {
  StreamState state;
  ASSERT_THAT(ValidateRequest(Batch(1, 1, true), {}, state), IsOk());
  EXPECT_THAT(ValidateRequest(Batch(2, 1, true), {}, state), IsOk()) << "repeating it is fine";
  v1::PublishRequest moved = Batch(3, 1, true);
  moved.mutable_sensor()->set_node("node-b");
  EXPECT_THAT(ValidateRequest(moved, {}, state),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "batch 3: the sensor identity changed mid-stream (node node-a -> node-b)"));
  moved.mutable_sensor()->set_node("node-a");
  moved.mutable_sensor()->set_cluster("elsewhere");
  EXPECT_THAT(ValidateRequest(moved, {}, state).code(), absl::StatusCode::kPermissionDenied);
}

TEST(ValidateRequest, EventsOfAnotherNodeAreRefused) {
  StreamState state;
  v1::PublishRequest r = Batch(1, 2, true);
  r.mutable_events(0)->set_node("node-a");
  r.mutable_events(1)->set_node("node-b");
  EXPECT_THAT(ValidateRequest(r, {}, state),
              StatusIs(absl::StatusCode::kPermissionDenied, "batch 1: event 1 (abc-1001) is of node node-b"));
}

TEST(ValidateRequest, IdentityFieldsAreCapped) {
  StreamState state;
  v1::PublishRequest r = Batch(1, 1, true);
  r.mutable_sensor()->set_kernel(std::string(254, 'k'));
  EXPECT_THAT(ValidateRequest(r, {}, state), StatusIs(absl::StatusCode::kInvalidArgument,
                                                      "batch 1: a sensor identity field of 254 bytes, more than 253"));
}

}  // namespace
}  // namespace vigil::collector
