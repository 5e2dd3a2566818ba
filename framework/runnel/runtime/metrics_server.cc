#include "runnel/runtime/metrics_server.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "runnel/http/json.h"
#include "runnel/http/router.h"

namespace runnel {
namespace {

// Every family the runtime, the state layer and the DSL write, with its
// help text; docs/metrics.md is the same list with types and labels.
constexpr std::pair<const char*, const char*> kHelp[] = {
    // Instance
    {"runnel_instance_state", "1 for the instance's current state (CREATED, RUNNING, PENDING_SHUTDOWN, "
                              "NOT_RUNNING, ERROR), 0 for the others."},
    {"runnel_stream_threads", "Live stream threads of the instance."},
    {"runnel_stream_threads_replaced_total",
     "Stream threads that failed and were replaced (uncaught.error.policy=replace_thread)."},
    {"runnel_tasks", "Active tasks of the instance by state: created (stores opening), restoring (stores "
                     "catching up with their changelogs), running."},
    // Stream threads
    {"runnel_records_processed_total", "Records processed by each stream thread (Kafka Streams' process-total)."},
    {"runnel_commits_total",
     "Commits of each stream thread; under exactly_once_v2 each is a committed Kafka transaction."},
    {"runnel_transactions_aborted_total",
     "Kafka transactions aborted by each stream thread (exactly_once_v2); their input is processed again."},
    {"runnel_rewinds_total", "At-least-once rewinds to the committed offsets after a failed delivery."},
    {"runnel_restored_records_total", "Changelog records restored into stores, per stream thread."},
    {"runnel_restored_bytes_total", "Changelog bytes restored into stores, per stream thread."},
    {"runnel_restore_seconds_total", "Time spent restoring stores, per stream thread."},
    {"runnel_stores_wiped_total",
     "Stores wiped because their local position was outside their changelog's offsets."},
    {"runnel_commit_latency_seconds",
     "Time of one commit of a stream thread: store flush and offsets, or under exactly_once_v2 the whole "
     "transaction commit (Kafka Streams' commit-latency). Commits with nothing to commit are not observed."},
    {"runnel_transaction_commit_latency_seconds",
     "Time of the producer's transaction commit alone (exactly_once_v2), retries included."},
    {"runnel_poll_latency_seconds",
     "Time of one consumer poll of a stream thread, its wait for records included (Kafka Streams' "
     "poll-latency)."},
    {"runnel_rebalances_total", "Partition assignments a stream thread received (one per completed rebalance)."},
    {"runnel_consumer_lag_records",
     "Records of an assigned input partition not processed yet: its end offset (the last stable offset under "
     "read_committed) minus the next offset the task processes. Only partitions the thread owns now."},
    // Tasks
    {"runnel_task_records_consumed_total", "Records polled for each task, per input topic."},
    {"runnel_task_records_processed_total", "Records each task processed (Kafka Streams' task process-total)."},
    {"runnel_task_records_produced_total",
     "Records each task sent to a sink topic (output or repartition), per topic; changelog records are not "
     "counted."},
    {"runnel_process_latency_seconds",
     "Time to process one record through a task's topology, stores and sends included (Kafka Streams' "
     "process-latency)."},
    {"runnel_record_e2e_latency_seconds",
     "From an output record's timestamp to the wall-clock time processing of its input started "
     "(Kafka Streams' record-e2e-latency, measured at the sinks)."},
    // Errors and drops
    {"runnel_dropped_records_total",
     "Records dropped by a processor, by reason (late: after the window's grace; null_key_or_value)."},
    {"runnel_deserialization_errors_total", "Records whose key or value could not be deserialized, by handler."},
    {"runnel_processing_errors_total",
     "Records (or punctuations) a processor failed on, by handler and processor node."},
    {"runnel_dead_letter_records_total", "Records written to the dead-letter topic."},
    // Stores
    {"runnel_store_restored_records_total", "Changelog records restored into a store of an active task."},
    {"runnel_restore_remaining_records",
     "Changelog records an active store still has to restore before its task runs (0 once restored)."},
    {"runnel_standby_lag_records", "Changelog records a standby replica is behind its changelog's end."},
    {"runnel_standby_records_total", "Changelog records applied to standby replicas."},
    {"runnel_store_sst_files_bytes", "Size of a RocksDB store's SST files (rocksdb.total-sst-files-size)."},
    {"runnel_store_live_data_bytes", "Estimated live data of a RocksDB store (rocksdb.estimate-live-data-size)."},
    {"runnel_store_memtable_bytes", "Memory of a RocksDB store's memtables (rocksdb.cur-size-all-mem-tables)."},
    {"runnel_store_estimated_keys", "Estimated keys in a RocksDB store (rocksdb.estimate-num-keys)."},
    {"runnel_rocksdb_block_cache_usage_bytes",
     "Bytes charged to the instance's one RocksDB block cache (blocks and memtables of every store)."},
    {"runnel_rocksdb_block_cache_capacity_bytes", "Capacity of that block cache (rocksdb.block.cache.bytes)."},
    // Global stores
    {"runnel_global_records_total", "Records applied to global stores (GlobalKTable) while running."},
    {"runnel_global_restored_records_total", "Records read into global stores while bootstrapping."},
};

http::Response Json(int status, std::string body) {
  http::Response r = http::Response::Text(status, std::move(body));
  r.content_type = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void DescribeRuntimeMetrics(MetricsRegistry& registry) {
  for (const auto& [name, help] : kHelp) registry.SetHelp(name, help);
  // Recorded by the stream threads in microseconds (the benchmarks read it
  // so); exposed in Prometheus' base unit.
  registry.ExportInBaseUnit("runnel_restore_microseconds_total", "runnel_restore_seconds_total", 1e-6);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MetricsServerAddress& address,
                                                                    const MetricsRegistry* metrics,
                                                                    std::function<Readiness()> readiness,
                                                                    const Clock& clock, TlsSettings tls) {
  http::Router router;
  router.Get("/metrics", http::Sync([metrics](const http::Request&) {
    http::Response r = http::Response::Text(200, metrics->ToPrometheusText());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }));
  router.Get("/healthz", http::Sync([](const http::Request&) { return Json(200, R"({"status":"up"})"); }));
  router.Get("/readyz", http::Sync([readiness = std::move(readiness)](const http::Request&) {
    const Readiness r = readiness();
    if (r.ready) return Json(200, R"({"status":"ready"})");
    std::string body = R"({"status":"not ready","reason":)";
    http::AppendJsonString(r.reason, body);
    body += '}';
    return Json(503, std::move(body));
  }));
  http::ServerOptions options;
  options.address = address.host;
  options.port = address.port;
  // Scrapes and probes are rare and quick: one I/O thread.
  options.threads = 1;
  options.server_name = "runnel-metrics";
  options.clock = &clock;
  options.tls = std::move(tls);
  auto server = http::Server::Start(std::move(options), std::move(router));
  if (!server.ok()) {
    return absl::Status(server.status().code(), absl::StrCat("metrics.server ", address.host, ":", address.port,
                                                             ": ", server.status().message()));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(*std::move(server)));
}

MetricsServer::~MetricsServer() { (void)Shutdown(); }

absl::Status MetricsServer::Shutdown(absl::Duration grace) { return server_->Shutdown(grace); }

}  // namespace runnel
