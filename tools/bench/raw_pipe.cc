// The "raw librdkafka pipe" contender, no framework: the practical ceiling
// for a Kafka-bound pipeline here.
//   W1: consume -> trivial transform -> produce.
//   W2: consume -> count per key in a hash map (no durability) -> produce
//       (key, count as 8-byte big-endian) for every record.
//   W3: like W2, per key and 60 s tumbling window.
//   W3m: per key and 60 s tumbling window (grace 5 s), the count and the
//       max of the number each value starts with (produce-bench
//       --value-number: 9 digits), produced for every record as
//       ("<key>@<window start>", count then max, 8 bytes big-endian each)
//       on the record's partition. Per partition, a hash map of aggregates
//       per window start; a window is dropped from it once the partition's
//       newest timestamp is past its end + grace (so the map holds the open
//       windows, like Runnel's retention), and a record for a window
//       already closed would be counted as late and skipped (none is: the
//       input is in order). No durability.
//   W3h: W3m over hopping windows of 10 s advancing by 2 s (grace 5 s):
//       every record updates, and produces, 5 windows.
//   W4t: stream-table join. Reads the whole table topic (--table) into a
//       hash map first, up to the end each partition had at the start
//       (timed: that is part of its total, as Runnel's loading of the table
//       is part of Runnel's), then consumes the stream (--input) and, for
//       each record whose key has a row, produces (key, stream value + "|" +
//       the row's first 8 bytes) on the record's partition. No durability.
//   W4s: stream-stream join, 30 s window: consumes --input (left) and
//       --right with one consumer; per partition and side, a time-ordered
//       buffer of records per key. A record meets the other side's buffered
//       records of its key within 30 s either way and produces, per pair,
//       (key, left value's first 13 bytes + "," + right's) at the later of
//       the two timestamps, on the record's partition. A buffered record is
//       dropped once the other side of its partition has seen a timestamp
//       more than 30 s past it: with each side's timestamps in order per
//       partition (checked: the JSON line counts records that were not),
//       nothing later can meet it, so the result is the whole join whatever
//       the interleaving of the two topics. No grace or late handling is
//       needed for that, and no durability; the buffers hold as much as one
//       topic's arrival runs ahead of the other's.
//
//   raw-pipe --workload W1|W2|W3|W3m|W3h|W4t|W4s --bootstrap B --input T --output T --records N --group G
//            [--table T]  (W4t)  [--right T]  (W4s)
//
// --records is the stream's record count (W4s: each side's). Same client
// settings as Runnel's defaults (idempotent lz4 producer, linger.ms=5) so
// the ratio measures the framework, not the tuning. Prints one JSON line:
// records (every input record consumed, table rows included), seconds
// (first record consumed -> all output acknowledged), cpu_seconds,
// max_rss_kb; W4t/W4s add outputs (records produced), W4t table_rows and
// table_seconds (first table record -> table loaded), W4s out_of_order;
// W3m/W3h add outputs, out_of_order and late.

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string workload = "W1";
  std::string bootstrap, input, output, table, right;
  std::string group = "w1-raw";
  long long records = 0;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "raw-pipe: %s\n", why.c_str());
  std::exit(1);
}

rd_kafka_t* Make(rd_kafka_type_t type, const std::string& bootstrap, const std::string& group,
                 bool auto_commit = true) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", err);
      std::exit(2);
    }
  };
  set("bootstrap.servers", bootstrap);
  if (type == RD_KAFKA_CONSUMER) {
    set("group.id", group);
    set("auto.offset.reset", "earliest");
    set("enable.auto.commit", auto_commit ? "true" : "false");
    set("partition.assignment.strategy", "range");
    // The same fetch-queue setting Runnel's consumer uses (see
    // StreamsConfig::ConsumerConfig): without it librdkafka 2.0.2 idles the
    // fetcher for 1 s whenever 100k records are queued, for both contenders.
    set("queued.min.messages", "500000");
  } else {
    set("enable.idempotence", "true");
    set("linger.ms", "5");
    set("batch.num.messages", "10000");
    set("compression.type", "lz4");
    set("partitioner", "murmur2_random");
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    std::exit(1);
  }
  return rk;
}

