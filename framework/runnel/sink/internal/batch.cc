#include "runnel/sink/internal/batch.h"

#include <algorithm>

namespace runnel::sink::internal {

size_t Batch::AddRecord(kafka::ConsumedRecord record) {
  Advance(TopicPartition{std::string(record.topic()), record.partition()}, Offset(record.offset().value() + 1));
  records_.push_back(std::move(record));
  return records_.size() - 1;
}

void Batch::AddRow(size_t route, size_t record, Row row) {
  RouteOps& r = routes_[route];
  auto [it, inserted] = r.by_key.try_emplace(row.key, r.ops.size());
  if (inserted) {
    r.ops.push_back({record, std::move(row)});
  } else {
    r.ops[it->second] = {record, std::move(row)};
  }
}

void Batch::Advance(const TopicPartition& partition, Offset next) {
  auto [it, inserted] = next_offsets_.try_emplace(partition, next);
  if (!inserted && it->second < next) it->second = next;
}

void Batch::DropPartition(const TopicPartition& partition) {
  auto of_partition = [&](size_t record) {
    const auto& r = records_[record];
    return r.partition() == partition.partition && r.topic() == partition.topic;
  };
  for (RouteOps& r : routes_) {
    std::erase_if(r.ops, [&](const BatchOp& op) { return of_partition(op.record); });
    r.by_key.clear();
    for (size_t i = 0; i < r.ops.size(); ++i) r.by_key[r.ops[i].row.key] = i;
  }
  std::erase_if(failures_, [&](const FailedRecord& f) { return of_partition(f.record); });
  next_offsets_.erase(partition);
  // Records stay (indices must hold); they are released with the batch.
}

void Batch::Clear() {
  records_.clear();
  for (RouteOps& r : routes_) {
    r.ops.clear();
    r.by_key.clear();
  }
  failures_.clear();
  next_offsets_.clear();
}

}  // namespace runnel::sink::internal
