#include "runnel/sink/internal/sink_worker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/dead_letter_headers.h"

namespace runnel::sink::internal {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(100);
constexpr absl::Duration kKafkaTimeout = absl::Seconds(30);

std::shared_ptr<spdlog::logger> Log() { return Logger("runnel.sink"); }

}  // namespace

SinkWorker::SinkWorker(PostgresSinkOptions options)
    : options_(std::move(options)),
      clock_(*options_.clock),
      writer_(options_.name, &options_.routes),
      batch_(options_.routes.size()),
      backoff_(options_.initial_backoff) {
  MetricsRegistry& m = *options_.metrics;
  const MetricLabels sink{{"sink", options_.name}};
  m.SetHelp("runnel_sink_records_total", "Rows the sink committed to PostgreSQL, by table and op (upsert|delete)");
  m.SetHelp("runnel_sink_batches_total", "PostgreSQL transactions the sink committed");
  m.SetHelp("runnel_sink_batch_latency_seconds", "One batch's write and commit in PostgreSQL");
  m.SetHelp("runnel_sink_e2e_latency_seconds", "Record timestamp to its PostgreSQL commit (wall clock)");
  m.SetHelp("runnel_sink_retries_total", "Failed PostgreSQL attempts the sink retried (server unavailable)");
  m.SetHelp("runnel_sink_errors_total",
            "Records sent to the sink's error policy, kind=mapper (could not map) or rejected (by PostgreSQL)");
  m.SetHelp("runnel_sink_dead_letter_records_total", "Records the sink wrote to its dead-letter topic");
  m.SetHelp("runnel_sink_lag_records", "End offset minus the next offset committed in PostgreSQL, per partition");
  m.SetHelp("runnel_sink_connected", "1 while the sink is connected to PostgreSQL, else 0");
  metrics_.batches = m.GetCounter("runnel_sink_batches_total", sink);
  metrics_.retries = m.GetCounter("runnel_sink_retries_total", sink);
  metrics_.mapper_errors = m.GetCounter("runnel_sink_errors_total", {{"sink", options_.name}, {"kind", "mapper"}});
  metrics_.rejected_errors =
      m.GetCounter("runnel_sink_errors_total", {{"sink", options_.name}, {"kind", "rejected"}});
  metrics_.dead_letters = m.GetCounter("runnel_sink_dead_letter_records_total", sink);
  metrics_.batch_latency = m.GetHistogram("runnel_sink_batch_latency_seconds", sink, ProcessLatencyBuckets());
  metrics_.e2e_latency = m.GetHistogram("runnel_sink_e2e_latency_seconds", sink, EndToEndLatencyBuckets());
  metrics_.connected = m.GetGauge("runnel_sink_connected", sink);
  for (size_t i = 0; i < options_.routes.size(); ++i) {
    const std::string& table = options_.routes[i].mapping.table;
    metrics_.upserts.push_back(
        m.GetCounter("runnel_sink_records_total", {{"sink", options_.name}, {"table", table}, {"op", "upsert"}}));
    metrics_.deletes.push_back(
        m.GetCounter("runnel_sink_records_total", {{"sink", options_.name}, {"table", table}, {"op", "delete"}}));
    route_of_topic_.emplace(options_.routes[i].topic, i);
  }
}

SinkWorker::~SinkWorker() { (void)Close(absl::Seconds(30)); }

