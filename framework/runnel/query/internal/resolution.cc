#include "runnel/query/internal/resolution.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/partitioner.h"

namespace runnel::query::internal {

const char* LayoutName(StoreSpec::Layout layout) {
  switch (layout) {
    case StoreSpec::Layout::kKeyValue:
      return "key_value";
    case StoreSpec::Layout::kWindow:
      return "window";
    case StoreSpec::Layout::kSession:
      return "session";
    case StoreSpec::Layout::kInternal:
      return "internal";
  }
  return "unknown";
}

absl::StatusOr<StoreRef> FindStore(const Topology& topology, const std::string& name,
                                   std::optional<StoreSpec::Layout> want) {
  if (name.empty()) return absl::InvalidArgumentError("no store named in the request (set store)");
  auto it = topology.stores().find(name);
  if (it == topology.stores().end()) {
    std::vector<std::string> names;
    for (const auto& [n, spec] : topology.stores()) {
      if (spec.layout != StoreSpec::Layout::kInternal) names.push_back(n);
    }
    return absl::NotFoundError(
        absl::StrCat("no store '", name, "'; queryable stores: [", absl::StrJoin(names, ", "), "]"));
  }
  const StoreSpec& spec = it->second;
  if (spec.layout == StoreSpec::Layout::kInternal) {
    return absl::InvalidArgumentError(
        absl::StrCat("store '", name, "' is internal to an operator (its layout is private): not queryable"));
  }
  if (spec.kind != StoreSpec::Kind::kRocksDb) {
    return absl::InvalidArgumentError(
        absl::StrCat("store '", name, "' is in memory: only RocksDB stores can be queried from other threads"));
  }
  if (want && spec.layout != *want) {
    return absl::InvalidArgumentError(absl::StrCat("store '", name, "' is a ", LayoutName(spec.layout),
                                                   " store; this call is for ", LayoutName(*want), " stores"));
  }
  StoreRef ref{&spec, -1};
  for (const auto& sub : topology.subtopologies()) {
    if (sub.stores.contains(name)) ref.subtopology = sub.id;
  }
  return ref;
}

absl::StatusOr<std::string> KeyBytes(const StoreRef& ref, const v1::Key& key, std::string_view field) {
  switch (key.form_case()) {
    case v1::Key::kRaw:
      return key.raw();
    case v1::Key::kText: {
      if (ref.spec->text == nullptr || !ref.spec->text->parse_key) {
        return absl::InvalidArgumentError(absl::StrCat(
            "store '", ref.spec->name, "' keys (serde '", ref.spec->text ? ref.spec->text->key_serde : "",
            "') have no text form: give ", ToAbsl(field), ".raw"));
      }
      auto bytes = ref.spec->text->parse_key(key.text());
      if (!bytes.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(ToAbsl(field), " '", key.text(), "' does not decode: ", bytes.status().message()));
      }
      return bytes;
    }
    case v1::Key::FORM_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat("missing ", ToAbsl(field), " (set raw or text)"));
}

absl::Status CheckOptions(const v1::ReadOptions& options) {
  if (options.has_max_lag() && options.max_lag() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_lag must be >= 0, got ", options.max_lag()));
  }
  if (options.uncommitted() && options.has_max_lag()) {
    return absl::InvalidArgumentError(
        "uncommitted reads come from the active owner's stream thread; max_lag (standbys) does not apply");
  }
  return absl::OkStatus();
}

absl::Status NoUncommittedRange(const v1::ReadOptions& options) {
  if (!options.uncommitted()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "uncommitted reads are for keyed calls (Get, MultiGet, WindowFetch, SessionFetch): a range would hold the "
      "stream thread while it reads");
}

absl::StatusOr<size_t> CheckLimit(int32_t limit) {
  if (limit < 0 || limit > kMaxLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be in 0..", kMaxLimit, " (0: ", kMaxLimit, "), got ", limit));
  }
  return limit == 0 ? static_cast<size_t>(kMaxLimit) : static_cast<size_t>(limit);
}

absl::Status CheckTimeRange(int64_t time_from, int64_t time_to) {
  if (time_from <= time_to) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("time_from (", time_from, ") is after time_to (", time_to, ")"));
}

absl::StatusOr<KeyBounds> ResolveBounds(const StoreRef& ref, const v1::Key* from, std::string_view from_field,
                                        const v1::Key* to, std::string_view to_field) {
  KeyBounds bounds;
  if (from != nullptr) {
    auto b = KeyBytes(ref, *from, from_field);
    if (!b.ok()) return b.status();
    bounds.lo = *std::move(b);
  }
  if (to != nullptr) {
    auto b = KeyBytes(ref, *to, to_field);
    if (!b.ok()) return b.status();
    bounds.hi = *std::move(b);
  }
  if (bounds.lo && bounds.hi && *bounds.lo > *bounds.hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(from_field), " is after ", ToAbsl(to_field), " (keys compare as bytes)"));
  }
  return bounds;
}

