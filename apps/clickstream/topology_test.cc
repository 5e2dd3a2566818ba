#include "topology.h"

#include <stdlib.h>

#include <filesystem>

#include "aggregates.h"
#include "generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracle.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel_apps::clickstream {
namespace {

using runnel::TestRecord;
using runnel::Timestamp;
using runnel::TopologyTestDriver;
namespace serdes = runnel::serdes;

constexpr int64_t kStart = 1'765'000'800'000;
constexpr char kDeadLetter[] = "clickstream-dlq";

// The driver commits (and syncs RocksDB) after every record: its state goes
// to tmpfs when there is one, or a few thousand records take minutes.
class StateDir {
 public:
  StateDir() {
    std::string tmpl = std::filesystem::is_directory("/dev/shm") ? "/dev/shm/clickstream-test-XXXXXX"
                                                                 : "/tmp/clickstream-test-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~StateDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<TopologyTestDriver> Driver(const StateDir& dir) {
  auto topology = BuildTopology(TopologyOptions{});
  EXPECT_TRUE(topology.ok()) << topology.status();
  auto driver = TopologyTestDriver::Create(*topology, {{"application.id", "clickstream-test"},
                                                      {"state.dir", dir.path()},
                                                      {"default.deserialization.exception.handler", "dead_letter"},
                                                      {"errors.dead.letter.queue.topic.name", kDeadLetter}});
  EXPECT_TRUE(driver.ok()) << driver.status();
  return *std::move(driver);
}

void Pipe(TopologyTestDriver& driver, const GeneratedEvent& g) {
  ASSERT_TRUE(driver.PipeRaw("clickstream-events", TestRecord{.key = g.key, .value = g.value,
                                                              .timestamp = Timestamp(g.timestamp_ms)})
                  .ok());
}

// What the PostgreSQL sink makes of the output topics: the latest value per
// key, a tombstone deleting the row.
void Apply(TopologyTestDriver& driver, const TopologyOptions& topics, Tables& t) {
  for (TestRecord& r : driver.Output(topics.events_per_minute)) {
    auto k = EventsPerMinuteKeySerde()->Deserialize(r.key);
    auto v = serdes::Int64()->Deserialize(r.value);
    ASSERT_TRUE(k.ok() && v.ok());
    t.events_per_minute[{k->window.start.value(), k->key}] = *v;
  }
  for (TestRecord& r : driver.Output(topics.revenue_per_minute)) {
    auto k = serdes::Int64()->Deserialize(r.key);
    auto v = RevenueJsonSerde()->Deserialize(r.value);
    ASSERT_TRUE(k.ok() && v.ok()) << v.status();
    t.revenue_per_minute[*k] = Revenue{v->revenue_cents, v->purchases};
  }
  for (TestRecord& r : driver.Output(topics.active_users_5m)) {
    auto k = serdes::Int64()->Deserialize(r.key);
    auto v = serdes::Int64()->Deserialize(r.value);
    ASSERT_TRUE(k.ok() && v.ok());
    t.active_users_5m[*k] = *v;
  }
  for (TestRecord& r : driver.Output(topics.user_sessions)) {
    auto k = UserSessionKeySerde()->Deserialize(r.key);
    auto v = UserSessionValueSerde()->Deserialize(r.value);
    ASSERT_TRUE(k.ok() && v.ok()) << v.status();
    const std::pair<std::string, int64_t> row{k->key, k->window.start.value()};
    if (!v->has_value()) {
      t.user_sessions.erase(row);
    } else {
      t.user_sessions[row] = Session{.end_ms = k->window.end.value(),
                                     .page_views = (*v)->page_views,
                                     .events = (*v)->events,
                                     .revenue_cents = (*v)->revenue_cents};
    }
  }
  for (const std::string& topic : {topics.events_per_minute, topics.revenue_per_minute, topics.active_users_5m,
                                   topics.user_sessions}) {
    driver.Output(topic).clear();
  }
}

TEST(TopologyTest, TablesFromTheOutputTopicsEqualTheOracle) {
  StateDir dir;
  auto driver = Driver(dir);
  const GeneratorOptions options{.seed = 42, .count = 1500, .users = 40, .malformed_share = 0.03, .start_ms = kStart};
  const std::vector<GeneratedEvent> generated = GenerateAll(options);
  Tables actual;
  for (const GeneratedEvent& g : generated) {
    Pipe(*driver, g);
    Apply(*driver, TopologyOptions{}, actual);
  }
  const std::vector<ClickEvent> good = WellFormed(generated);
  const Tables expected = ComputeOracle(good);
  EXPECT_EQ(DescribeDifferences(expected, actual), "");
  EXPECT_GT(expected.user_sessions.size(), 60u);

  // Malformed events: dead-lettered, one each; well-formed ones counted by type.
  const int64_t malformed = static_cast<int64_t>(generated.size() - good.size());
  EXPECT_GT(malformed, 0);
  EXPECT_EQ(static_cast<int64_t>(driver->Output(kDeadLetter).size()), malformed);
  EXPECT_EQ(driver->metrics().CounterTotal("clickstream_events_total"), static_cast<int64_t>(good.size()));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 0);
}

TEST(TopologyTest, AMergedSessionIsDeletedByATombstone) {
  StateDir dir;
  auto driver = Driver(dir);
  auto event = [](int64_t ts) {
    ClickEvent e{.event_id = "e", .user_id = "u-1", .type = EventType::kPageView, .ts_ms = ts, .page = "/"};
    return GeneratedEvent{.key = e.user_id, .value = FormatEvent(e), .timestamp_ms = ts, .event = e};
  };
  Pipe(*driver, event(kStart + 10 * kMinuteMs));
  Pipe(*driver, event(kStart + 40 * kMinuteMs + 1));  // more than the gap later: a second session
  auto& out = driver->Output(TopologyOptions{}.user_sessions);
  ASSERT_EQ(out.size(), 2u);
  out.clear();
  Pipe(*driver, event(kStart + 25 * kMinuteMs));  // bridges both: one session
  std::vector<std::pair<int64_t, bool>> changes;  // (start, deleted)
  for (const TestRecord& r : out) {
    changes.emplace_back(UserSessionKeySerde()->Deserialize(r.key)->window.start.value(), !r.value.has_value());
  }
  EXPECT_THAT(changes, ::testing::UnorderedElementsAre(std::pair{kStart + 10 * kMinuteMs, true},
                                                      std::pair{kStart + 40 * kMinuteMs + 1, true},
                                                      std::pair{kStart + 10 * kMinuteMs, false}));
  // The deletion of the old row with the merged session's start comes before its new value.
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_FALSE(changes.back().second);
}

}  // namespace
}  // namespace runnel_apps::clickstream
