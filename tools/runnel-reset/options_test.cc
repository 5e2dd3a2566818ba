#include "options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::reset {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ResetOptions> Parse(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--application-id", "app", "--bootstrap", "127.0.0.1:9092"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ParseArgs(args);
}

TEST(ParseArgsTest, DefaultsToADryRunToTheEarliestOffsets) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->application_id, "app");
  EXPECT_EQ(o->bootstrap, "127.0.0.1:9092");
  EXPECT_FALSE(o->execute);
  EXPECT_EQ(o->target.kind, OffsetTarget::Kind::kEarliest);
  EXPECT_TRUE(o->input_topics.empty());
  EXPECT_TRUE(o->state_dir.empty());
}

TEST(ParseArgsTest, ReadsEveryFlagInBothSpellings) {
  auto o = Parse({"--input-topics", "a, b", "--internal-topics=app-x-changelog", "--state-dir", "/tmp/s",
                  "--to-offset=7", "--execute", "--force-wipe-state"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->input_topics, ::testing::ElementsAre("a", "b"));
  EXPECT_THAT(o->internal_topics, ::testing::ElementsAre("app-x-changelog"));
  EXPECT_EQ(o->state_dir, "/tmp/s");
  EXPECT_EQ(o->target.kind, OffsetTarget::Kind::kOffset);
  EXPECT_EQ(o->target.offset, 7);
  EXPECT_TRUE(o->execute);
  EXPECT_TRUE(o->force_wipe_state);
}

TEST(ParseArgsTest, TimeTargetsCarryTheirMilliseconds) {
  auto at = Parse({"--to-datetime", "2026-03-02T06:00:00Z"});
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(at->target.kind, OffsetTarget::Kind::kTime);
  EXPECT_EQ(at->target.millis, 1772431200000);
  EXPECT_EQ(at->target.describe, "--to-datetime 2026-03-02T06:00:00Z");
  auto back = Parse({"--by-duration", "PT1H"});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->target.kind, OffsetTarget::Kind::kDuration);
  EXPECT_EQ(back->target.millis, 3600000);
  auto latest = Parse({"--to-latest"});
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->target.kind, OffsetTarget::Kind::kLatest);
}

void ExpectBad(std::vector<std::string> args, const std::string& message) {
  auto o = ParseArgs(args);
  ASSERT_FALSE(o.ok()) << "accepted a bad command line; expected: " << message;
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr(message));
}

TEST(ParseArgsTest, ABadFlagOrValueIsNamed) {
  const std::vector<std::string> base = {"--application-id", "app", "--bootstrap", "b:1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  ExpectBad({"--bootstrap", "b:1"}, "--application-id: is required");
  ExpectBad({"--application-id", "app"}, "--bootstrap: is required");
  ExpectBad(with({"--no-such-flag", "1"}), "--no-such-flag: unknown flag");
  ExpectBad(with({"--state-dir"}), "--state-dir: needs a value");
  ExpectBad(with({"--execute=yes"}), "--execute: takes no value");
  ExpectBad(with({"--to-offset", "-3"}), "--to-offset: '-3' is not an offset");
  ExpectBad(with({"--to-datetime", "yesterday"}), "--to-datetime: 'yesterday' is not an ISO-8601 time");
  ExpectBad(with({"--by-duration", "1h"}), "--by-duration: '1h' is not an ISO-8601 duration");
  ExpectBad(with({"--to-latest", "--to-offset", "3"}), "--to-offset: conflicts with --to-latest");
  ExpectBad(with({"--input-topics", "a,,b"}), "--input-topics: an empty topic name");
  ExpectBad(with({"--internal-topics", "orders"}), "--internal-topics: 'orders' is not an internal topic of 'app'");
  ExpectBad(with({"--force-wipe-state"}), "--force-wipe-state: needs --state-dir");
}

TEST(ParseIsoDurationTest, ReadsDaysTimesWeeksAndFractions) {
  EXPECT_EQ(*ParseIsoDuration("P1D"), 86400000);
  EXPECT_EQ(*ParseIsoDuration("PT1H30M"), 5400000);
  EXPECT_EQ(*ParseIsoDuration("P2DT12H"), 216000000);
  EXPECT_EQ(*ParseIsoDuration("PT0.5S"), 500);
  EXPECT_EQ(*ParseIsoDuration("P1W"), 604800000);
  EXPECT_EQ(*ParseIsoDuration("pt15m"), 900000);  // lower case too
  EXPECT_EQ(*ParseIsoDuration("P0D"), 0);
}

TEST(ParseIsoDurationTest, RefusesWhatItCannotMeasure) {
  for (const char* bad : {"", "P", "PT", "1D", "P1H", "PT1D", "P1M", "P1Y", "P1.5D", "PT1H2", "PTT1H", "P-1D"}) {
    auto d = ParseIsoDuration(bad);
    EXPECT_FALSE(d.ok()) << "'" << bad << "' gave " << *d;
  }
  EXPECT_THAT(std::string(ParseIsoDuration("P1M").status().message()), HasSubstr("use days"));
}

TEST(ParseDateTimeTest, ReadsZonesAndFractionsAndFormatsBack) {
  EXPECT_EQ(*ParseDateTime("2026-03-02T06:00:00Z"), 1772431200000);
  EXPECT_EQ(*ParseDateTime("2026-03-02T07:00:00.250+01:00"), 1772431200250);
  EXPECT_EQ(*ParseDateTime("2026-03-02T06:00:00"), 1772431200000);  // no zone: UTC
  EXPECT_EQ(FormatMillis(1772431200250), "2026-03-02T06:00:00.250Z");
  EXPECT_FALSE(ParseDateTime("2026-13-02T06:00:00Z").ok());
}

}  // namespace
}  // namespace runnel::reset