bool Reached(const StoreCopyStatus* status, const v1::ReadOptions& options) {
  if (options.min_position_size() == 0) return true;
  if (status == nullptr) return false;
  const auto positions = status->Positions();
  for (const auto& want : options.min_position()) {
    const bool reached = std::any_of(positions.begin(), positions.end(), [&](const auto& p) {
      return p.first.topic == want.topic() && p.first.partition.value() == want.partition() &&
             p.second.value() >= want.offset();
    });
    if (!reached) return false;
  }
  return true;
}

namespace {

bool UsableActive(const LocalStores::Copy& c) { return c.status == nullptr || (!c.status->standby() && c.status->ready()); }

bool WithinLag(const LocalStores::Copy& c, const v1::ReadOptions& options) {
  return options.has_max_lag() && c.status != nullptr && c.status->Lag() >= 0 && c.status->Lag() <= options.max_lag();
}

// The endpoint of `process` in the assignment, empty when it has none.
std::string EndpointOf(const KafkaStreams::GroupMetadata& metadata, const std::string& process) {
  auto e = metadata.endpoints.find(process);
  return e == metadata.endpoints.end() ? std::string() : e->second;
}

}  // namespace

absl::StatusOr<Target> Route(const StoreRef& ref, std::string_view key, const v1::ReadOptions& options,
                             const RoutingContext& context) {
  if (ref.subtopology < 0) {
    auto copies = context.local.FindCopies(ref.spec->name);
    if (copies.empty()) return absl::UnavailableError(absl::StrCat("global store '", ref.spec->name, "' is not open yet"));
    return Target{copies.front(), "", 0};
  }
  if (context.partitions <= 0) {
    return absl::UnavailableError(
        absl::StrCat("store '", ref.spec->name, "': the group's assignment is not known yet"));
  }
  const TaskId task{ref.subtopology, kafka::PartitionForKey(key, context.partitions)};
  Target target;
  target.partition = task.partition.value();
  auto copy = context.local.FindCopy(ref.spec->name, task);
  if (copy && UsableActive(*copy)) {
    target.local = std::move(copy);
    return target;
  }
  std::string why = copy ? (copy->status->standby() ? "this instance keeps only a standby of it"
                                                    : "this instance's copy is still restoring")
                         : "this instance does not own it";
  std::shared_ptr<const KafkaStreams::GroupMetadata> metadata;
  if (!options.no_forward()) {
    auto read = context.metadata();
    if (read.ok()) {
      metadata = *std::move(read);
      auto owner = metadata->active.find(task);
      if (owner == metadata->active.end()) {
        why = "no instance owns it now (the group is rebalancing)";
      } else if (owner->second != context.self) {
        target.remote = EndpointOf(*metadata, owner->second);
        if (!target.remote.empty()) return target;
        why = absl::StrCat("its owner (process ", owner->second, ") has no application.server");
      }
    } else {
      why = std::string(read.status().message());
    }
  }
  if (options.has_max_lag()) {
    if (copy && WithinLag(*copy, options)) {
      target.local = std::move(copy);
      return target;
    }
    if (metadata != nullptr) {
      if (auto standbys = metadata->standbys.find(task); standbys != metadata->standbys.end()) {
        for (const auto& process : standbys->second) {
          if (process == context.self) continue;
          target.remote = EndpointOf(*metadata, process);
          if (!target.remote.empty()) return target;
        }
      }
    }
  }
  return absl::UnavailableError(absl::StrCat("partition ", task.partition.value(), " of store '", ref.spec->name,
                                             "' cannot be answered now: ", why,
                                             "; retry, or allow staleness with max_lag"));
}

std::vector<LocalStores::Copy> RangeCopies(std::vector<LocalStores::Copy> copies, const v1::ReadOptions& options) {
  std::vector<LocalStores::Copy> out;
  for (auto& copy : copies) {
    const bool stale_ok = !options.uncommitted() && WithinLag(copy, options);
    if (!UsableActive(copy) && !stale_ok) continue;
    if (!Reached(copy, options)) continue;
    out.push_back(std::move(copy));
  }
  return out;
}

absl::Status TaskMoved(absl::Status s) {
  if (!absl::IsFailedPrecondition(s)) return s;
  return absl::UnavailableError(absl::StrCat("the store closed during the read (its task moved): ", s.message()));
}

}  // namespace runnel::query::internal