// Sends one record (key and value copied) to `partition` of `topic`
// (RD_KAFKA_PARTITION_UA: the partitioner picks), waiting while the
// producer's queue is full.
void Produce(rd_kafka_t* producer, const std::string& topic, int32_t partition, std::string_view key,
             std::string_view value, int64_t timestamp) {
  while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                           RD_KAFKA_V_KEY(key.data(), key.size()),
                           RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp),
                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_poll(producer, 10);
  }
}

std::string_view Key(const rd_kafka_message_t* m) {
  return {static_cast<const char*>(m->key), m->key_len};
}
std::string_view Value(const rd_kafka_message_t* m) {
  return {static_cast<const char*>(m->payload), m->len};
}

// Hash-map lookups by string_view, without building a std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// The next record of `consumer`, serving the producer's delivery reports in
// bulk (not per record: the fastest simple pipe, so the ratio is against a
// real ceiling); null if none came, or on a consumer error.
rd_kafka_message_t* Next(rd_kafka_t* consumer, rd_kafka_t* producer, long long& polls) {
  if ((polls++ & 1023) == 0) rd_kafka_poll(producer, 0);
  rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
  if (m != nullptr && m->err) {
    rd_kafka_message_destroy(m);
    return nullptr;
  }
  return m;
}

// W1, W2, W3: one record in, one (W1: at most one) record out. Returns the
// records consumed.
long long Pipe(const Options& o, rd_kafka_t* consumer, rd_kafka_t* producer, Clock::time_point& start) {
  long long seen = 0, polls = 0;
  std::string value;
  std::unordered_map<std::string, int64_t> counts;
  while (seen < o.records) {
    rd_kafka_message_t* m = Next(consumer, producer, polls);
    if (m == nullptr) continue;
    if (seen == 0) start = Clock::now();
    ++seen;
    if (o.workload == "W2" || o.workload == "W3") {
      // The same result as Runnel's count: the key's running count, on the
      // key's partition. W3 counts per key and 60 s tumbling window (the
      // output key is "<key>@<window start>"), every update sent, no grace
      // or late-record handling (the input is in order).
      std::string counted(Key(m));
      if (o.workload == "W3") {
        const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
        counted.push_back('@');
        counted.append(std::to_string(ts / 60000 * 60000));
      }
      int64_t n = ++counts[counted];
      char be[8];
      for (int b = 0; b < 8; ++b) be[b] = static_cast<char>((static_cast<uint64_t>(n) >> (56 - 8 * b)) & 0xff);
      Produce(producer, o.output, m->partition, counted, std::string_view(be, sizeof be),
              rd_kafka_message_timestamp(m, nullptr));
    } else if (m->len > 0) {
      // The same transform as the Runnel contender: keep non-empty values,
      // upper-case the first byte.
      value.assign(Value(m));
      value[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(value[0])));
      Produce(producer, o.output, RD_KAFKA_PARTITION_UA, Key(m), value, rd_kafka_message_timestamp(m, nullptr));
    }
    rd_kafka_message_destroy(m);
  }
  return seen;
}

// W3m/W3h's windows, Kafka Streams' TimeWindows: [start, start + size) for
// every start that is a multiple of advance (tumbling: advance = size).
struct HoppingWindows {
  int64_t size_ms, advance_ms, grace_ms;
};

// W3m/W3h's aggregate per (key, window); max starts below every number.
struct CountMax {
  int64_t count = 0;
  int64_t max = std::numeric_limits<int64_t>::min();
};

// The number a value starts with (9 decimal digits), as Runnel's contender
// parses it: up to the first byte that is not a digit.
int64_t ValueNumber(std::string_view value) {
  int64_t n = 0;
  for (size_t i = 0; i < std::min<size_t>(value.size(), 9) && value[i] >= '0' && value[i] <= '9'; ++i) {
    n = n * 10 + (value[i] - '0');
  }
  return n;
}

