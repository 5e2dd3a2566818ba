#include "csv.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::replay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<CsvRow> ReadAll(const std::string& text) {
  std::istringstream in(text);
  CsvReader reader(in);
  std::vector<CsvRow> rows;
  CsvRow row;
  while (true) {
    auto more = reader.Next(row);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    rows.push_back(row);
  }
  return rows;
}

TEST(CsvReaderTest, SplitsPlainRowsAndCountsLines) {
  auto rows = ReadAll("a,b,c\n1,2,3\n4,,6\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "2", "3"));
  EXPECT_THAT(rows[2].fields, ElementsAre("4", "", "6"));
  EXPECT_EQ(rows[2].line, 3);
}

TEST(CsvReaderTest, QuotedFieldsHoldCommasQuotesAndNewlines) {
  auto rows = ReadAll("id,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,after\n");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "a, b"));
  EXPECT_THAT(rows[2].fields, ElementsAre("2", "say \"hi\""));
  EXPECT_THAT(rows[3].fields, ElementsAre("3", "two\nlines"));
  EXPECT_EQ(rows[3].line, 4);
  EXPECT_EQ(rows[4].line, 6);  // the quoted newline counted
  for (const auto& r : rows) EXPECT_EQ(r.error, "");
}

TEST(CsvReaderTest, CrlfLineEndsAndNoFinalNewline) {
  auto rows = ReadAll("a,b\r\n1,\"x\r\ny\"\r\n\r\n2,z");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0].fields, ElementsAre("a", "b"));
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "x\r\ny"));
  EXPECT_THAT(rows[2].fields, ElementsAre("2", "z"));
  EXPECT_EQ(rows[2].line, 5);  // the blank line is skipped but counted
}

TEST(CsvReaderTest, MalformedRowsCarryTheirLineAndTheReaderResumes) {
  auto rows = ReadAll("a,b\n1,x\"y\n2,\"ok\"junk\n3,fine\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_THAT(rows[1].error, HasSubstr("quote inside unquoted field 2"));
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_THAT(rows[2].error, HasSubstr("after the closing quote"));
  EXPECT_THAT(rows[3].fields, ElementsAre("3", "fine"));
  EXPECT_EQ(rows[3].line, 4);
}

TEST(CsvReaderTest, UnclosedQuoteAtTheEndIsReportedWithItsStartLine) {
  auto rows = ReadAll("a,b\n1,ok\n2,\"never\nclosed\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_THAT(rows[2].error, HasSubstr("opened on line 3 is never closed"));
}

}  // namespace
}  // namespace runnel::replay
