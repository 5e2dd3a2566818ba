#include "runnel/runtime/task_manager.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"

namespace runnel {
namespace {

// How long a rewind asks again for committed offsets while the group
// coordinator is unavailable.
constexpr absl::Duration kCommittedPatience = absl::Seconds(60);

}  // namespace

TaskManager::TaskManager(std::string name, std::shared_ptr<const Topology> topology, TaskFactory create_task,
                         RestoreConsumerFactory create_restore_consumer, TaskInput* input,
                         StateDirectory* directory)
    : name_(std::move(name)),
      topology_(std::move(topology)),
      create_task_(std::move(create_task)),
      create_restore_consumer_(std::move(create_restore_consumer)),
      input_(input),
      directory_(directory) {}

TaskManager::~TaskManager() { CloseAll(); }

absl::Status TaskManager::Assign(const std::vector<TopicPartition>& partitions) {
  last_route_ = {};
  for (const auto& tp : partitions) {
    int32_t sub = topology_->SubtopologyForTopic(tp.topic);
    if (sub < 0) continue;
    TaskId id{sub, tp.partition};
    auto it = tasks_.find(id);
    if (it == tasks_.end()) {
      RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<StreamTask> task, CreateTask(id));
      if (task->stateful()) {
        // Restored from the loop (RestoreStep), input paused meanwhile, so
        // the consumer keeps polling however long the restore takes.
        task->set_restoring(true);
        restoring_.push_back(task.get());
      }
      it = tasks_.emplace(id, std::move(task)).first;
    }
    it->second->AddPartition(tp);
    routes_[tp] = it->second.get();
    if (it->second->restoring()) RUNNEL_RETURN_IF_ERROR(input_->Pause({tp}));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StreamTask>> TaskManager::CreateTask(TaskId id) {
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<StreamTask> task, create_task_(id));
  // A task that moved from another thread of this process is released
  // when that thread closes it (its revocation normally comes first; a
  // lost assignment may not), a standby replica of it when asked: wait a
  // little for it.
  absl::Status s = task->Init();
  if (absl::IsUnavailable(s) && directory_ != nullptr) directory_->RequestRelease(id);
  for (int waited_ms = 0; absl::IsUnavailable(s) && waited_ms < 10'000; waited_ms += 50) {
    absl::SleepFor(absl::Milliseconds(50));
    s = task->Init();
  }
  if (!s.ok()) return s;
  return task;
}

absl::Status TaskManager::Revoke(const std::vector<TopicPartition>& partitions,
                                 const std::function<absl::Status()>& commit) {
  last_route_ = {};
  absl::Status committed = commit();
  RemovePartitions(partitions);
  return committed;
}

void TaskManager::Lose(const std::vector<TopicPartition>& partitions) {
  last_route_ = {};
  RemovePartitions(partitions);
}

void TaskManager::RemovePartitions(const std::vector<TopicPartition>& partitions) {
  for (const auto& tp : partitions) {
    auto it = routes_.find(tp);
    if (it == routes_.end()) continue;
    StreamTask* task = it->second;
    routes_.erase(it);
    if (task->RemovePartition(tp)) {
      ForgetRestore(task);
      task->Close();
      tasks_.erase(task->id());
    }
  }
  last_route_ = {};
}

void TaskManager::CloseAll() {
  StopRestore();
  restoring_.clear();
  for (auto& [id, task] : tasks_) task->Close();
  tasks_.clear();
  routes_.clear();
  last_route_ = {};
}

std::vector<TopicPartition> TaskManager::AssignedPartitions() const {
  std::vector<TopicPartition> partitions;
  partitions.reserve(routes_.size());
  for (const auto& [tp, task] : routes_) partitions.push_back(tp);
  return partitions;
}

absl::Status TaskManager::SeekToCommitted(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return absl::OkStatus();
  // The group coordinator may be moving (its broker died): NOT_COORDINATOR
  // and the like are Unavailable until the new one has loaded the group,
  // which takes a broker session timeout and more. Asked again for up to
  // about a minute; failing here would stop the thread, and with it the
  // instance (found by tests/system/chaos/run).
  auto committed = input_->Committed(partitions, absl::Seconds(30));
  for (absl::Duration backoff = absl::Milliseconds(100), waited = absl::ZeroDuration();
       absl::IsUnavailable(committed.status()) && waited < kCommittedPatience;
       waited += backoff, backoff = std::min(backoff * 2, absl::Seconds(2))) {
    Logger("runnel")->warn("reading committed offsets to rewind: {}; retrying", committed.status().ToString());
    absl::SleepFor(backoff);
    committed = input_->Committed(partitions, absl::Seconds(30));
  }
  if (!committed.ok()) return Annotate(committed.status(), "reading committed offsets to rewind");
  std::map<TopicPartition, Offset> positions(committed->begin(), committed->end());
  for (const auto& tp : partitions) {
    // No commit yet: back to the start, as auto.offset.reset=earliest does.
    auto it = positions.find(tp);
    Offset target = it != positions.end() ? it->second : Offset(-2);
    RUNNEL_RETURN_IF_ERROR(input_->Seek(tp, target, absl::Seconds(30)));
  }
  return absl::OkStatus();
}

absl::Status TaskManager::RewindToCommitted() {
  RUNNEL_RETURN_IF_ERROR(SeekToCommitted(AssignedPartitions()));
  for (auto& [id, task] : tasks_) task->ResetToCommitted();
  return absl::OkStatus();
}

StreamTask* TaskManager::TaskFor(std::string_view topic, Partition partition) {
  if (topic.data() == last_route_.topic && partition == last_route_.partition) return last_route_.task;
  auto it = routes_.find(TopicPartition{std::string(topic), partition});
  StreamTask* task = it == routes_.end() ? nullptr : it->second;
  last_route_ = {topic.data(), partition, task};
  return task;
}

StreamTask* TaskManager::Find(TaskId id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second.get();
}

absl::Status TaskManager::RestoreStep() {
  StreamTask* task = restoring_.front();
  if (restore_consumer_ == nullptr) {
    auto consumer = create_restore_consumer_();
    if (!consumer.ok()) return Annotate(consumer.status(), "creating the restore consumer");
    restore_consumer_ = *std::move(consumer);
  }
  if (!restore_started_) {
    RUNNEL_RETURN_IF_ERROR(task->BeginRestore(*restore_consumer_));
    restore_started_ = true;
  }
  auto done = task->RestoreSome(absl::Milliseconds(200));
  if (!done.ok()) return done.status();
  if (!*done) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(task->CompleteRestore());
  restoring_.pop_front();
  restore_started_ = false;
  task->set_restoring(false);
  return input_->Resume(task->partitions());
}

void TaskManager::ForgetRestore(StreamTask* task) {
  auto it = std::find(restoring_.begin(), restoring_.end(), task);
  if (it == restoring_.end()) return;
  if (it == restoring_.begin()) StopRestore();
  restoring_.erase(it);
}

void TaskManager::StopRestore() {
  if (!restore_started_) return;
  restore_started_ = false;
  if (restore_consumer_ == nullptr) return;
  absl::Status s = restore_consumer_->AssignAt({});
  if (!s.ok()) Logger("runnel")->warn("{}: stopping a restore: {}", name_, s.ToString());
}

absl::Status TaskManager::FlushStores() {
  for (auto& [id, task] : tasks_) {
    if (task->stateful() && !task->restoring()) RUNNEL_RETURN_IF_ERROR(task->FlushStores());
  }
  return absl::OkStatus();
}

absl::Status TaskManager::SentRecordsAcknowledged() {
  for (auto& [id, task] : tasks_) {
    if (!task->restoring()) RUNNEL_RETURN_IF_ERROR(task->SentRecordsAcknowledged());
  }
  return absl::OkStatus();
}

std::vector<std::pair<TopicPartition, Offset>> TaskManager::UncommittedOffsets() const {
  std::vector<std::pair<TopicPartition, Offset>> offsets;
  for (const auto& [id, task] : tasks_) {
    auto o = task->UncommittedOffsets();
    offsets.insert(offsets.end(), o.begin(), o.end());
  }
  return offsets;
}

void TaskManager::MarkCommitted(const std::vector<std::pair<TopicPartition, Offset>>& offsets) {
  for (auto& [id, task] : tasks_) task->MarkCommitted(offsets);
}

void TaskManager::WriteCheckpoints(const absl::flat_hash_map<TopicPartition, Offset>& delivered) {
  for (auto& [id, task] : tasks_) {
    // A restoring task's checkpoint is written when its restore completes.
    if (!task->stateful() || task->restoring()) continue;
    std::map<TopicPartition, Offset> ends;
    for (const auto& tp : task->ChangelogPartitions()) {
      if (auto it = delivered.find(tp); it != delivered.end()) ends[tp] = it->second;
    }
    // Nothing new: the last checkpoint still holds.
    if (ends.empty()) continue;
    absl::Status s = task->Checkpoint(ends);
    if (!s.ok()) Logger("runnel")->warn("{}: checkpoint of task {}: {}", name_, id.ToString(), s.ToString());
  }
}

absl::Status TaskManager::CommitStores(const absl::flat_hash_map<TopicPartition, Offset>& delivered) {
  for (auto& [id, task] : tasks_) {
    if (!task->stateful() || task->restoring()) continue;
    RUNNEL_RETURN_IF_ERROR(task->CommitStores(delivered));
  }
  return absl::OkStatus();
}

}  // namespace runnel