absl::Status SinkWorker::Start() {
  absl::MutexLock lock(&mu_);
  if (state_ != State::kCreated) return absl::FailedPreconditionError("PostgresSink::Start: already started");
  state_ = State::kRunning;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status SinkWorker::Close(absl::Duration timeout) {
  close_deadline_nanos_ = absl::ToUnixNanos(clock_.Now() + timeout);
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  if (state_ == State::kFailed) return error_;
  state_ = State::kClosed;
  return close_status_;
}

PostgresSink::State SinkWorker::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Status SinkWorker::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

absl::Status SinkWorker::WaitCaughtUp(absl::Duration timeout) {
  const absl::Time deadline = clock_.Now() + timeout;
  // The end offsets as of now, from a consumer of our own (the worker's is
  // not thread-safe).
  kafka::ClientConfig config = options_.kafka;
  config["group.id"] = absl::StrCat(options_.name, "-wait");
  config["isolation.level"] = "read_committed";
  RUNNEL_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Create(options_.kafka, {.clock = &clock_}));
  RUNNEL_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(config, {.clock = &clock_}));
  std::map<TopicPartition, Offset> ends;
  for (const SinkRoute& route : options_.routes) {
    RUNNEL_ASSIGN_OR_RETURN(auto description, admin->DescribeTopic(route.topic, kKafkaTimeout));
    for (int32_t p = 0; p < description.partitions; ++p) {
      TopicPartition tp{route.topic, Partition(p)};
      RUNNEL_ASSIGN_OR_RETURN(auto marks, consumer->Watermarks(tp, kKafkaTimeout));
      if (marks.second.value() > 0) ends.emplace(tp, marks.second);
    }
  }
  (void)consumer->Close();
  std::vector<TopicPartition> partitions;
  for (const auto& [tp, end] : ends) partitions.push_back(tp);
  absl::Status last = absl::OkStatus();
  std::unique_ptr<PgConnection> conn;
  while (true) {
    if (state() == State::kFailed) return error();
    if (conn == nullptr || conn->IsBad()) {
      auto connected = ConnectPostgres(options_.conninfo);
      conn = connected.ok() ? *std::move(connected) : nullptr;
      if (!connected.ok()) last = connected.status();
    }
    if (conn != nullptr) {
      auto stored = writer_.ReadOffsets(*conn, partitions);
      if (stored.ok()) {
        bool caught_up = true;
        for (const auto& [tp, end] : ends) {
          auto it = stored->find(tp);
          if (it == stored->end() || it->second < end) caught_up = false;
        }
        if (caught_up) return absl::OkStatus();
        last = absl::OkStatus();
      } else {
        last = stored.status();
      }
    }
    if (clock_.Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("sink ", options_.name, " not caught up within ",
                                                      absl::FormatDuration(timeout),
                                                      last.ok() ? "" : absl::StrCat(": ", last.ToString())));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void SinkWorker::Run() {
  absl::Status s = Loop();
  if (!s.ok()) {
    Log()->error("sink {}: failed: {}", options_.name, s.ToString());
    absl::MutexLock lock(&mu_);
    state_ = State::kFailed;
    error_ = s;
  }
  if (consumer_ != nullptr) {
    if (absl::Status closed = consumer_->Close(); !closed.ok()) {
      Log()->warn("sink {}: closing the consumer: {}", options_.name, closed.ToString());
    }
  }
  metrics_.connected->Set(0);
  conn_.reset();
}

absl::Status SinkWorker::CreateClients() {
  kafka::ClientConfig config = options_.kafka;
  config["group.id"] = options_.name;
  config["isolation.level"] = "read_committed";
  config["enable.auto.commit"] = "false";
  config["enable.partition.eof"] = "true";
  RUNNEL_ASSIGN_OR_RETURN(consumer_, kafka::Consumer::Create(config, {.listener = this, .clock = &clock_}));
  if (options_.on_error == SinkErrorPolicy::kDeadLetter) {
    kafka::ClientConfig producer = options_.kafka;
    producer["enable.idempotence"] = "true";
    RUNNEL_ASSIGN_OR_RETURN(dead_letter_, kafka::Producer::Create(producer, {.clock = &clock_}));
  }
  std::vector<std::string> topics;
  for (const SinkRoute& route : options_.routes) topics.push_back(route.topic);
  return consumer_->Subscribe(topics);
}

absl::Status SinkWorker::Loop() {
  RUNNEL_RETURN_IF_ERROR(CreateClients());
  while (!stop_) {
    RUNNEL_RETURN_IF_ERROR(PollOnce());
    if (clock_.Now() < retry_at_) continue;
    absl::Status s = Step();
    if (absl::IsUnavailable(s)) {
      ScheduleRetry(s);
    } else if (absl::IsAborted(s)) {
      Fenced(s);
    } else if (!s.ok()) {
      return s;
    }
  }
  // Close: write what is held, retrying until the close deadline.
  const absl::Time deadline = absl::FromUnixNanos(close_deadline_nanos_);
  while (!batch_.empty()) {
    absl::Status s = Flush();
    if (s.ok()) break;
    if (!absl::IsUnavailable(s) || clock_.Now() + backoff_ >= deadline) {
      absl::MutexLock lock(&mu_);
      close_status_ = absl::Status(
          absl::IsUnavailable(s) ? absl::StatusCode::kDeadlineExceeded : s.code(),
          absl::StrCat("sink ", options_.name, ": ", batch_.record_count(),
                       " records not written at close (they stay uncommitted and are read again): ",
                       s.message()));
      Log()->warn("{}", close_status_.ToString());
      return absl::IsUnavailable(s) ? absl::OkStatus() : s;
    }
    ScheduleRetry(s);
    absl::SleepFor(retry_at_ - clock_.Now());
  }
  return absl::OkStatus();
}

bool SinkWorker::Accepting(const TopicPartition& tp) const {
  return !paused_ && !unpositioned_.contains(tp) && !rewind_.contains(tp) && assigned_.contains(tp) &&
         batch_.record_count() < options_.max_batch_records;
}

absl::Status SinkWorker::PollOnce() {
  absl::Duration timeout = kPollInterval;
  if (!batch_.empty()) {
    timeout = std::clamp(batch_started_ + options_.max_batch_delay - clock_.Now(), absl::ZeroDuration(),
                         kPollInterval);
  }
  if (clock_.Now() < retry_at_) timeout = std::min(timeout, retry_at_ - clock_.Now());
  const size_t room = options_.max_batch_records - std::min(options_.max_batch_records, batch_.record_count());
  std::vector<kafka::ConsumedRecord> records;
  std::vector<std::pair<TopicPartition, Offset>> eof;
  RUNNEL_RETURN_IF_ERROR(consumer_->Poll(timeout, std::max<size_t>(room, 1), records, &eof));
  if (!rebalance_error_.ok()) return std::exchange(rebalance_error_, absl::OkStatus());
  for (kafka::ConsumedRecord& record : records) {
    TopicPartition tp{std::string(record.topic()), record.partition()};
    if (unpositioned_.contains(tp) || !assigned_.contains(tp)) continue;  // a seek follows
    if (!Accepting(tp)) {
      auto [it, inserted] = rewind_.try_emplace(tp, record.offset());
      if (!inserted) it->second = std::min(it->second, record.offset());
      continue;
    }
    RUNNEL_RETURN_IF_ERROR(TakeRecord(std::move(record)));
  }
  for (const auto& [tp, position] : eof) {
    if (!Accepting(tp) || position.value() < 0) continue;
    auto it = committed_.find(tp);
    if (it == committed_.end() ? position.value() > 0 : it->second < position) {
      if (batch_.empty()) batch_started_ = clock_.Now();
      batch_.Advance(tp, position);
    }
    UpdateLag(tp);
  }
  return absl::OkStatus();
}

std::string SinkWorker::Where(const kafka::ConsumedRecord& record) const {
  return absl::StrCat("record ", ToAbsl(record.topic()), "-", record.partition().value(), "@",
                      record.offset().value());
}

absl::Status SinkWorker::TakeRecord(kafka::ConsumedRecord record) {
  if (batch_.empty()) batch_started_ = clock_.Now();
  const size_t route = route_of_topic_.find(record.topic())->second;
  const size_t index = batch_.AddRecord(std::move(record));
  const kafka::ConsumedRecord& stored = batch_.records()[index];
  absl::StatusOr<Row> row = options_.routes[route].mapper(stored);
  absl::Status valid = row.ok() ? ValidateRow(options_.routes[route].mapping, *row) : row.status();
  if (valid.ok()) {
    batch_.AddRow(route, index, *std::move(row));
    return absl::OkStatus();
  }
  FailedRecord failure{route, index, valid, "mapper"};
  RUNNEL_RETURN_IF_ERROR(FailurePolicy(failure));
  batch_.AddFailure(std::move(failure));
  return absl::OkStatus();
}

absl::Status SinkWorker::FailurePolicy(const FailedRecord& f) {
  (f.kind == "mapper" ? metrics_.mapper_errors : metrics_.rejected_errors)->Increment();
  const kafka::ConsumedRecord& record = batch_.records()[f.record];
  const std::string what =
      absl::StrCat("sink ", options_.name, ", table ", options_.routes[f.route].mapping.table, ": ",
                   f.kind == "mapper" ? "cannot map " : "PostgreSQL rejected the row of ", Where(record), ": ",
                   f.error.message());
  if (options_.on_error == SinkErrorPolicy::kFail) {
    return absl::Status(f.error.code() == absl::StatusCode::kOk ? absl::StatusCode::kInvalidArgument
                                                                 : f.error.code(),
                        absl::StrCat(what, " (on_error=fail)"));
  }
  Log()->warn("{}; sent to {}", what, options_.dead_letter_topic);
  return absl::OkStatus();
}

bool SinkWorker::FlushDue() const {
  if (batch_.empty()) return false;
  return batch_.record_count() >= options_.max_batch_records ||
         clock_.Now() - batch_started_ >= options_.max_batch_delay || !rewind_.empty();
}

absl::Status SinkWorker::Step() {
  if (!unpositioned_.empty()) RUNNEL_RETURN_IF_ERROR(PositionPartitions());
  if (FlushDue()) RUNNEL_RETURN_IF_ERROR(Flush());
  if (paused_ || !rewind_.empty()) RUNNEL_RETURN_IF_ERROR(Recovered());
  return absl::OkStatus();
}

absl::Status SinkWorker::EnsureConnected() {
  if (conn_ != nullptr && !conn_->IsBad()) return absl::OkStatus();
  conn_.reset();
  metrics_.connected->Set(0);
  RUNNEL_ASSIGN_OR_RETURN(auto conn, ConnectPostgres(options_.conninfo));
  RUNNEL_RETURN_IF_ERROR(writer_.CreateTables(*conn, options_.create_tables));
  conn_ = std::move(conn);
  metrics_.connected->Set(1);
  Log()->info("sink {}: connected to PostgreSQL", options_.name);
  return absl::OkStatus();
}

absl::Status SinkWorker::PositionPartitions() {
  RUNNEL_RETURN_IF_ERROR(EnsureConnected());
  std::vector<TopicPartition> partitions(unpositioned_.begin(), unpositioned_.end());
  RUNNEL_ASSIGN_OR_RETURN(auto stored, writer_.ReadOffsets(*conn_, partitions));
  std::vector<TopicPartition> from_kafka;
  for (const auto& tp : partitions) {
    if (!stored.contains(tp)) from_kafka.push_back(tp);
  }
  std::map<TopicPartition, Offset> kafka_committed;
  if (!from_kafka.empty()) {
    RUNNEL_ASSIGN_OR_RETURN(auto committed, consumer_->Committed(from_kafka, kKafkaTimeout));
    kafka_committed.insert(committed.begin(), committed.end());
  }
  for (const auto& tp : partitions) {
    Offset target(-2);  // the beginning
    if (auto it = stored.find(tp); it != stored.end()) {
      target = it->second;
      committed_[tp] = it->second;
    } else if (auto k = kafka_committed.find(tp); k != kafka_committed.end()) {
      target = k->second;
    }
    RUNNEL_RETURN_IF_ERROR(consumer_->Seek(tp, target, kKafkaTimeout));
    unpositioned_.erase(tp);
    rewind_.erase(tp);
    Log()->info("sink {}: {} resumes at offset {} ({})", options_.name, tp.ToString(), target.value(),
                stored.contains(tp) ? "PostgreSQL" : kafka_committed.contains(tp) ? "Kafka commit" : "earliest");
    if (!paused_) RUNNEL_RETURN_IF_ERROR(consumer_->Resume({tp}));
  }
  return absl::OkStatus();
}

absl::Status SinkWorker::Flush() {
  const absl::Time start = clock_.Now();
  absl::Status s = WriteBatch();
  if (!s.ok()) {
    if (conn_ != nullptr) conn_->Rollback();
    return s;
  }
  const absl::Time end = clock_.Now();
  metrics_.batches->Increment();
  metrics_.batch_latency->Observe(absl::ToDoubleSeconds(end - start));
  for (size_t r = 0; r < batch_.routes(); ++r) {
    int64_t upserts = 0;
    for (const BatchOp& op : batch_.ops(r)) upserts += op.row.is_delete ? 0 : 1;
    metrics_.upserts[r]->Increment(upserts);
    metrics_.deletes[r]->Increment(static_cast<int64_t>(batch_.ops(r).size()) - upserts);
  }
  const int64_t now_ms = absl::ToUnixMillis(end);
  for (const auto& record : batch_.records()) {
    metrics_.e2e_latency->Observe(std::max<double>(0, (now_ms - record.timestamp().value()) / 1000.0));
  }
  std::vector<std::pair<TopicPartition, Offset>> offsets;
  for (const auto& [tp, next] : batch_.next_offsets()) {
    committed_[tp] = next;
    offsets.emplace_back(tp, next);
    UpdateLag(tp);
  }
  // For lag tools only: PostgreSQL's offsets are the ones the sink resumes from.
  if (absl::Status k = consumer_->Commit(offsets); !k.ok()) {
    Log()->debug("sink {}: Kafka offset commit (for lag tools) failed: {}", options_.name, k.ToString());
  }
  batch_.Clear();
  dead_lettered_ = false;
  return absl::OkStatus();
}

absl::Status SinkWorker::WriteBatch() {
  RUNNEL_RETURN_IF_ERROR(EnsureConnected());
  RUNNEL_RETURN_IF_ERROR(conn_->Begin());
  absl::Status rows = writer_.WriteRows(*conn_, batch_);
  std::vector<FailedRecord> failures = batch_.failures();
  if (absl::IsInvalidArgument(rows)) {
    // Some row's data was rejected: redo the batch row by row to find it
    // and still write the others.
    conn_->Rollback();
    RUNNEL_RETURN_IF_ERROR(conn_->Begin());
    RUNNEL_ASSIGN_OR_RETURN(auto rejected, writer_.WriteRowByRow(*conn_, batch_));
    for (const FailedRecord& f : rejected) {
      if (!dead_lettered_) RUNNEL_RETURN_IF_ERROR(FailurePolicy(f));
      failures.push_back(f);
    }
  } else {
    RUNNEL_RETURN_IF_ERROR(rows);
  }
  if (!failures.empty() && !dead_lettered_) {
    // Before the offsets move past them: written to the dead-letter topic
    // or the batch is retried.
    RUNNEL_RETURN_IF_ERROR(SendToDeadLetter(failures));
    dead_lettered_ = true;
  }
  RUNNEL_RETURN_IF_ERROR(writer_.WriteOffsets(*conn_, batch_.next_offsets(), committed_));
  return conn_->Commit();
}

absl::Status SinkWorker::SendToDeadLetter(const std::vector<FailedRecord>& failures) {
  for (const FailedRecord& f : failures) {
    const kafka::ConsumedRecord& record = batch_.records()[f.record];
    const Headers headers = kafka::DeadLetterHeaders(
        record.headers(), {.topic = std::string(record.topic()),
                           .partition = record.partition().value(),
                           .offset = record.offset().value(),
                           .timestamp_ms = record.timestamp().value(),
                           .part = f.kind == "mapper" ? "mapping" : "row",
                           .code = absl::StatusCodeToString(f.error.code()),
                           .message = std::string(f.error.message()),
                           .application_id = options_.name,
                           .node = options_.routes[f.route].mapping.table});
    absl::Status s = dead_letter_->Send({.topic = options_.dead_letter_topic,
                                         .key = record.key(),
                                         .value = record.value(),
                                         .timestamp = record.timestamp(),
                                         .headers = &headers});
    if (!s.ok()) return absl::UnavailableError(absl::StrCat("writing to the dead-letter topic: ", s.message()));
  }
  if (absl::Status s = dead_letter_->Flush(kKafkaTimeout); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("flushing the dead-letter topic: ", s.message()));
  }
  metrics_.dead_letters->Increment(static_cast<int64_t>(failures.size()));
  return absl::OkStatus();
}

