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

TEST(MetricsTest, PrometheusText) {
  MetricsRegistry registry;
  registry.GetCounter("runnel_dropped_total", {{"reason", "bad"}})->Increment(3);
  registry.GetGauge("runnel_tasks")->Set(4);
  std::string text = registry.ToPrometheusText();
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE runnel_dropped_total counter\n"
                                         "runnel_dropped_total{reason=\"bad\"} 3\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("runnel_tasks 4\n"));
}

}  // namespace
}  // namespace runnel
