// The interactive-query service's requests (proto/runnel/query/v1/query.proto)
// as the server receives them: protobuf bytes parsed into the call's request
// message, then the checks the server runs before reading a store
// (query/internal/resolution.h: options, store and its layout, key bytes
// from raw or text, limit, time and key ranges, routing of keyed calls;
// rendering.h: Metadata with a key, a value's JSON form), in the order
// query_server.cc runs them. The first input byte picks the call.
//
// The server itself is not started (no gRPC server, no broker): the
// topology is built with the DSL, this instance's copies are in-memory
// stores, and the group's assignment is made by hand.
//
// Properties: any request is answered with OK or a status saying what to
// fix (INVALID_ARGUMENT, NOT_FOUND) or to retry (UNAVAILABLE), never a
// crash or undefined behaviour; a routed key's partition is in range.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/query/internal/rendering.h"
#include "runnel/query/internal/resolution.h"
#include "runnel/query/v1/query.pb.h"
#include "runnel/serde/json_serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/state/in_memory_kv_store.h"

namespace {

namespace v1 = ::runnel::query::v1;
namespace qi = ::runnel::query::internal;
using runnel::KafkaStreams;
using runnel::LocalStores;
using runnel::StoreSpec;
using runnel::TaskId;

constexpr int32_t kPartitions = 4;

// Stores of every layout and several key types: "counts" (string keys),
// "totals" (int64 keys, double values), "docs" (JSON keys and values),
// "windows", "sessions", and "scratch" (in memory: not queryable).
struct World {
  std::shared_ptr<const runnel::Topology> topology;
  LocalStores local;
  KafkaStreams::GroupMetadata metadata;
};

const World& TheWorld() {
  static const World* world = [] {
    namespace serdes = runnel::serdes;
    using runnel::Consumed;
    using runnel::Materialized;
    runnel::StreamsBuilder builder;
    auto grouped = builder.Stream("in", Consumed(serdes::String(), serdes::String())).GroupByKey();
    grouped.Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
    grouped.WindowedBy(runnel::TimeWindows::OfSizeAndGrace(absl::Minutes(1), absl::Hours(1)))
        .Count(Materialized<std::string, int64_t>::As("windows", serdes::String(), serdes::Int64()));
    grouped.WindowedBy(runnel::SessionWindows::OfInactivityGapAndGrace(absl::Minutes(5), absl::Hours(1)))
        .Count(Materialized<std::string, int64_t>::As("sessions", serdes::String(), serdes::Int64()));
    builder.Stream("numbers", Consumed(serdes::Int64(), serdes::Double()))
        .GroupByKey()
        .Reduce([](double a, double b) { return a + b; },
                Materialized<int64_t, double>::As("totals", serdes::Int64(), serdes::Double()));
    builder.Stream("docs", Consumed(serdes::Json(), serdes::Json()))
        .GroupByKey()
        .Reduce([](const serdes::JsonValue&, const serdes::JsonValue& b) { return b; },
                Materialized<serdes::JsonValue, serdes::JsonValue>::As("docs", serdes::Json(), serdes::Json()));
    builder.Stream("in2", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .Count(Materialized<std::string, int64_t>::As("scratch", serdes::String(), serdes::Int64()).InMemory());
    auto topology = builder.Build();
    FUZZ_CHECK(topology.ok(), topology.status().ToString());

    auto* w = new World{*topology, {}, {}};
    // Partition 0 of every store is here and ready, 1 is a standby 5
    // records behind, 2 is still restoring; 3 is elsewhere.
    for (const auto& [name, spec] : w->topology->stores()) {
      for (const auto& sub : w->topology->subtopologies()) {
        if (!sub.stores.contains(name)) continue;
        for (int32_t p = 0; p < 3; ++p) {
          auto status = std::make_shared<runnel::StoreCopyStatus>(/*standby=*/p == 1);
          status->set_ready(p != 2);
          status->SetChangelog({name + "-changelog", runnel::Partition(p)});
          status->SetChangelogEnd(runnel::Offset(100));
          status->SetChangelogPosition(runnel::Offset(p == 1 ? 95 : 100));
          w->local.Add(name, TaskId{sub.id, runnel::Partition(p)}, std::make_shared<runnel::InMemoryKeyValueStore>(name),
                       status);
        }
      }
    }
    for (const auto& sub : w->topology->subtopologies()) {
      w->metadata.tasks_per_subtopology.push_back(kPartitions);
      for (int32_t p = 0; p < kPartitions; ++p) {
        const TaskId task{sub.id, runnel::Partition(p)};
        w->metadata.active[task] = p == 3 ? "other" : "self";
        w->metadata.standbys[task] = {p == 3 ? "self" : "other"};
      }
    }
    w->metadata.endpoints = {{"self", "localhost:1"}, {"other", "localhost:2"}};
    return w;
  }();
  return *world;
}

void ExpectAnswerable(const absl::Status& s) {
  FUZZ_CHECK(s.ok() || absl::IsInvalidArgument(s) || absl::IsNotFound(s) || absl::IsUnavailable(s), s.ToString());
  FUZZ_CHECK(s.ok() || !s.message().empty(), "an error without a message");
}

qi::RoutingContext Routing(const World& w, const qi::StoreRef& ref) {
  return qi::RoutingContext{w.local, "self", ref.subtopology < 0 ? 0 : kPartitions,
                            [&w]() -> absl::StatusOr<std::shared_ptr<const KafkaStreams::GroupMetadata>> {
                              return std::make_shared<const KafkaStreams::GroupMetadata>(w.metadata);
                            }};
}

// Get, WindowFetch, SessionFetch: QueryServer::Impl::ResolveKey.
absl::Status Keyed(const World& w, const std::string& store, const v1::Key& key, StoreSpec::Layout layout,
                   const v1::ReadOptions& options) {
  RUNNEL_RETURN_IF_ERROR(qi::CheckOptions(options));
  auto ref = qi::FindStore(*w.topology, store, layout);
  if (!ref.ok()) return ref.status();
  auto bytes = qi::KeyBytes(*ref, key, "key");
  if (!bytes.ok()) return bytes.status();
  auto target = qi::Route(*ref, *bytes, options, Routing(w, *ref));
  if (!target.ok()) return target.status();
  FUZZ_CHECK(target->partition >= 0 && target->partition < kPartitions, "routed to a partition out of range");
  FUZZ_CHECK(target->local.has_value() != !target->remote.empty(), "a target both local and remote, or neither");
  if (target->local) {
    (void)qi::Reached(*target->local, options);
    // The answer renders stored bytes: here the key's, as a value.
    v1::Value value;
    qi::SetValue(*ref->spec, *bytes, &value);
  }
  return absl::OkStatus();
}

// Range, All, WindowRange: QueryServer::Impl::CheckRange then the bounds.
absl::Status Ranged(const World& w, const std::string& store, StoreSpec::Layout layout, int32_t limit,
                    const v1::ReadOptions& options, const v1::Key* from, const v1::Key* to) {
  RUNNEL_RETURN_IF_ERROR(qi::CheckOptions(options));
  RUNNEL_RETURN_IF_ERROR(qi::NoUncommittedRange(options));
  auto max = qi::CheckLimit(limit);
  if (!max.ok()) return max.status();
  FUZZ_CHECK(*max >= 1 && *max <= static_cast<size_t>(qi::kMaxLimit), "limit out of range");
  auto ref = qi::FindStore(*w.topology, store, layout);
  if (!ref.ok()) return ref.status();
  auto bounds = qi::ResolveBounds(*ref, from, "from", to, "to");
  if (!bounds.ok()) return bounds.status();
  FUZZ_CHECK(!bounds->lo || !bounds->hi || *bounds->lo <= *bounds->hi, "an inverted range was accepted");
  (void)qi::RangeCopies(w.local.FindCopies(store), options);
  return absl::OkStatus();
}

template <typename M>
bool Parse(std::string_view bytes, M& message) {
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

absl::Status Call(const World& w, uint8_t call, std::string_view bytes) {
  switch (call % 8) {
    case 0: {
      v1::GetRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      return Keyed(w, req.store(), req.key(), StoreSpec::Layout::kKeyValue, req.options());
    }
    case 1: {
      v1::MultiGetRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      if (req.keys_size() > qi::kMaxLimit) return absl::InvalidArgumentError("too many keys");
      for (const v1::Key& key : req.keys()) {
        RUNNEL_RETURN_IF_ERROR(Keyed(w, req.store(), key, StoreSpec::Layout::kKeyValue, req.options()));
      }
      return absl::OkStatus();
    }
    case 2: {
      v1::RangeRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      return Ranged(w, req.store(), StoreSpec::Layout::kKeyValue, req.limit(), req.options(),
                    req.has_from() ? &req.from() : nullptr, req.has_to() ? &req.to() : nullptr);
    }
    case 3: {
      v1::AllRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      return Ranged(w, req.store(), StoreSpec::Layout::kKeyValue, req.limit(), req.options(), nullptr, nullptr);
    }
    case 4: {
      v1::WindowFetchRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      RUNNEL_RETURN_IF_ERROR(qi::CheckTimeRange(req.time_from(), req.time_to()));
      return Keyed(w, req.store(), req.key(), StoreSpec::Layout::kWindow, req.options());
    }
    case 5: {
      v1::WindowRangeRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      RUNNEL_RETURN_IF_ERROR(qi::CheckTimeRange(req.time_from(), req.time_to()));
      return Ranged(w, req.store(), StoreSpec::Layout::kWindow, req.limit(), req.options(),
                    req.has_key_from() ? &req.key_from() : nullptr, req.has_key_to() ? &req.key_to() : nullptr);
    }
    case 6: {
      v1::SessionFetchRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      return Keyed(w, req.store(), req.key(), StoreSpec::Layout::kSession, req.options());
    }
    default: {
      v1::MetadataRequest req;
      if (!Parse(bytes, req)) return absl::OkStatus();
      v1::MetadataResponse resp;
      return qi::FillMetadata(*w.topology, w.metadata, req, "localhost:1", &resp);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ExpectAnswerable(Call(TheWorld(), data[0], runnel::fuzz::AsView(data + 1, size - 1)));
  return 0;
}