void SinkWorker::ScheduleRetry(const absl::Status& error) {
  metrics_.retries->Increment();
  if (conn_ != nullptr && conn_->IsBad()) {
    conn_.reset();
    metrics_.connected->Set(0);
  }
  Log()->warn("sink {}: PostgreSQL unavailable, {} records held, retrying in {}: {}", options_.name,
              batch_.record_count(), absl::FormatDuration(backoff_), error.ToString());
  if (!paused_ && !assigned_.empty()) {
    std::vector<TopicPartition> partitions(assigned_.begin(), assigned_.end());
    if (absl::Status s = consumer_->Pause(partitions); !s.ok()) {
      Log()->warn("sink {}: pausing the consumer: {}", options_.name, s.ToString());
    }
  }
  paused_ = true;
  retry_at_ = clock_.Now() + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
}

absl::Status SinkWorker::Recovered() {
  if (paused_) Log()->info("sink {}: PostgreSQL answers again; resuming", options_.name);
  backoff_ = options_.initial_backoff;
  retry_at_ = absl::InfinitePast();
  for (const auto& [tp, offset] : rewind_) {
    RUNNEL_RETURN_IF_ERROR(consumer_->Seek(tp, offset, kKafkaTimeout));
  }
  rewind_.clear();
  if (paused_) {
    paused_ = false;
    std::vector<TopicPartition> positioned;
    for (const auto& tp : assigned_) {
      if (!unpositioned_.contains(tp)) positioned.push_back(tp);
    }
    RUNNEL_RETURN_IF_ERROR(consumer_->Resume(positioned));
  }
  return absl::OkStatus();
}

