#include "runnel/runtime/internal/local_state.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"

namespace runnel::runtime::internal {

std::optional<std::string> PositionOutsideLog(Offset position, Offset low, Offset end) {
  if (position > end) {
    return absl::StrCat("local position ", position.value(), " is past the end ", end.value(),
                        " (the topic was recreated: internal topics deleted, a new cluster, or a reset that kept "
                        "the local state)");
  }
  if (position < low) {
    return absl::StrCat("local position ", position.value(), " is before the start ", low.value(),
                        " (records the store never saw were deleted: DeleteRecords or retention)");
  }
  return std::nullopt;
}

absl::StatusOr<std::map<TopicPartition, Offset>> ReadCheckpointOrWipe(const CheckpointFile& checkpoint,
                                                                      const std::string& dir, std::string_view who,
                                                                      bool* wiped) {
  if (wiped != nullptr) *wiped = false;
  auto offsets = checkpoint.Read();
  if (offsets.ok()) return offsets;
  if (!absl::IsNotFound(offsets.status()) && !absl::IsDataLoss(offsets.status())) return offsets.status();
  if (std::filesystem::exists(dir)) {
    Logger("runnel")->info("{}: {}; wiping {} and restoring from the changelog", who, offsets.status().ToString(),
                           dir);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("wiping ", dir, ": ", ec.message()));
    if (wiped != nullptr) *wiped = true;
  }
  return std::map<TopicPartition, Offset>{};
}

absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> OpenRocksDbOrWipe(
    const std::string& name, const std::string& dir, const std::shared_ptr<RocksDbResources>& resources,
    std::string_view who, bool* wiped) {
  *wiped = !std::filesystem::exists(dir + "/CURRENT");
  auto opened = RocksDbKeyValueStore::Open(name, dir, resources);
  if (absl::IsDataLoss(opened.status())) {
    Logger("runnel")->warn("{}: {}; wiping the store and restoring it from the changelog", who,
                           opened.status().ToString());
    RUNNEL_RETURN_IF_ERROR(RocksDbKeyValueStore::Destroy(dir));
    *wiped = true;
    opened = RocksDbKeyValueStore::Open(name, dir, resources);
  }
  return opened;
}

}  // namespace runnel::runtime::internal
