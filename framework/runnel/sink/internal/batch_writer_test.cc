// The batch writer's statements run against the real server in
// tests/integration/postgres_sink_test.cc; here, what needs no server.

#include "runnel/sink/internal/batch_writer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::sink::internal {
namespace {

using ::testing::HasSubstr;

const TableMapping kMapping{.table = "s.t",
                            .key_columns = {{"a", "int"}, {"b", "int"}},
                            .value_columns = {{"v", "text"}}};

TEST(ValidateRowTest, AcceptsAFullUpsertAndADeleteWithoutValues) {
  EXPECT_TRUE(ValidateRow(kMapping, Row{.key = {"1", "2"}, .value = {std::nullopt}}).ok());
  EXPECT_TRUE(ValidateRow(kMapping, Row{.key = {"1", "2"}, .is_delete = true}).ok());
}

TEST(ValidateRowTest, NamesTheTableWhenTheMapperReturnsTheWrongShape) {
  absl::Status keys = ValidateRow(kMapping, Row{.key = {"1"}, .value = {"x"}});
  EXPECT_TRUE(absl::IsInvalidArgument(keys));
  EXPECT_THAT(keys.message(), HasSubstr("1 key values for table s.t"));
  absl::Status values = ValidateRow(kMapping, Row{.key = {"1", "2"}});
  EXPECT_THAT(values.message(), HasSubstr("0 values for table s.t"));
  absl::Status null_key = ValidateRow(kMapping, Row{.key = {"1", std::nullopt}, .value = {"x"}});
  EXPECT_THAT(null_key.message(), HasSubstr("NULL for key column b"));
}

}  // namespace
}  // namespace runnel::sink::internal
