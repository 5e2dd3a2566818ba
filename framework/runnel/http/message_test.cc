#include "runnel/http/message.h"

#include "gtest/gtest.h"

namespace runnel::http {
namespace {

TEST(PercentDecodeTest, DecodesEscapesAndPlusOnlyInQueries) {
  EXPECT_EQ(PercentDecode("s%201+x", false), "s 1+x");
  EXPECT_EQ(PercentDecode("s%201+x", true), "s 1 x");
  EXPECT_EQ(PercentDecode("%2f%2F", false), "//");
}

TEST(PercentDecodeTest, RefusesBrokenEscapes) {
  EXPECT_FALSE(PercentDecode("%", false));
  EXPECT_FALSE(PercentDecode("ab%2", false));
  EXPECT_FALSE(PercentDecode("%zz", false));
}

TEST(ParseQueryTest, SplitsPairsKeepsOrderAndEmptyValues) {
  auto q = ParseQuery("from=10&to=&flag&name=a%20b&&x=1=2");
  ASSERT_TRUE(q);
  Fields expected = {{"from", "10"}, {"to", ""}, {"flag", ""}, {"name", "a b"}, {"x", "1=2"}};
  EXPECT_EQ(*q, expected);
  EXPECT_FALSE(ParseQuery("a=%zz"));
}

TEST(RequestTest, MakeSplitsTargetIntoPathAndQuery) {
  auto r = Request::Make("GET", "/api/sensors/s%201/windows?from=5&to=9#frag",
                         {{"Content-Type", "Application/JSON; charset=utf-8"}}, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method(), Method::kGet);
  EXPECT_EQ(r->path(), "/api/sensors/s 1/windows");
  EXPECT_EQ(r->Query("from"), "5");
  EXPECT_EQ(r->Query("to"), "9");
  EXPECT_FALSE(r->Query("missing"));
  EXPECT_EQ(r->Header("content-type"), "Application/JSON; charset=utf-8");
  EXPECT_EQ(r->ContentType(), "application/json");
}

TEST(RequestTest, AbsoluteFormTargetsCountAsTheirPath) {
  auto r = Request::Make("GET", "http://example.com:8080/a/b?x=1", {}, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path(), "/a/b");
  EXPECT_EQ(r->target(), "/a/b?x=1");
  EXPECT_EQ(r->Query("x"), "1");
  EXPECT_EQ(Request::Make("GET", "HTTPS://example.com", {}, "")->path(), "/");
  EXPECT_EQ(Request::Make("GET", "http://example.com?q=2", {}, "")->Query("q"), "2");
}

TEST(RequestTest, MakeRefusesTargetsThatAreNotPaths) {
  EXPECT_FALSE(Request::Make("CONNECT", "example.com:443", {}, ""));
  EXPECT_FALSE(Request::Make("GET", "*", {}, ""));
  EXPECT_FALSE(Request::Make("GET", "/a%zz", {}, ""));
  EXPECT_FALSE(Request::Make("GET", "/a?b=%", {}, ""));
}

TEST(RequestTest, UnknownMethodsKeepTheirName) {
  auto r = Request::Make("PROPFIND", "/", {}, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method(), Method::kOther);
  EXPECT_EQ(r->method_name(), "PROPFIND");
}

}  // namespace
}  // namespace runnel::http
