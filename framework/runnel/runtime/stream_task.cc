#include "runnel/runtime/stream_task.h"

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/common/check.h"
#include "runnel/common/logging.h"
#include "runnel/processor/processing_error.h"
#include "runnel/runtime/internal/raw_record.h"

namespace runnel {

StreamTask::StreamTask(TaskId id, std::string application_id, std::unique_ptr<ProcessorGraph> graph,
                       RecordSink* sink, DeserializationErrorHandler* handler,
                       ProcessingErrorHandler* processing_handler, const Clock& clock,
                       const std::map<std::string, StoreSpec>* specs, std::set<std::string> stores,
                       StateEnv state)
    : id_(id),
      application_id_(std::move(application_id)),
      graph_(std::move(graph)),
      processing_handler_(processing_handler),
      clock_(clock),
      metrics_(state.metrics),
      exactly_once_(state.exactly_once),
      specs_(specs),
      store_names_(std::move(stores)),
      stores_(id, std::move(state), [this] { return current_ != nullptr ? current_timestamp_ : stream_time_; }),
      sink_(sink),
      labels_{{"task", id.ToString()}},
      processed_metric_(metrics().GetCounter("runnel_task_records_processed_total", labels_)),
      process_latency_(metrics().GetHistogram("runnel_process_latency_seconds", labels_, ProcessLatencyBuckets())),
      e2e_latency_(metrics().GetHistogram("runnel_record_e2e_latency_seconds", labels_, EndToEndLatencyBuckets())) {
  env_.task = this;
  env_.sink = sink != nullptr ? &measured_sink_ : nullptr;
  env_.deserialization_handler = handler;
  int i = 0;
  for (const char* state : {"created", "restoring", "running"}) {
    state_gauges_[i++] = metrics().GetGauge("runnel_tasks", {{"state", state}});
  }
  UpdateStateGauge();
}

StreamTask::~StreamTask() { Close(); }

void StreamTask::UpdateStateGauge() {
  TaskState now = TaskState::kCreated;
  if (closed_) {
    now = TaskState::kClosed;
  } else if (restoring_) {
    now = TaskState::kRestoring;
  } else if (initialized_) {
    now = TaskState::kRunning;
  }
  if (now == task_state_) return;
  if (task_state_ != TaskState::kClosed) state_gauges_[static_cast<int>(task_state_)]->Add(-1);
  if (now != TaskState::kClosed) state_gauges_[static_cast<int>(now)]->Add(1);
  task_state_ = now;
}

void StreamTask::set_restoring(bool restoring) {
  restoring_ = restoring;
  UpdateStateGauge();
}

absl::Status StreamTask::MeasuredSink::Send(const SerializedRecord& record) {
  if (last_produced_ == nullptr || record.topic != last_topic_) {
    auto it = produced_.find(ToAbsl(record.topic));
    if (it == produced_.end()) {
      MetricLabels labels = task_->labels_;
      labels["topic"] = std::string(record.topic);
      Counter* counter = task_->metrics().GetCounter("runnel_task_records_produced_total", labels);
      it = produced_.emplace(std::string(record.topic), counter).first;
    }
    last_topic_ = it->first;
    last_produced_ = it->second;
  }
  RUNNEL_RETURN_IF_ERROR(task_->sink_->Send(record));
  last_produced_->Increment();
  const int64_t latency_ms = absl::ToUnixMillis(task_->processing_started_) - record.timestamp.value();
  task_->e2e_latency_->Observe(latency_ms > 0 ? static_cast<double>(latency_ms) / 1000.0 : 0.0);
  return absl::OkStatus();
}

absl::Status StreamTask::Init() {
  if (!store_names_.empty()) {
    RUNNEL_CHECK(specs_ != nullptr) << "task " << id_.ToString() << " has stores but no specs";
    absl::Status opened = stores_.Open(*specs_, store_names_);
    if (!opened.ok()) return Annotate(opened, absl::StrCat("task ", id_.ToString(), " opening stores"));
    // Processors start on restored stores (CompleteRestore): a restore may
    // still wipe and reopen a store, and what a processor reads at init
    // (a window store's stream time) must be the restored state's.
    if (!stores_.empty()) return absl::OkStatus();
  }
  return InitProcessors();
}

absl::Status StreamTask::CompleteRestore() {
  if (initialized_) return absl::OkStatus();
  return InitProcessors();
}

absl::Status StreamTask::InitProcessors() {
  acknowledged_listeners_.clear();
  absl::Status s = graph_->Init(env_);
  if (!s.ok()) return Annotate(s, absl::StrCat("task ", id_.ToString()));
  initialized_ = true;
  UpdateStateGauge();
  return absl::OkStatus();
}

void StreamTask::Close() {
  if (initialized_) {
    initialized_ = false;
    graph_->Close();
  }
  acknowledged_listeners_.clear();
  stores_.Close();
  closed_ = true;
  UpdateStateGauge();
}

bool StreamTask::OnSentRecordsAcknowledged(std::function<absl::Status()> listener) {
  if (exactly_once_ || sink_ == nullptr) return false;
  acknowledged_listeners_.push_back(std::move(listener));
  return true;
}

absl::Status StreamTask::SentRecordsAcknowledged() {
  if (!initialized_) return absl::OkStatus();
  for (const auto& listener : acknowledged_listeners_) {
    absl::Status s = listener();
    if (!s.ok()) return Annotate(s, absl::StrCat("task ", id_.ToString(), ": writing progress markers"));
  }
  return absl::OkStatus();
}

StreamTask::PartitionState* StreamTask::Find(const TopicPartition& tp) {
  for (auto& s : states_) {
    if (s->tp == tp) return s.get();
  }
  return nullptr;
}

void StreamTask::AddPartition(const TopicPartition& tp) {
  if (Find(tp) != nullptr) return;
  auto state = std::make_unique<PartitionState>();
  state->tp = tp;
  state->source = graph_->SourceFor(tp.topic);
  state->consumed =
      metrics().GetCounter("runnel_task_records_consumed_total", {{"task", id_.ToString()}, {"topic", tp.topic}});
  RUNNEL_CHECK(state->source != nullptr) << "task " << id_.ToString() << " has no source for " << tp.topic;
  states_.push_back(std::move(state));
  partitions_.push_back(tp);
}

bool StreamTask::RemovePartition(const TopicPartition& tp) {
  auto it = std::find_if(states_.begin(), states_.end(), [&](const auto& s) { return s->tp == tp; });
  if (it != states_.end()) {
    (*it)->consumed->Increment((*it)->consumed_pending);
    queued_ -= (*it)->queue.size();
    states_.erase(it);
  }
  partitions_.erase(std::remove(partitions_.begin(), partitions_.end(), tp), partitions_.end());
  return partitions_.empty();
}

void StreamTask::AddRecord(kafka::ConsumedRecord record) {
  // The thread routes by partition; a record of a partition this task does
  // not hold is a routing bug.
  for (auto& s : states_) {
    if (s->tp.partition == record.partition() && s->tp.topic == record.topic()) {
      s->received = Offset(record.offset().value() + 1);
      s->at_end = false;
      s->queue.push_back(std::move(record));
      ++s->consumed_pending;
      ++queued_;
      return;
    }
  }
  RUNNEL_CHECK(false) << "record of " << record.topic() << "-" << record.partition().value()
                      << " routed to task " << id_.ToString();
}

void StreamTask::MarkEndOfPartition(const TopicPartition& tp, Offset end) {
  PartitionState* s = Find(tp);
  if (s != nullptr && (!s->received || end >= *s->received)) {
    s->at_end = true;
    s->reported_end = end;
  }
}

bool StreamTask::MayProcess() {
  if (states_.size() < 2 || max_idle_ms_ < 0) return true;
  const absl::Time now = clock_.Now();
  for (auto& s : states_) {
    if (!s->queue.empty()) {
      s->empty_since.reset();
      continue;
    }
    // Records of this partition are (or may be) on the broker still: taking
    // another partition's record first could put a later timestamp before
    // an earlier one (a join's side running ahead, its partner then late).
    if (!s->at_end) return false;
    if (max_idle_ms_ > 0) {
      if (!s->empty_since) s->empty_since = now;
      if (now - *s->empty_since < absl::Milliseconds(max_idle_ms_)) return false;
    }
  }
  return true;
}

absl::Status StreamTask::Process() {
  for (auto& s : states_) {
    if (s->consumed_pending == 0) continue;
    s->consumed->Increment(s->consumed_pending);
    s->consumed_pending = 0;
  }
  if (queued_ == 0) return absl::OkStatus();
  const int64_t processed_before = processed_count_;
  absl::Cleanup count_processed = [&] { processed_metric_->Increment(processed_count_ - processed_before); };
  absl::Time started = clock_.Now();
  while (queued_ > 0) {
    if (!MayProcess()) break;
    PartitionState* next = nullptr;
    if (states_.size() == 1) {
      next = states_[0].get();
    } else {
      for (auto& s : states_) {
        if (s->queue.empty()) continue;
        if (next == nullptr || s->queue.front().timestamp() < next->queue.front().timestamp()) {
          next = s.get();
        }
      }
    }
    const kafka::ConsumedRecord& record = next->queue.front();
    const RawRecord raw = runtime::internal::ToRawRecord(record);
    current_metadata_.topic.assign(raw.topic);
    current_metadata_.partition = raw.partition;
    current_metadata_.offset = raw.offset;
    current_ = &current_metadata_;
    current_timestamp_ = raw.timestamp;
    processing_started_ = started;
    if (raw.timestamp > stream_time_) stream_time_ = raw.timestamp;
    absl::Status s = next->source->ProcessRaw(raw);
    current_ = nullptr;
    if (!s.ok() && IsProcessingError(s) && processing_handler_ != nullptr) {
      s = processing_handler_->Handle(&raw, s, ProcessingErrorNode(s));
    }
    if (!s.ok()) {
      return Annotate(s, absl::StrCat("task ", id_.ToString(), " at ", next->tp.ToString(), "@",
                                      raw.offset.value()));
    }
    next->processed = Offset(raw.offset.value() + 1);
    if (!punctuation_.empty()) {
      absl::Status p = punctuation_.Fire(PunctuationType::kStreamTime, stream_time_,
                                         [this](absl::Status e) { return HandlePunctuationError(std::move(e)); });
      if (!p.ok()) return Annotate(p, absl::StrCat("task ", id_.ToString(), " stream-time punctuation"));
    }
    next->queue.pop_front();
    --queued_;
    ++processed_count_;
    // The next record's processing starts where this one's ends: one clock
    // read per record.
    const absl::Time finished = clock_.Now();
    process_latency_->Observe(absl::ToDoubleSeconds(finished - started));
    started = finished;
  }
  return absl::OkStatus();
}

std::vector<std::pair<TopicPartition, Offset>> StreamTask::UncommittedOffsets() const {
  std::vector<std::pair<TopicPartition, Offset>> out;
  for (const auto& s : states_) {
    if (s->processed && (!s->committed || *s->committed < *s->processed)) {
      out.emplace_back(s->tp, *s->processed);
    }
  }
  return out;
}

void StreamTask::AppendPositions(std::vector<std::pair<TopicPartition, Offset>>& out) const {
  for (const auto& s : states_) {
    if (!s->queue.empty()) {
      out.emplace_back(s->tp, s->queue.front().offset());
    } else if (s->processed || s->reported_end) {
      out.emplace_back(s->tp, std::max(s->processed.value_or(Offset(0)), s->reported_end.value_or(Offset(0))));
    }
  }
}

void StreamTask::MarkCommitted(const std::vector<std::pair<TopicPartition, Offset>>& offsets) {
  std::vector<std::pair<TopicPartition, Offset>> mine;
  for (const auto& [tp, offset] : offsets) {
    if (PartitionState* s = Find(tp)) {
      s->committed = offset;
      mine.emplace_back(tp, offset);
    }
  }
  if (!mine.empty()) stores_.SetInputPositions(mine);
}

void StreamTask::ResetToCommitted() {
  for (auto& s : states_) {
    queued_ -= s->queue.size();
    s->queue.clear();
    s->processed = s->committed;
    s->reported_end.reset();
  }
}

Cancellable StreamTask::Schedule(absl::Duration interval, PunctuationType type, Punctuator punctuator) {
  const Timestamp now = type == PunctuationType::kStreamTime ? stream_time_ : clock_.NowMillis();
  return punctuation_.Add(type, interval, std::move(punctuator), now);
}

absl::Status StreamTask::PunctuateWallClock() {
  if (punctuation_.empty()) return absl::OkStatus();
  processing_started_ = clock_.Now();
  return Annotate(punctuation_.Fire(PunctuationType::kWallClockTime, Timestamp(absl::ToUnixMillis(processing_started_)),
                                    [this](absl::Status e) { return HandlePunctuationError(std::move(e)); }),
                  absl::StrCat("task ", id_.ToString(), " wall-clock punctuation"));
}

absl::Status StreamTask::HandlePunctuationError(absl::Status error) {
  if (!IsProcessingError(error) || processing_handler_ == nullptr) return error;
  return processing_handler_->Handle(nullptr, error, ProcessingErrorNode(error));
}

bool StreamTask::TakeCommitRequest() {
  bool requested = commit_requested_;
  commit_requested_ = false;
  return requested;
}

}  // namespace runnel
