#include "replay.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "csv.h"
#include "progress.h"
#include "retention.h"
#include "runnel/common/status.h"
#include "runnel/http/json.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"

namespace runnel::replay {
namespace {

constexpr absl::Duration kAdminTimeout = absl::Seconds(30);
constexpr absl::Duration kFlushTimeout = absl::Minutes(5);
constexpr int kBadRowsShown = 20;

// One data row: its line, and its record or why it is malformed (`reason`
// is the kind counted in the summary, `status` the detail).
struct Row {
  const CsvRow& csv;
  absl::StatusOr<MappedRecord> record;
  std::string reason;
};

std::string ReasonOf(const CsvRow& csv, const RowMapper& mapper, const ColumnRoles& roles) {
  if (!csv.error.empty()) return "malformed CSV quoting";
  if (csv.fields.size() != mapper.header().size()) return "wrong column count";
  if (!roles.key_column.empty() && csv.fields[*mapper.ColumnIndex(roles.key_column)].empty()) {
    return "empty key";
  }
  return "unparsable time";
}

// Reads `path`'s header row, then hands every data row to `visit` (which
// returns false to stop early).
absl::Status ForEachRow(const std::string& path, const ColumnRoles& roles,
                        const std::function<bool(const RowMapper&, const Row&)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open CSV file ", path));
  CsvReader reader(in);
  CsvRow row;
  auto more = reader.Next(row);
  if (!more.ok()) return more.status();
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, a header row is required"));
  if (!row.error.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": header row: ", row.error));
  auto mapper = RowMapper::Create(row.fields, roles);
  if (!mapper.ok()) return mapper.status();
  while (true) {
    more = reader.Next(row);
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    Row r{.csv = row,
          .record = row.error.empty() ? mapper->Map(row.fields)
                                      : absl::StatusOr<MappedRecord>(absl::InvalidArgumentError(row.error))};
    if (!r.record.ok()) r.reason = ReasonOf(row, *mapper, roles);
    if (!visit(*mapper, r)) return absl::OkStatus();
  }
}

// The first pass: counts, bad rows, the time span, and the plot's points.
struct Scan {
  int64_t rows = 0;
  int64_t bytes = 0;
  std::map<std::string, int64_t> bad;  // reason -> rows
  std::optional<std::pair<int64_t, std::string>> first_bad;  // line, detail
  std::optional<int64_t> oldest_ms, newest_ms;
  PlotData plot;
};

absl::StatusOr<Scan> ScanCsv(const CsvOptions& o, const ReplayEnv& env) {
  Scan scan;
  std::optional<size_t> plot_column;
  absl::Status plot_error;
  int64_t shown = 0;
  absl::Status s = ForEachRow(o.file, o.roles, [&](const RowMapper& mapper, const Row& row) {
    ++scan.rows;
    if (!row.record.ok()) {
      ++scan.bad[row.reason];
      const std::string detail(row.record.status().message());
      if (!scan.first_bad) scan.first_bad = {row.csv.line, detail};
      if (o.fail_on_error) return false;
      if (shown++ < kBadRowsShown) {
        std::fprintf(env.err, "%s:%lld: %s (skipped)\n", o.file.c_str(), static_cast<long long>(row.csv.line),
                     detail.c_str());
      }
      return true;
    }
    const MappedRecord& r = *row.record;
    scan.bytes += static_cast<int64_t>(r.value.size() + (r.key ? r.key->size() : 0));
    if (r.timestamp_ms) {
      scan.oldest_ms = std::min(scan.oldest_ms.value_or(*r.timestamp_ms), *r.timestamp_ms);
      scan.newest_ms = std::max(scan.newest_ms.value_or(*r.timestamp_ms), *r.timestamp_ms);
    }
    if (!o.plot_path.empty()) {
      if (!plot_column) plot_column = mapper.ColumnIndex(o.plot_field);
      double v = 0;
      if (plot_column && r.timestamp_ms && absl::SimpleAtod(row.csv.fields[*plot_column], &v)) {
        scan.plot.series[r.key.value_or(o.topic.empty() ? "all rows" : o.topic)].push_back({*r.timestamp_ms, v});
      }
    }
    return true;
  });
  if (!s.ok()) return s;
  if (shown > kBadRowsShown) {
    std::fprintf(env.err, "... and %lld more malformed rows (skipped)\n",
                 static_cast<long long>(shown - kBadRowsShown));
  }
  return scan;
}

// Creates the topic or checks the existing one's retention; prints what it
// decided.
absl::Status PrepareTopic(const CsvOptions& o, const Scan& scan, const ReplayEnv& env) {
  RUNNEL_ASSIGN_OR_RETURN(const kafka::ClientConfig connection, kafka::ToolConnection(o.bootstrap, o.command_config));
  auto admin = kafka::Admin::Create(connection, {.clock = &env.clock});
  if (!admin.ok()) return admin.status();
  RetentionInput input{.topic = o.topic, .oldest_ms = scan.oldest_ms, .now_ms = env.clock.NowMillis().value(),
                       .bytes = scan.bytes};
  auto description = (*admin)->DescribeTopic(o.topic, kAdminTimeout);
  if (description.ok()) {
    auto configs = (*admin)->DescribeTopicConfigs(o.topic, kAdminTimeout);
    if (!configs.ok()) return configs.status();
    input.existing_configs = *configs;
    if (o.create_topic) {
      std::fprintf(env.err, "topic %s exists (%d partitions): --create-topic keeps it as it is\n",
                   o.topic.c_str(), description->partitions);
    }
  } else if (!absl::IsNotFound(description.status())) {
    return description.status();
  }
  const RetentionDecision decision = DecideRetention(input);
  if (!decision.ok) return absl::FailedPreconditionError(decision.message);
  if (!decision.message.empty()) std::fprintf(env.err, "%s\n", decision.message.c_str());
  if (input.existing_configs) return absl::OkStatus();
  kafka::NewTopic topic{.name = o.topic, .partitions = o.partitions};
  if (decision.create_retention_ms) topic.configs["retention.ms"] = *decision.create_retention_ms;
  RUNNEL_RETURN_IF_ERROR((*admin)->CreateTopics({topic}, kAdminTimeout));
  std::fprintf(env.err, "created topic %s (%d partition%s)\n", o.topic.c_str(), o.partitions,
               o.partitions == 1 ? "" : "s");
  return absl::OkStatus();
}

// Delivery outcomes, counted on the producer's delivery thread.
struct Deliveries {
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  std::mutex mu;
  absl::Status first_error;  // guarded by mu
};

absl::Status SendRows(const CsvOptions& o, const Scan& scan, const ReplayEnv& env, ReplaySummary& summary) {
  Deliveries deliveries;
  RUNNEL_ASSIGN_OR_RETURN(const kafka::ClientConfig connection, kafka::ToolConnection(o.bootstrap, o.command_config));
  auto producer = kafka::Producer::Create(
      kafka::ClientConfigFor(connection, {{"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"}}),
      {.on_delivery =
           [&deliveries](const kafka::DeliveryReport& report) {
             if (report.status.ok()) {
               ++deliveries.delivered;
               return;
             }
             ++deliveries.failed;
             std::lock_guard<std::mutex> lock(deliveries.mu);
             if (deliveries.first_error.ok()) deliveries.first_error = report.status;
           },
       .clock = &env.clock});
  if (!producer.ok()) return producer.status();
  Pacer pacer(env.clock, env.sleeper, o.speed);
  Progress progress(env.clock, env.err, env.terminal, scan.rows);
  absl::Status send_error;
  int64_t done = 0;
  RUNNEL_RETURN_IF_ERROR(ForEachRow(o.file, o.roles, [&](const RowMapper&, const Row& row) {
    ++done;
    if (!row.record.ok()) return true;  // reported and counted by the scan
    const MappedRecord& r = *row.record;
    if (r.timestamp_ms) pacer.WaitFor(*r.timestamp_ms);
    kafka::OutgoingRecord out{.topic = o.topic, .value = r.value, .headers = &r.headers};
    if (r.key) out.key = *r.key;
    if (r.timestamp_ms) out.timestamp = Timestamp(*r.timestamp_ms);
    send_error = (*producer)->Send(out);
    if (!send_error.ok()) {
      send_error = absl::Status(send_error.code(), absl::StrCat("line ", row.csv.line, ": ", send_error.message()));
      return false;
    }
    ++summary.sent;
    progress.Update(done);
    return true;
  }));
  // Everything sent must be delivered (or reported) before the summary.
  const absl::Status flushed = (*producer)->Flush(kFlushTimeout);
  progress.Finish();
  if (!send_error.ok()) return send_error;
  if (deliveries.failed > 0) {
    std::lock_guard<std::mutex> lock(deliveries.mu);
    return absl::Status(deliveries.first_error.code(),
                        absl::StrCat(deliveries.failed.load(), " of ", summary.sent,
                                     " records were not delivered; first error: ",
                                     deliveries.first_error.message()));
  }
  if (!flushed.ok()) return flushed;
  if (deliveries.delivered != summary.sent) {
    return absl::DataLossError(absl::StrCat("only ", deliveries.delivered.load(), " of ", summary.sent,
                                            " records confirmed delivered"));
  }
  return absl::OkStatus();
}

std::string FormatTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

void PrintSummary(const CsvOptions& o, const Scan& scan, const ReplaySummary& s, absl::Duration elapsed,
                  std::FILE* out) {
  std::fprintf(out, "rows read: %lld, sent: %lld to %s, skipped: %lld\n", static_cast<long long>(s.rows_read),
               static_cast<long long>(s.sent), o.topic.empty() ? "(no topic)" : o.topic.c_str(),
               static_cast<long long>(s.skipped));
  for (const auto& [reason, count] : scan.bad) {
    std::fprintf(out, "  skipped for %s: %lld\n", reason.c_str(), static_cast<long long>(count));
  }
  if (s.oldest_ms) {
    std::fprintf(out, "data time span: %s .. %s (%s)\n", FormatTime(*s.oldest_ms).c_str(),
                 FormatTime(*s.newest_ms).c_str(),
                 ShortDuration(absl::Milliseconds(*s.newest_ms - *s.oldest_ms)).c_str());
  }
  const double seconds = absl::ToDoubleSeconds(elapsed);
  std::fprintf(out, "elapsed: %.1f s, %.0f rows/s\n", seconds,
               seconds > 0 ? static_cast<double>(s.sent) / seconds : 0.0);
}

}  // namespace

