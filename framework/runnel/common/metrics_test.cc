#include "runnel/common/metrics.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

TEST(MetricsTest, CountersAreSharedByNameAndLabels) {
  MetricsRegistry registry;
  Counter* a = registry.GetCounter("records", {{"topic", "a"}});
  EXPECT_EQ(a, registry.GetCounter("records", {{"topic", "a"}}));
  Counter* b = registry.GetCounter("records", {{"topic", "b"}});
  std::thread t([&] {
    for (int i = 0; i < 1000; ++i) a->Increment();
  });
  for (int i = 0; i < 1000; ++i) a->Increment();
  t.join();
  b->Increment(5);
  EXPECT_EQ(a->value(), 2000);
  EXPECT_EQ(registry.CounterTotal("records"), 2005);
  EXPECT_EQ(registry.CounterTotal("absent"), 0);
}

TEST(MetricsTest, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
  MetricsRegistry registry;
  registry.SetHelp("runnel_dropped_total", "Records dropped.\nSecond \\ line");
  registry.GetCounter("runnel_dropped_total", {{"reason", "bad"}})->Increment(3);
  registry.GetCounter("runnel_dropped_total", {{"reason", "late"}})->Increment(1);
  registry.GetGauge("runnel_tasks")->Set(4);
  std::string text = registry.ToPrometheusText();
  EXPECT_EQ(text,
            "# HELP runnel_dropped_total Records dropped.\\nSecond \\\\ line\n"
            "# TYPE runnel_dropped_total counter\n"
            "runnel_dropped_total{reason=\"bad\"} 3\n"
            "runnel_dropped_total{reason=\"late\"} 1\n"
            "# HELP runnel_tasks runnel_tasks (undocumented)\n"
            "# TYPE runnel_tasks gauge\n"
            "runnel_tasks 4\n");
}

TEST(MetricsTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  MetricsRegistry registry;
  registry.GetCounter("runnel_x_total", {{"topic", "we\"ird\\na\nme"}})->Increment();
  EXPECT_THAT(registry.ToPrometheusText(),
              ::testing::HasSubstr("runnel_x_total{topic=\"we\\\"ird\\\\na\\nme\"} 1\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndInfEqualsCount) {
  MetricsRegistry registry;
  registry.SetHelp("runnel_latency_seconds", "Latency.");
  const double bounds[] = {0.25, 0.5, 1};
  Histogram* h = registry.GetHistogram("runnel_latency_seconds", {{"task", "0_1"}}, bounds);
  EXPECT_EQ(h, registry.GetHistogram("runnel_latency_seconds", {{"task", "0_1"}}, bounds));
  for (double v : {0.125, 0.25, 0.375, 0.75, 0.75, 4.0}) h->Observe(v);
  Histogram::Snapshot s = h->Read();
  EXPECT_THAT(s.cumulative, ::testing::ElementsAre(2, 3, 5, 6));
  EXPECT_EQ(s.count, 6);
  EXPECT_EQ(s.sum, 6.25);
  EXPECT_EQ(registry.ToPrometheusText(),
            "# HELP runnel_latency_seconds Latency.\n"
            "# TYPE runnel_latency_seconds histogram\n"
            "runnel_latency_seconds_bucket{task=\"0_1\",le=\"0.25\"} 2\n"
            "runnel_latency_seconds_bucket{task=\"0_1\",le=\"0.5\"} 3\n"
            "runnel_latency_seconds_bucket{task=\"0_1\",le=\"1\"} 5\n"
            "runnel_latency_seconds_bucket{task=\"0_1\",le=\"+Inf\"} 6\n"
            "runnel_latency_seconds_sum{task=\"0_1\"} 6.25\n"
            "runnel_latency_seconds_count{task=\"0_1\"} 6\n");
}

TEST(MetricsTest, HistogramObservationsFromManyThreadsAreAllCounted) {
  const double bounds[] = {1, 2};
  Histogram h(bounds);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 10000; ++i) h.Observe(i % 3);
    });
  }
  for (auto& t : threads) t.join();
  Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.count, 40000);
  EXPECT_EQ(s.cumulative.back(), s.count);
  EXPECT_DOUBLE_EQ(s.sum, 4 * (3333 * 1 + 3333 * 2));
}

TEST(MetricsTest, CollectorSamplesJoinTheExposition) {
  MetricsRegistry registry;
  registry.SetHelp("runnel_store_bytes", "Bytes.");
  registry.AddCollector([](std::vector<MetricSample>* out) {
    out->push_back({"runnel_store_bytes", {{"store", "a"}}, 42, false});
  });
  EXPECT_THAT(registry.ToPrometheusText(), ::testing::HasSubstr("# HELP runnel_store_bytes Bytes.\n"
                                                                "# TYPE runnel_store_bytes gauge\n"
                                                                "runnel_store_bytes{store=\"a\"} 42\n"));
  ASSERT_EQ(registry.Snapshot().size(), 1u);
}

TEST(MetricsTest, AFamilyRecordedInMicrosecondsIsExportedInSeconds) {
  MetricsRegistry registry;
  registry.ExportInBaseUnit("runnel_restore_microseconds_total", "runnel_restore_seconds_total", 1e-6);
  registry.SetHelp("runnel_restore_seconds_total", "Restoring.");
  registry.GetCounter("runnel_restore_microseconds_total", {{"thread", "t"}})->Increment(2'500'000);
  EXPECT_EQ(registry.CounterTotal("runnel_restore_microseconds_total"), 2'500'000);
  EXPECT_EQ(registry.ToPrometheusText(),
            "# HELP runnel_restore_seconds_total Restoring.\n"
            "# TYPE runnel_restore_seconds_total counter\n"
            "runnel_restore_seconds_total{thread=\"t\"} 2.5\n");
}

}  // namespace
}  // namespace runnel
