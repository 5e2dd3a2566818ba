#include "runnel/sink/internal/sql.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::sink::internal {
namespace {

using ::testing::HasSubstr;

TableMapping Revenue() {
  return {.table = "analytics.revenue",
          .key_columns = {{"window_start", "timestamptz"}, {"currency", "text"}},
          .value_columns = {{"amount", "numeric(18,2)"}, {"orders", "bigint"}}};
}

TEST(SqlTest, QuotesNamesAndDoublesEmbeddedQuotes) {
  EXPECT_EQ(QuoteName("user"), "\"user\"");
  EXPECT_EQ(QuoteName("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(QuoteTableName("s.t"), "\"s\".\"t\"");
  EXPECT_EQ(QuoteTableName("Mixed"), "\"Mixed\"");
}

TEST(SqlTest, RejectsBadNamesNamingTheField) {
  EXPECT_TRUE(ValidateTableName("public.events", "f").ok());
  absl::Status empty = ValidateName("", "routes[0].mapping.key_columns[0].name");
  EXPECT_TRUE(absl::IsInvalidArgument(empty));
  EXPECT_THAT(empty.message(), HasSubstr("routes[0].mapping.key_columns[0].name"));
  EXPECT_FALSE(ValidateTableName("a.b.c", "f").ok());
  EXPECT_FALSE(ValidateTableName("a..b", "f").ok());
  EXPECT_FALSE(ValidateTableName(".b", "f").ok());
  EXPECT_FALSE(ValidateName(std::string(64, 'x'), "f").ok());
  EXPECT_TRUE(ValidateName(std::string(63, 'x'), "f").ok());
  EXPECT_FALSE(ValidateName(std::string("a\0b", 3), "f").ok());
}

TEST(SqlTest, RejectsSqlTypesThatCouldEndTheStatement) {
  EXPECT_TRUE(ValidateSqlType("numeric(18, 2)", "f").ok());
  EXPECT_TRUE(ValidateSqlType("varchar(10)[]", "f").ok());
  EXPECT_FALSE(ValidateSqlType("", "f").ok());
  EXPECT_FALSE(ValidateSqlType("int; DROP TABLE x", "f").ok());
  EXPECT_FALSE(ValidateSqlType("int -- x", "f").ok());
  EXPECT_FALSE(ValidateSqlType("int /* x */", "f").ok());
}

TEST(SqlTest, CreatesTheSchemaAndTableWithTheKeyAsPrimaryKey) {
  EXPECT_EQ(CreateTableSql(Revenue()),
            "CREATE SCHEMA IF NOT EXISTS \"analytics\"; CREATE TABLE IF NOT EXISTS \"analytics\".\"revenue\" ("
            "\"window_start\" timestamptz, \"currency\" text, \"amount\" numeric(18,2), \"orders\" bigint, "
            "PRIMARY KEY (\"window_start\", \"currency\"))");
}

TEST(SqlTest, UpsertsManyRowsWithParametersAndUpdatesTheValueColumns) {
  EXPECT_EQ(UpsertSql(Revenue(), 2),
            "INSERT INTO \"analytics\".\"revenue\" (\"window_start\", \"currency\", \"amount\", \"orders\") "
            "VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT (\"window_start\", \"currency\") DO UPDATE "
            "SET \"amount\" = EXCLUDED.\"amount\", \"orders\" = EXCLUDED.\"orders\"");
}

TEST(SqlTest, UpsertWithoutValueColumnsDoesNothingOnConflict) {
  TableMapping keys_only{.table = "seen", .key_columns = {{"id", "bigint"}}};
  EXPECT_EQ(UpsertSql(keys_only, 1),
            "INSERT INTO \"seen\" (\"id\") VALUES ($1) ON CONFLICT (\"id\") DO NOTHING");
}

TEST(SqlTest, DeletesByKeyCastToTheColumnTypes) {
  EXPECT_EQ(DeleteSql(Revenue(), 2),
            "DELETE FROM \"analytics\".\"revenue\" WHERE (\"window_start\", \"currency\") IN "
            "(($1::timestamptz, $2::text), ($3::timestamptz, $4::text))");
  TableMapping untyped{.table = "t", .key_columns = {{"id", ""}}};
  EXPECT_EQ(DeleteSql(untyped, 1), "DELETE FROM \"t\" WHERE (\"id\") IN (($1))");
}

TEST(SqlTest, RowsPerStatementStayWithinTheParameterLimit) {
  EXPECT_EQ(RowsPerStatement(4), kMaxRowsPerStatement);
  EXPECT_EQ(RowsPerStatement(100), 655u);
  EXPECT_EQ(RowsPerStatement(100000), 1u);
  EXPECT_LE(RowsPerStatement(70) * 70, kMaxStatementParams);
}

}  // namespace
}  // namespace runnel::sink::internal