absl::StatusOr<ReplaySummary> ReplayCsv(const CsvOptions& o, const ReplayEnv& env) {
  const absl::Time start = env.clock.Now();
  if (!o.plot_path.empty() && (o.plot_field.empty() || o.roles.time_column.empty())) {
    return absl::InvalidArgumentError("--plot needs --plot-field F and --time-column C");
  }
  if (o.speed > 0 && o.roles.time_column.empty()) {
    return absl::InvalidArgumentError("--speed original|N needs --time-column (the pace comes from the times)");
  }
  auto scan = ScanCsv(o, env);
  if (!scan.ok()) return scan.status();
  if (o.fail_on_error && scan->first_bad) {
    return absl::InvalidArgumentError(absl::StrCat(o.file, ":", scan->first_bad->first, ": ",
                                                   scan->first_bad->second,
                                                   " (--on-error fail: nothing was sent)"));
  }
  ReplaySummary summary{.rows_read = scan->rows, .oldest_ms = scan->oldest_ms, .newest_ms = scan->newest_ms};
  for (const auto& [reason, count] : scan->bad) summary.skipped += count;
  if (!o.topic.empty()) {
    RUNNEL_RETURN_IF_ERROR(PrepareTopic(o, *scan, env));
    RUNNEL_RETURN_IF_ERROR(SendRows(o, *scan, env, summary));
  }
  if (!o.plot_path.empty()) {
    PlotData plot = std::move(scan->plot);
    plot.field = o.plot_field;
    plot.unit = o.plot_unit;
    plot.title = o.plot_title;
    RUNNEL_RETURN_IF_ERROR(WritePlot(plot, o.plot_path));
    std::fprintf(env.err, "plot written to %s\n", o.plot_path.c_str());
  }
  PrintSummary(o, *scan, summary, env.clock.Now() - start, env.out);
  return summary;
}

