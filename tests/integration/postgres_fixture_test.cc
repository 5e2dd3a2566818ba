// The postgres CTest fixture: a real server answers, and a test can stop
// and start it.

#include "fixtures/postgres.h"
#include "gtest/gtest.h"

namespace runnel::testing_fixtures {
namespace {

TEST(PostgresFixtureTest, AnswersAQuery) {
  auto rows = QueryPostgres("SELECT 40 + 2, NULL::text");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], "42");
  EXPECT_EQ((*rows)[0][1], std::nullopt);
}

TEST(PostgresFixtureTest, ReportsTheSqlStateOfAnError) {
  auto rows = QueryPostgres("SELECT * FROM no_such_table_anywhere");
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("42P01"), std::string::npos) << rows.status();
}

TEST(PostgresFixtureTest, KeepsDataAcrossAStopAndStart) {
  ASSERT_TRUE(ExecPostgres("CREATE TABLE IF NOT EXISTS fixture_restart (k int primary key);"
                           "INSERT INTO fixture_restart VALUES (7) ON CONFLICT DO NOTHING")
                  .ok());
  ASSERT_TRUE(StopPostgres().ok());
  EXPECT_FALSE(QueryPostgres("SELECT 1").ok());
  ASSERT_TRUE(StartPostgres().ok());
  auto rows = QueryPostgres("SELECT k FROM fixture_restart");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], "7");
}

}  // namespace
}  // namespace runnel::testing_fixtures