void SinkWorker::Fenced(const absl::Status& error) {
  Log()->warn("sink {}: {}; dropping the batch ({} records) and re-reading the offsets", options_.name,
              error.ToString(), batch_.record_count());
  batch_.Clear();
  dead_lettered_ = false;
  rewind_.clear();
  committed_.clear();
  unpositioned_ = assigned_;
  std::vector<TopicPartition> partitions(assigned_.begin(), assigned_.end());
  if (absl::Status s = consumer_->Pause(partitions); !s.ok()) rebalance_error_ = s;
}

void SinkWorker::UpdateLag(const TopicPartition& tp) {
  std::optional<Offset> end = consumer_->CachedHighWatermark(tp);
  if (!end) return;
  auto it = committed_.find(tp);
  const int64_t lag = end->value() - (it == committed_.end() ? 0 : it->second.value());
  options_.metrics
      ->GetGauge("runnel_sink_lag_records",
                 {{"sink", options_.name}, {"topic", tp.topic}, {"partition", absl::StrCat(tp.partition.value())}})
      ->Set(std::max<int64_t>(0, lag));
}

void SinkWorker::Forget(const std::vector<TopicPartition>& partitions) {
  for (const auto& tp : partitions) {
    batch_.DropPartition(tp);
    assigned_.erase(tp);
    unpositioned_.erase(tp);
    committed_.erase(tp);
    rewind_.erase(tp);
  }
}

