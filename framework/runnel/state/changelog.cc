#include "runnel/state/changelog.h"

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {

std::string ChangelogTopicName(std::string_view application_id, std::string_view store_name) {
  return absl::StrCat(ToAbsl(application_id), "-", ToAbsl(store_name), "-changelog");
}

ChangeLoggingKeyValueStore::ChangeLoggingKeyValueStore(std::shared_ptr<KeyValueStore> inner,
                                                       std::string changelog_topic, Partition partition,
                                                       ChangelogWriter* writer,
                                                       std::function<Timestamp()> timestamp)
    : inner_(std::move(inner)),
      topic_(std::move(changelog_topic)),
      partition_(partition),
      writer_(writer),
      timestamp_(std::move(timestamp)) {}

// The store is written first: if the send fails the task fails and the
// uncommitted store contents are rebuilt from the changelog on restart.
absl::Status ChangeLoggingKeyValueStore::Put(std::string_view key, std::optional<std::string_view> value) {
  if (absl::Status s = inner_->Put(key, value); !s.ok()) return s;
  return writer_->Send(topic_, partition_, key, value, timestamp_());
}

// Each record carries its write's own timestamp when it has one (entries a
// cache sends down at a commit, long after they were written), else the
// current record's.
absl::Status ChangeLoggingKeyValueStore::PutAll(const std::vector<Write>& writes) {
  if (absl::Status s = inner_->PutAll(writes); !s.ok()) return s;
  std::optional<Timestamp> now;
  for (const auto& w : writes) {
    if (!w.timestamp && !now) now = timestamp_();
    absl::Status s = writer_->Send(topic_, partition_, w.key,
                                   w.value ? std::optional<std::string_view>(*w.value) : std::nullopt,
                                   w.timestamp ? *w.timestamp : *now);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace runnel
