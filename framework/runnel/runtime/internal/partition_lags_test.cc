#include "runnel/runtime/internal/partition_lags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::runtime::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PartitionLagsTest, ExportsOneGaugePerPartitionWithTheThreadTopicAndPartition) {
  MetricsRegistry registry;
  auto lags = std::make_shared<PartitionLags>("app-StreamThread-1");
  registry.AddCollector([lags](std::vector<MetricSample>* out) { lags->Collect(out); });
  std::vector<std::pair<TopicPartition, int64_t>> update = {{{"in", Partition(0)}, 42}, {{"in", Partition(1)}, -3}};
  lags->Publish(update);
  EXPECT_TRUE(update.empty());
  const std::string text = registry.ToPrometheusText();
  EXPECT_THAT(text, HasSubstr("# TYPE runnel_consumer_lag_records gauge\n"));
  EXPECT_THAT(text,
              HasSubstr("runnel_consumer_lag_records{partition=\"0\",thread=\"app-StreamThread-1\",topic=\"in\"} 42\n"));
  // A negative difference (a watermark older than the position) is 0.
  EXPECT_THAT(text,
              HasSubstr("runnel_consumer_lag_records{partition=\"1\",thread=\"app-StreamThread-1\",topic=\"in\"} 0\n"));
}

TEST(PartitionLagsTest, RevokedPartitionsAndAStoppedThreadLeaveNoSeries) {
  MetricsRegistry registry;
  auto lags = std::make_shared<PartitionLags>("t");
  registry.AddCollector([lags](std::vector<MetricSample>* out) { lags->Collect(out); });
  std::vector<std::pair<TopicPartition, int64_t>> update = {{{"in", Partition(0)}, 5}, {{"in", Partition(1)}, 7}};
  lags->Publish(update);
  lags->Remove({{"in", Partition(0)}});
  std::string text = registry.ToPrometheusText();
  EXPECT_THAT(text, Not(HasSubstr("partition=\"0\"")));
  EXPECT_THAT(text, HasSubstr("runnel_consumer_lag_records{partition=\"1\",thread=\"t\",topic=\"in\"} 7\n"));
  lags->Clear();
  EXPECT_THAT(registry.ToPrometheusText(), Not(HasSubstr("runnel_consumer_lag_records")));
}

TEST(PartitionLagsTest, APublishReplacesTheWholeTable) {
  PartitionLags lags("t");
  std::vector<std::pair<TopicPartition, int64_t>> update = {{{"a", Partition(0)}, 1}, {{"b", Partition(0)}, 2}};
  lags.Publish(update);
  update = {{{"b", Partition(0)}, 0}};
  lags.Publish(update);
  std::vector<MetricSample> samples;
  lags.Collect(&samples);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].labels.at("topic"), "b");
  EXPECT_EQ(samples[0].value, 0);
}

}  // namespace
}  // namespace runnel::runtime::internal