// Appends `v` as 8 bytes big-endian.
void AppendBigEndian(int64_t v, std::string& out) {
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (56 - 8 * b)) & 0xff));
}

// W3m, W3h: count and max per key and window, every update produced.
long long WindowedCountMax(const Options& o, const HoppingWindows& w, rd_kafka_t* consumer, rd_kafka_t* producer,
                           Clock::time_point& start, std::string& extra) {
  struct PartitionWindows {
    // Open windows by start; in each, the aggregate per key.
    std::map<int64_t, StringMap<CountMax>> open;
    int64_t max_ts = -1;
  };
  std::unordered_map<int32_t, PartitionWindows> partitions;
  long long seen = 0, polls = 0, outputs = 0, out_of_order = 0, late = 0;
  std::string key_out, value_out;
  while (seen < o.records) {
    rd_kafka_message_t* m = Next(consumer, producer, polls);
    if (m == nullptr) continue;
    if (seen == 0) start = Clock::now();
    ++seen;
    const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
    const std::string_view key = Key(m);
    const int64_t number = ValueNumber(Value(m));
    PartitionWindows& p = partitions[m->partition];
    if (ts < p.max_ts) ++out_of_order;
    p.max_ts = std::max(p.max_ts, ts);
    // Windows whose end + grace the partition's time has reached are closed.
    while (!p.open.empty() && p.open.begin()->first + w.size_ms + w.grace_ms <= p.max_ts) p.open.erase(p.open.begin());
    // Kafka Streams' TimeWindows.windowsFor: the first start is the
    // multiple of advance after ts - size, never before 0.
    for (int64_t s = std::max<int64_t>(0, ts - w.size_ms + w.advance_ms) / w.advance_ms * w.advance_ms; s <= ts;
         s += w.advance_ms) {
      if (s + w.size_ms + w.grace_ms <= p.max_ts) {
        ++late;
        continue;
      }
      StringMap<CountMax>& aggs = p.open[s];
      auto it = aggs.find(key);
      if (it == aggs.end()) it = aggs.emplace(std::string(key), CountMax{}).first;
      CountMax& agg = it->second;
      ++agg.count;
      agg.max = std::max(agg.max, number);
      key_out.assign(key);
      key_out.push_back('@');
      key_out.append(std::to_string(s));
      value_out.clear();
      AppendBigEndian(agg.count, value_out);
      AppendBigEndian(agg.max, value_out);
      Produce(producer, o.output, m->partition, key_out, value_out, ts);
      ++outputs;
    }
    rd_kafka_message_destroy(m);
  }
  char buf[120];
  std::snprintf(buf, sizeof buf, ",\"outputs\":%lld,\"out_of_order\":%lld,\"late\":%lld", outputs, out_of_order,
                late);
  extra = buf;
  return seen;
}

