#include "runnel/http/router.h"

#include "gtest/gtest.h"

namespace runnel::http {
namespace {

Handler Named(std::string name) {
  return Sync([name](const Request&) { return Response::Text(200, name); });
}

TEST(RouterTest, MatchesLiteralPathsAndParameters) {
  Router router;
  router.Get("/api/sensors", Named("list")).Get("/api/sensors/{id}", Named("one"));
  router.Get("/api/sensors/{id}/windows", Named("windows"));
  Router::Match m = router.Find(Method::kGet, "/api/sensors/s-17/windows");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params, (Fields{{"id", "s-17"}}));
  m = router.Find(Method::kGet, "/api/sensors");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_TRUE(m.params.empty());
}

TEST(RouterTest, ParametersArePercentDecoded) {
  Router router;
  router.Get("/a/{x}/{y}", Named("a"));
  Router::Match m = router.Find(Method::kGet, "/a/s%201/b%2Fc");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params, (Fields{{"x", "s 1"}, {"y", "b/c"}}));
}

TEST(RouterTest, LiteralBeatsParameter) {
  Router router;
  router.Get("/api/sensors/{id}", Named("one")).Get("/api/sensors/top", Named("top"));
  Router::Match m = router.Find(Method::kGet, "/api/sensors/top");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_TRUE(m.params.empty());
  m = router.Find(Method::kGet, "/api/sensors/x");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params, (Fields{{"id", "x"}}));
}

TEST(RouterTest, NoPathIsNotFoundOtherMethodIsNotAllowed) {
  Router router;
  router.Get("/sensor", Named("g")).Post("/sensor", Named("p")).Get("/x/{id}", Named("x"));
  Router::Match m = router.Find(Method::kGet, "/nope");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "");
  m = router.Find(Method::kDelete, "/sensor");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "GET, POST");
  // Empty segments match no parameter; trailing slashes are other paths.
  EXPECT_EQ(router.Find(Method::kGet, "/x/").handler, nullptr);
  EXPECT_EQ(router.Find(Method::kGet, "/sensor/").handler, nullptr);
  EXPECT_EQ(router.Find(Method::kGet, "/x/%zz").handler, nullptr);
}

TEST(RouterDeathTest, BadPatternsAreProgrammingErrors) {
  EXPECT_DEATH(Router().Get("nope", Named("a")), "must start with");
  EXPECT_DEATH(Router().Get("/a/{", Named("a")), "bad parameter");
  EXPECT_DEATH(Router().Get("/a/{x}/{x}", Named("a")), "twice");
  EXPECT_DEATH(Router().Get("/a/{x}", Named("a")).Get("/a/{y}", Named("b")), "registered twice");
}

}  // namespace
}  // namespace runnel::http
