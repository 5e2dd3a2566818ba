#include "runnel/runtime/internal/topics.h"

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"

namespace runnel::runtime::internal {
namespace {

constexpr absl::Duration kAdminTimeout = absl::Seconds(30);

absl::Status Mismatch(const kafka::NewTopic& topic, std::string_view kind, int32_t actual) {
  return absl::FailedPreconditionError(absl::StrCat(ToAbsl(kind), " '", topic.name, "' has ", actual,
                                                    " partitions, expected ", topic.partitions,
                                                    " (co-partitioned with its tasks' source topics)"));
}

}  // namespace

absl::Status EnsureTopic(kafka::Admin& admin, const kafka::NewTopic& topic, std::string_view kind,
                         PartitionCount rule) {
  auto fits = [&](int32_t partitions) {
    return rule == PartitionCount::kAny || partitions == topic.partitions ? absl::OkStatus()
                                                                          : Mismatch(topic, kind, partitions);
  };
  auto existing = admin.DescribeTopic(topic.name, kAdminTimeout);
  if (existing.ok()) return fits(existing->partitions);
  if (!absl::IsNotFound(existing.status())) {
    return Annotate(existing.status(), absl::StrCat("describing ", ToAbsl(kind), " '", topic.name, "'"));
  }
  Logger("runnel")->info("creating {} {} ({} partitions)", kind, topic.name, topic.partitions);
  absl::Status created = admin.CreateTopics({topic}, kAdminTimeout);
  if (created.ok()) return absl::OkStatus();
  if (!absl::IsFailedPrecondition(created)) {
    return Annotate(created, absl::StrCat("creating ", ToAbsl(kind), " '", topic.name, "'"));
  }
  // Someone created it between our look and our request: look again, and
  // compare (the admin client says FailedPrecondition for "exists with
  // another partition count").
  existing = admin.DescribeTopic(topic.name, kAdminTimeout);
  if (!existing.ok()) return Annotate(created, absl::StrCat("creating ", ToAbsl(kind), " '", topic.name, "'"));
  return fits(existing->partitions);
}

}  // namespace runnel::runtime::internal