// W4t's first phase: every row of the table topic, read with its own
// consumer (assigned, no group membership, nothing committed) up to the
// end each partition had when it started. A null value deletes the key.
// Returns the records read; `start` is set at the first one.
long long LoadTable(const Options& o, StringMap<std::string>& rows, Clock::time_point& start) {
  rd_kafka_t* c = Make(RD_KAFKA_CONSUMER, o.bootstrap, o.group + "-table", /*auto_commit=*/false);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(c, o.table.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(c, 0, rkt, &md, 30000);
  if (err || md->topic_cnt != 1 || md->topics[0].err) {
    Die("no metadata for table topic " + o.table + ": " +
        rd_kafka_err2str(err ? err : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
  }
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  std::map<int32_t, int64_t> ends;  // partitions not yet read to their end
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if ((err = rd_kafka_query_watermark_offsets(c, o.table.c_str(), p, &low, &high, 30000))) {
      Die("watermarks of " + o.table + ": " + rd_kafka_err2str(err));
    }
    if (high > low) ends[p] = high;
    rd_kafka_topic_partition_list_add(assignment, o.table.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_poll_set_consumer(c);
  if ((err = rd_kafka_assign(c, assignment))) Die(std::string("assign: ") + rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(assignment);
  long long read = 0;
  Clock::time_point quiet_since = Clock::now();
  while (!ends.empty()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
    if (m == nullptr || m->err) {
      if (m != nullptr) rd_kafka_message_destroy(m);
      if (Clock::now() - quiet_since > std::chrono::seconds(60)) Die("table topic " + o.table + " quiet for 60 s");
      continue;
    }
    quiet_since = Clock::now();
    if (read == 0) start = Clock::now();
    ++read;
    if (m->payload == nullptr) {
      if (auto it = rows.find(Key(m)); it != rows.end()) rows.erase(it);
    } else {
      rows.insert_or_assign(std::string(Key(m)), std::string(Value(m)));
    }
    if (auto it = ends.find(m->partition); it != ends.end() && m->offset + 1 >= it->second) ends.erase(it);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return read;
}

// W4t: the table, then the stream through it. The stream consumer is
// already subscribed, so its group join overlaps the table's loading.
long long TableJoin(const Options& o, rd_kafka_t* consumer, rd_kafka_t* producer, Clock::time_point& start,
                    std::string& extra) {
  StringMap<std::string> rows;
  const long long table_records = LoadTable(o, rows, start);
  const double table_seconds =
      table_records > 0 ? std::chrono::duration<double>(Clock::now() - start).count() : 0.0;
  long long seen = 0, polls = 0, outputs = 0;
  std::string value;
  while (seen < o.records) {
    rd_kafka_message_t* m = Next(consumer, producer, polls);
    if (m == nullptr) continue;
    if (seen == 0 && table_records == 0) start = Clock::now();
    ++seen;
    if (auto row = rows.find(Key(m)); row != rows.end()) {
      value.assign(Value(m));
      value.push_back('|');
      value.append(std::string_view(row->second).substr(0, 8));
      Produce(producer, o.output, m->partition, Key(m), value, rd_kafka_message_timestamp(m, nullptr));
      ++outputs;
    }
    rd_kafka_message_destroy(m);
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, ",\"outputs\":%lld,\"table_rows\":%zu,\"table_seconds\":%.3f", outputs,
                rows.size(), table_seconds);
  extra = buf;
  return table_records + seen;
}

// W4s: the join window, in ms either way.
constexpr int64_t kJoinWindowMs = 30000;

// One side (left or right) of one partition of W4s's join.
struct JoinSide {
  struct Buffered {
    int64_t ts;
    std::string value;
  };
  // Per key, its records not yet dropped, oldest first.
  StringMap<std::deque<Buffered>> by_key;
  // (ts, key) of every buffered record, in arrival order (time order, the
  // side's timestamps being in order).
  std::deque<std::pair<int64_t, std::string>> arrivals;
  int64_t max_ts = -1;
};

// W4s: both topics with one consumer, joined per partition.
long long StreamJoin(const Options& o, rd_kafka_t* consumer, rd_kafka_t* producer, Clock::time_point& start,
                     std::string& extra) {
  std::unordered_map<int32_t, JoinSide[2]> partitions;
  long long seen[2] = {0, 0};
  long long polls = 0, outputs = 0, out_of_order = 0;
  std::string value;
  while (seen[0] < o.records || seen[1] < o.records) {
    rd_kafka_message_t* m = Next(consumer, producer, polls);
    if (m == nullptr) continue;
    if (seen[0] + seen[1] == 0) start = Clock::now();
    const int side = o.right == rd_kafka_topic_name(m->rkt) ? 1 : 0;
    ++seen[side];
    const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
    const std::string_view key = Key(m), v = Value(m);
    JoinSide& own = partitions[m->partition][side];
    JoinSide& other = partitions[m->partition][1 - side];
    if (ts < own.max_ts) ++out_of_order;
    own.max_ts = std::max(own.max_ts, ts);
    if (auto partners = other.by_key.find(key); partners != other.by_key.end()) {
      for (const JoinSide::Buffered& b : partners->second) {
        if (b.ts < ts - kJoinWindowMs || b.ts > ts + kJoinWindowMs) continue;
        const std::string_view left = side == 0 ? v : std::string_view(b.value);
        const std::string_view right = side == 0 ? std::string_view(b.value) : v;
        value.assign(left.substr(0, 13));
        value.push_back(',');
        value.append(right.substr(0, 13));
        Produce(producer, o.output, m->partition, key, value, std::max(ts, b.ts));
        ++outputs;
      }
    }
    auto mine = own.by_key.find(key);
    if (mine == own.by_key.end()) mine = own.by_key.emplace(std::string(key), std::deque<JoinSide::Buffered>()).first;
    auto& buffered = mine->second;
    // In time order even for a record out of order (which the purge below
    // may still have missed partners of: counted, and the harness fails
    // the run).
    auto at = std::upper_bound(buffered.begin(), buffered.end(), ts,
                               [](int64_t t, const JoinSide::Buffered& b) { return t < b.ts; });
    buffered.insert(at, JoinSide::Buffered{ts, std::string(v)});
    own.arrivals.emplace_back(ts, mine->first);
    // This side's records to come are at max_ts or later: the other side's
    // records more than the window before it can meet none of them. Each
    // arrival dropped takes its key's oldest record (at or before it).
    while (!other.arrivals.empty() && other.arrivals.front().first < own.max_ts - kJoinWindowMs) {
      auto it = other.by_key.find(other.arrivals.front().second);
      it->second.pop_front();
      if (it->second.empty()) other.by_key.erase(it);
      other.arrivals.pop_front();
    }
    rd_kafka_message_destroy(m);
  }
  char buf[120];
  std::snprintf(buf, sizeof buf, ",\"outputs\":%lld,\"out_of_order\":%lld", outputs, out_of_order);
  extra = buf;
  return seen[0] + seen[1];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") o.bootstrap = v;
    else if (f == "--input") o.input = v;
    else if (f == "--output") o.output = v;
    else if (f == "--records") o.records = std::stoll(v);
    else if (f == "--group") o.group = v;
    else if (f == "--workload") o.workload = v;
    else if (f == "--table") o.table = v;
    else if (f == "--right") o.right = v;
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  const bool known = o.workload == "W1" || o.workload == "W2" || o.workload == "W3" || o.workload == "W3m" ||
                     o.workload == "W3h" ||
                     (o.workload == "W4t" && !o.table.empty()) || (o.workload == "W4s" && !o.right.empty());
  if (o.bootstrap.empty() || o.input.empty() || o.output.empty() || o.records <= 0 || !known) {
    std::fprintf(stderr,
                 "usage: raw-pipe --workload W1|W2|W3|W3m|W3h|W4t|W4s --bootstrap B --input T --output T --records N "
                 "[--table T (W4t)] [--right T (W4s)]\n");
    return 2;
  }
  rd_kafka_t* consumer = Make(RD_KAFKA_CONSUMER, o.bootstrap, o.group);
  rd_kafka_t* producer = Make(RD_KAFKA_PRODUCER, o.bootstrap, o.group);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(topics, o.input.c_str(), RD_KAFKA_PARTITION_UA);
  if (o.workload == "W4s") rd_kafka_topic_partition_list_add(topics, o.right.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);

  Clock::time_point start;
  std::string extra;
  // W3m: 60 s tumbling; W3h: 10 s hopping by 2 s; both grace 5 s.
  const HoppingWindows w3m{60000, 60000, 5000}, w3h{10000, 2000, 5000};
  long long seen = o.workload == "W4t"   ? TableJoin(o, consumer, producer, start, extra)
                   : o.workload == "W4s" ? StreamJoin(o, consumer, producer, start, extra)
                   : o.workload == "W3m" ? WindowedCountMax(o, w3m, consumer, producer, start, extra)
                   : o.workload == "W3h" ? WindowedCountMax(o, w3h, consumer, producer, start, extra)
                                         : Pipe(o, consumer, producer, start);
  rd_kafka_flush(producer, 120000);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("{\"contender\":\"raw\",\"records\":%lld,\"seconds\":%.3f,\"cpu_seconds\":%.3f,"
              "\"max_rss_kb\":%ld%s}\n",
              seen, seconds, cpu, usage.ru_maxrss, extra.c_str());
  return 0;
}
