// Local state that its changelog no longer vouches for is wiped and
// restored, never trusted (under both guarantees): an application that ran,
// stopped cleanly and kept its state.dir, then runs again after
//   - its internal topics were deleted and recreated (a reset that forgot
//     the local state),
//   - the cluster was replaced by a fresh one (a private broker, wiped),
//   - records were deleted from its changelogs (DeleteRecords),
// computes from its input exactly what a fresh instance computes: the same
// counts, the same emit-final windows, and key-value stores that hold
// exactly what their changelogs hold. (A window store drops expired
// segments without logging them, so it is checked through its output.)

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"
#include "runnel/runnel.h"
#include "runnel/state/rocksdb_kv_store.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::KafkaLocal;
using testing_fixtures::UniqueName;

constexpr int kPartitions = 2;
constexpr int kKeys = 20;
constexpr int kRecords = 600;
using Raw = std::map<std::string, std::string>;

struct Input {
  std::string key;
  int64_t ts;
};

// Records one per 100 ms of event time (within the topics' retention), keys
// `prefix`-0..kKeys-1 in turn.
std::vector<Input> MakeInput(const std::string& prefix, int64_t first_ts) {
  std::vector<Input> out;
  for (int i = 0; i < kRecords; ++i) out.push_back({absl::StrCat(prefix, "-", i % kKeys), first_ts + i * 100});
  return out;
}

class StaleStateTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    app_ = UniqueName(GetParam() ? "stale-eos" : "stale-alos");
    in_ = app_ + "-in";
    out_ = app_ + "-out";
    windows_out_ = app_ + "-windows";
    state_dir_ = std::filesystem::temp_directory_path() / UniqueName("runnel-stale");
    base_ts_ = absl::ToUnixMillis(absl::Now() - absl::Hours(1));
  }
  void TearDown() override {
    std::filesystem::remove_all(state_dir_);
    if (!private_dir_.empty()) {
      (void)KafkaLocal({"stop", "--wipe", "--dir", private_dir_});
    }
  }

  std::unique_ptr<kafka::Admin> Admin(const std::string& bootstrap) {
    auto admin = kafka::Admin::Create({{"bootstrap.servers", bootstrap}});
    EXPECT_TRUE(admin.ok()) << admin.status();
    return admin.ok() ? *std::move(admin) : nullptr;
  }

  void CreateTopics(const std::string& bootstrap) {
    std::vector<kafka::NewTopic> topics;
    for (const auto& t : {in_, out_, windows_out_}) topics.push_back({.name = t, .partitions = kPartitions});
    ASSERT_TRUE(Admin(bootstrap)->CreateTopics(topics, absl::Seconds(30)).ok());
  }

  void Produce(const std::string& bootstrap, const std::vector<Input>& input) {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (const auto& r : input) {
      ASSERT_TRUE((*producer)->Send({.topic = in_, .key = r.key, .value = "x", .timestamp = Timestamp(r.ts)}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }

  // A key-value count ("counts") and an emit-final tumbling windowed count
  // ("windows", 10 s) of the input.
  std::shared_ptr<const Topology> Build() {
    StreamsBuilder builder;
    auto grouped = builder.Stream(in_, Consumed(serdes::String(), serdes::String())).GroupByKey();
    grouped.Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
        .ToStream()
        .To(out_, Produced(serdes::String(), serdes::Int64()));
    const auto w = TimeWindows::OfSizeAndGrace(absl::Seconds(10), absl::ZeroDuration());
    grouped.WindowedBy(w)
        .Emit(EmitStrategy::OnWindowClose())
        .Count(Materialized<std::string, int64_t>::As("windows", serdes::String(), serdes::Int64()))
        .ToStream()
        .To(windows_out_, Produced(serdes::TimeWindowed(serdes::String(), w.size_ms), serdes::Int64()));
    auto topology = builder.Build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    return *topology;
  }

  // Runs the application on `bootstrap` with this test's state.dir until it
  // processed `records` new records, closes it cleanly (which commits them)
  // and checks the group's committed offsets add up to `committed`. (The
  // group's offsets are not polled while it may not exist yet: librdkafka
  // 2.0.2's ListConsumerGroupOffsets can crash on a coordinator still
  // loading the group.)
  void RunToEnd(const std::string& bootstrap, int64_t records, int64_t committed) {
    auto config = StreamsConfig::Create({{"application.id", app_},
                                         {"bootstrap.servers", bootstrap},
                                         {"commit.interval.ms", "200"},
                                         {"processing.guarantee", GetParam() ? "exactly_once_v2" : "at_least_once"},
                                         {"state.dir", state_dir_}});
    ASSERT_TRUE(config.ok()) << config.status();
    auto streams = KafkaStreams::Create(Build(), *config);
    ASSERT_TRUE(streams.ok()) << streams.status();
    ASSERT_TRUE((*streams)->Start().ok());
    const absl::Time deadline = absl::Now() + absl::Seconds(180);
    while ((*streams)->metrics().CounterTotal("runnel_records_processed_total") < records &&
           absl::Now() < deadline) {
      ASSERT_NE((*streams)->state(), KafkaStreams::State::kError) << (*streams)->Wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ((*streams)->metrics().CounterTotal("runnel_records_processed_total"), records);
    ASSERT_TRUE((*streams)->Close().ok());
    auto offsets = Admin(bootstrap)->ListGroupOffsets(app_, absl::Seconds(30));
    ASSERT_TRUE(offsets.ok()) << offsets.status();
    int64_t total = 0;
    for (const auto& [tp, offset] : *offsets) {
      if (tp.topic == in_) total += offset.value();
    }
    ASSERT_EQ(total, committed);
  }

  // Every record of `topic` (read_committed), key bytes -> last value bytes.
  Raw Fold(const std::string& bootstrap, const std::string& topic) {
    auto consumer = kafka::Consumer::Create({{"bootstrap.servers", bootstrap},
                                             {"group.id", UniqueName("fold")},
                                             {"isolation.level", "read_committed"},
                                             {"enable.partition.eof", "true"}});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    std::vector<std::pair<TopicPartition, Offset>> from;
    std::set<int32_t> open;
    for (int p = 0; p < kPartitions; ++p) {
      from.emplace_back(TopicPartition{topic, Partition(p)}, Offset(-2));
      open.insert(p);
    }
    EXPECT_TRUE((*consumer)->AssignAt(from).ok());
    Raw out;
    std::vector<kafka::ConsumedRecord> batch;
    std::vector<std::pair<TopicPartition, Offset>> eof;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!open.empty() && absl::Now() < deadline) {
      batch.clear();
      eof.clear();
      EXPECT_TRUE((*consumer)->Poll(absl::Milliseconds(100), 10'000, batch, &eof).ok());
      for (const auto& r : batch) {
        if (!r.key()) continue;
        if (r.value()) {
          out[std::string(*r.key())] = std::string(*r.value());
        } else {
          out.erase(std::string(*r.key()));
        }
      }
      for (const auto& [tp, position] : eof) open.erase(tp.partition.value());
    }
    EXPECT_TRUE(open.empty()) << "did not reach the end of " << topic;
    return out;
  }

  // What the closed application's RocksDB store `store` holds, all tasks.
  Raw ReadStore(const std::string& store) {
    Raw out;
    auto resources = RocksDbResources::Create(8 << 20, 4 << 20);
    for (int p = 0; p < kPartitions; ++p) {
      const std::string dir =
          absl::StrCat(state_dir_, "/", app_, "/0_", p, "/", store);
      if (!std::filesystem::exists(dir)) continue;
      auto db = RocksDbKeyValueStore::Open(store, dir, resources);
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) continue;
      auto it = (*db)->All();
      EXPECT_TRUE(it.ok());
      for (; (*it)->Valid(); (*it)->Next()) out[std::string((*it)->key())] = std::string((*it)->value());
    }
    return out;
  }

  std::string Changelog(const std::string& store) const { return absl::StrCat(app_, "-", store, "-changelog"); }

  // The first life: the input processed from a fresh state.dir, and what it
  // gave (the reference for every later life on that input).
  void FirstLife(const std::string& bootstrap) {
    CreateTopics(bootstrap);
    Produce(bootstrap, MakeInput("a", base_ts_));
    RunToEnd(bootstrap, kRecords, kRecords);
    reference_counts_ = ReadStore("counts");
    reference_windows_ = Fold(bootstrap, windows_out_);
    ASSERT_EQ(reference_counts_.size(), static_cast<size_t>(kKeys));
    ASSERT_FALSE(reference_windows_.empty()) << "no window was closed: the test's input is too short";
  }

  // The same input processed again on the old state.dir must give what the
  // first life gave.
  void ExpectSameAsFirstLife(const std::string& bootstrap) {
    EXPECT_EQ(ReadStore("counts"), reference_counts_) << "counts built on state the changelog does not have";
    EXPECT_EQ(Fold(bootstrap, windows_out_), reference_windows_) << "emit-final windows differ from a fresh run";
    EXPECT_EQ(ReadStore("counts"), Fold(bootstrap, Changelog("counts")));
  }

  std::string app_, in_, out_, windows_out_, state_dir_, private_dir_;
  int64_t base_ts_ = 0;
  Raw reference_counts_, reference_windows_;
};

TEST_P(StaleStateTest, InternalTopicsDeletedAndRecreatedWipeTheStoresThatOutliveThem) {
  const std::string bootstrap = BootstrapServers();
  ASSERT_NO_FATAL_FAILURE(FirstLife(bootstrap));
  // A reset that forgets the local state: internal topics, outputs and the
  // group's offsets go; the input stays.
  auto admin = Admin(bootstrap);
  ASSERT_TRUE(admin->DeleteTopics({Changelog("counts"), Changelog("windows"), out_, windows_out_},
                                  absl::Seconds(30)).ok());
  ASSERT_TRUE(admin->DeleteGroup(app_, absl::Seconds(30)).ok());
  // Topic deletion completes asynchronously.
  for (int i = 0; i < 100; ++i) {
    auto topics = admin->ListTopics(absl::Seconds(10));
    ASSERT_TRUE(topics.ok());
    if (std::find(topics->begin(), topics->end(), out_) == topics->end() &&
        std::find(topics->begin(), topics->end(), Changelog("counts")) == topics->end()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(admin->CreateTopics({{.name = out_, .partitions = kPartitions},
                                   {.name = windows_out_, .partitions = kPartitions}},
                                  absl::Seconds(30)).ok());
  ASSERT_NO_FATAL_FAILURE(RunToEnd(bootstrap, kRecords, kRecords));
  ExpectSameAsFirstLife(bootstrap);
}

TEST_P(StaleStateTest, ANewClusterWipesTheStoresOfTheOldOne) {
  private_dir_ = std::filesystem::temp_directory_path() / UniqueName("runnel-cluster");
  auto started = KafkaLocal({"start", "--dir", private_dir_});
  ASSERT_TRUE(started.ok()) << started.status();
  std::string bootstrap(absl::StripAsciiWhitespace(*started));
  ASSERT_NO_FATAL_FAILURE(FirstLife(bootstrap));
  // The cluster is replaced: its data wiped, a new cluster id.
  ASSERT_TRUE(KafkaLocal({"stop", "--wipe", "--dir", private_dir_}).ok());
  started = KafkaLocal({"start", "--dir", private_dir_});
  ASSERT_TRUE(started.ok()) << started.status();
  bootstrap = std::string(absl::StripAsciiWhitespace(*started));
  ASSERT_NO_FATAL_FAILURE(CreateTopics(bootstrap));
  ASSERT_NO_FATAL_FAILURE(Produce(bootstrap, MakeInput("a", base_ts_)));
  ASSERT_NO_FATAL_FAILURE(RunToEnd(bootstrap, kRecords, kRecords));
  ExpectSameAsFirstLife(bootstrap);
}

TEST_P(StaleStateTest, RecordsDeletedFromAChangelogWipeAStoreThatNeverSawThem) {
  const std::string bootstrap = BootstrapServers();
  const std::string old_dir = state_dir_;
  // The broker refuses DeleteRecords on a compact-only topic: the changelog
  // is compact,delete here, as a windowed store's is.
  ASSERT_TRUE(Admin(bootstrap)
                  ->CreateTopics({{.name = Changelog("counts"),
                                   .partitions = kPartitions,
                                   .configs = {{"cleanup.policy", "compact,delete"}, {"retention.ms", "-1"}}}},
                                 absl::Seconds(30))
                  .ok());
  ASSERT_NO_FATAL_FAILURE(FirstLife(bootstrap));  // keys a-*, on old_dir
  // Another instance (its own state.dir) takes the tasks and moves the
  // changelogs on (keys b-*); then their records are deleted up to there.
  state_dir_ = std::filesystem::temp_directory_path() / UniqueName("runnel-stale-other");
  ASSERT_NO_FATAL_FAILURE(Produce(bootstrap, MakeInput("b", base_ts_ + kRecords * 100)));
  ASSERT_NO_FATAL_FAILURE(RunToEnd(bootstrap, kRecords, 2 * kRecords));
  std::filesystem::remove_all(state_dir_);
  state_dir_ = old_dir;
  std::map<TopicPartition, Offset> everything;
  for (int p = 0; p < kPartitions; ++p) everything[{Changelog("counts"), Partition(p)}] = Offset(-1);
  absl::Status deleted = Admin(bootstrap)->DeleteRecords(everything, absl::Seconds(30));
  ASSERT_TRUE(deleted.ok()) << deleted;
  // The first instance comes back on its old state.dir (checkpoints before
  // the changelogs' new start) and processes more input (keys c-*).
  ASSERT_NO_FATAL_FAILURE(Produce(bootstrap, MakeInput("c", base_ts_ + 2 * kRecords * 100)));
  ASSERT_NO_FATAL_FAILURE(RunToEnd(bootstrap, kRecords, 3 * kRecords));
  // Its stores hold what their changelogs hold: nothing of keys a-*, which
  // only the deleted records had.
  const Raw counts = ReadStore("counts");
  EXPECT_EQ(counts, Fold(bootstrap, Changelog("counts")));
  for (const auto& [key, value] : counts) EXPECT_NE(key.substr(0, 2), "a-") << key << " outlived its changelog";
}

INSTANTIATE_TEST_SUITE_P(Guarantees, StaleStateTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "ExactlyOnce" : "AtLeastOnce"; });

}  // namespace
}  // namespace runnel