absl::Status PlotTopic(const PlotTopicOptions& o, const ReplayEnv& env) {
  RUNNEL_ASSIGN_OR_RETURN(const kafka::ClientConfig connection, kafka::ToolConnection(o.bootstrap, o.command_config));
  auto admin = kafka::Admin::Create(connection, {.clock = &env.clock});
  if (!admin.ok()) return admin.status();
  auto description = (*admin)->DescribeTopic(o.topic, kAdminTimeout);
  if (!description.ok()) return description.status();
  auto consumer = kafka::Consumer::Create(
      kafka::ClientConfigFor(connection, {{"group.id", absl::StrCat("runnel-replay-plot-", getpid())}}),
      {.clock = &env.clock});
  if (!consumer.ok()) return consumer.status();
  std::map<int32_t, int64_t> ends;  // partitions still to read -> end offset
  std::vector<std::pair<TopicPartition, Offset>> from;
  for (int32_t p = 0; p < description->partitions; ++p) {
    auto marks = (*consumer)->Watermarks({o.topic, Partition(p)}, kAdminTimeout);
    if (!marks.ok()) return marks.status();
    if (marks->second > marks->first) ends[p] = marks->second.value();
    from.push_back({{o.topic, Partition(p)}, marks->first});
  }
  RUNNEL_RETURN_IF_ERROR((*consumer)->AssignAt(from));
  PlotData plot{.title = o.title, .field = o.field, .unit = o.unit};
  int64_t records = 0, unplotted = 0;
  std::vector<kafka::ConsumedRecord> batch;
  std::vector<std::pair<TopicPartition, Offset>> eof;
  absl::Time quiet_since = env.clock.Now();
  while (!ends.empty()) {
    batch.clear();
    eof.clear();
    RUNNEL_RETURN_IF_ERROR((*consumer)->Poll(absl::Milliseconds(500), 10000, batch, &eof));
    if (!batch.empty()) quiet_since = env.clock.Now();
    if (env.clock.Now() - quiet_since > absl::Seconds(60)) {
      return absl::DeadlineExceededError(absl::StrCat("plot: no records from ", o.topic,
                                                      " for 60 s before its end"));
    }
    for (const kafka::ConsumedRecord& r : batch) {
      ++records;
      auto it = ends.find(r.partition().value());
      if (it != ends.end() && r.offset().value() + 1 >= it->second) ends.erase(it);
      auto json = http::ParseJson(r.value().value_or(""));
      double v = 0;
      const boost::json::value* field = nullptr;
      if (json.ok() && json->is_object()) field = json->as_object().if_contains(o.field);
      if (field && field->is_number()) {
        v = field->to_number<double>();
      } else if (!(field && field->is_string() && absl::SimpleAtod(std::string(field->as_string()), &v))) {
        ++unplotted;
        continue;
      }
      plot.series[std::string(r.key().value_or("(no key)"))].push_back({r.timestamp().value(), v});
    }
    for (const auto& [tp, position] : eof) {
      auto it = ends.find(tp.partition.value());
      if (it != ends.end() && position.value() >= it->second) ends.erase(it);
    }
  }
  RUNNEL_RETURN_IF_ERROR((*consumer)->Close());
  RUNNEL_RETURN_IF_ERROR(WritePlot(plot, o.out));
  std::fprintf(env.out, "read %lld records from %s, plotted %lld (%lld without a numeric '%s'), %zu keys -> %s\n",
               static_cast<long long>(records), o.topic.c_str(), static_cast<long long>(records - unplotted),
               static_cast<long long>(unplotted), o.field.c_str(), plot.series.size(), o.out.c_str());
  return absl::OkStatus();
}

}  // namespace runnel::replay