void SinkWorker::OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) {
  // Write what the batch holds while the partitions are still ours; if
  // PostgreSQL cannot take it now, the new owner reads it again.
  if (!batch_.empty() && clock_.Now() >= retry_at_) {
    absl::Status s = Flush();
    if (!s.ok() && !absl::IsUnavailable(s) && !absl::IsAborted(s)) rebalance_error_ = s;
    if (!s.ok()) {
      Log()->warn("sink {}: could not write the batch before a rebalance ({}); the next owner reads it again",
                  options_.name, s.ToString());
    }
  }
  Forget(partitions);
  if (!batch_.empty()) {
    // Cooperative: what stays assigned is read again from its offset.
    for (const auto& tp : assigned_) unpositioned_.insert(tp);
    batch_.Clear();
  }
}

void SinkWorker::OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) {
  Log()->info("sink {}: {} partitions assigned", options_.name, partitions.size());
  for (const auto& tp : partitions) {
    assigned_.insert(tp);
    unpositioned_.insert(tp);
  }
  // Paused until sought to the offset PostgreSQL holds (read on the loop,
  // with retries, not in this callback).
  if (absl::Status s = consumer_->Pause(partitions); !s.ok()) rebalance_error_ = s;
}

void SinkWorker::OnPartitionsLost(const std::vector<TopicPartition>& partitions) {
  Log()->warn("sink {}: {} partitions lost", options_.name, partitions.size());
  Forget(partitions);
}

}  // namespace runnel::sink::internal
