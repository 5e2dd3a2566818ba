#include "runnel/common/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;

ConfigDef TestDef() {
  ConfigDef def;
  def.Define({.name = "application.id", .type = ConfigType::kString, .doc = "id"})
      .Define({.name = "num.stream.threads",
               .type = ConfigType::kInt,
               .default_value = "1",
               .min = 1,
               .max = 64})
      .Define({.name = "processing.guarantee",
               .default_value = "at_least_once",
               .allowed = {"at_least_once", "exactly_once_v2"}})
      .Define({.name = "flag", .type = ConfigType::kBool, .default_value = "false"})
      .Define({.name = "ratio", .type = ConfigType::kDouble, .default_value = "0.5", .min = 0, .max = 1})
      .Define({.name = "topics", .type = ConfigType::kList, .default_value = ""})
      .PassThroughPrefix("consumer.");
  return def;
}

TEST(ConfigTest, ParsesTypedValuesAndDefaults) {
  auto config = Config::Parse(TestDef(), {{"application.id", "app"},
                                          {"num.stream.threads", " 4 "},
                                          {"flag", "TRUE"},
                                          {"topics", "a, b,,c"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("application.id"), "app");
  EXPECT_EQ(config->GetInt("num.stream.threads"), 4);
  EXPECT_TRUE(config->GetBool("flag"));
  EXPECT_DOUBLE_EQ(config->GetDouble("ratio"), 0.5);
  EXPECT_EQ(config->GetString("processing.guarantee"), "at_least_once");
  EXPECT_THAT(config->GetList("topics"), ::testing::ElementsAre("a", "b", "c"));
  EXPECT_TRUE(config->IsSet("flag"));
  EXPECT_FALSE(config->IsSet("ratio"));
}

TEST(ConfigTest, UnknownKeyIsAnErrorNamingIt) {
  auto config = Config::Parse(TestDef(), {{"application.id", "a"}, {"num.stream.thread", "2"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("'num.stream.thread'"));
}

TEST(ConfigTest, UnknownKeySuggestsTheNearestKnownOne) {
  auto config = Config::Parse(TestDef(), {{"application.id", "a"}, {"num.stream.thread", "2"}});
  EXPECT_THAT(config.status().message(), HasSubstr("did you mean 'num.stream.threads'?"));
  config = Config::Parse(TestDef(), {{"application.id", "a"}, {"procesing.guarantee", "at_least_once"}});
  EXPECT_THAT(config.status().message(), HasSubstr("did you mean 'processing.guarantee'?"));
  // A misspelt pass-through prefix.
  config = Config::Parse(TestDef(), {{"application.id", "a"}, {"consumr.fetch.max.bytes", "1"}});
  EXPECT_THAT(config.status().message(), HasSubstr("did you mean 'consumer.fetch.max.bytes'?"));
  // Nothing near: no suggestion.
  config = Config::Parse(TestDef(), {{"application.id", "a"}, {"bootstrap.servers", "b:1"}});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), ::testing::Not(HasSubstr("did you mean")));
}

TEST(ConfigTest, BadValuesNameTheKey) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"num.stream.threads", "two"},
           {"num.stream.threads", "0"},
           {"num.stream.threads", "65"},
           {"processing.guarantee", "exactly_once"},
           {"flag", "yes"},
           {"ratio", "1.5"}}) {
    auto config = Config::Parse(TestDef(), {{"application.id", "a"}, {key, value}});
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << key << "=" << value;
    EXPECT_THAT(config.status().message(), HasSubstr("'" + key + "'"));
    EXPECT_THAT(config.status().message(), HasSubstr("'" + value + "'"));
  }
}

TEST(ConfigTest, SecretKeysAreRecognised) {
  for (const char* key : {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password",
                          "ssl.key.pem", "sasl.jaas.config", "sasl.oauthbearer.client.secret", "consumer.sasl.password",
                          "admin.ssl.key.pem", "db.PASSWORD", "api.token", "sasl.oauthbearer.token.endpoint.url",
                          "aws.credentials"}) {
    EXPECT_TRUE(IsSecretConfigKey(key)) << key;
  }
  for (const char* key : {"sasl.username", "sasl.mechanism", "security.protocol", "ssl.ca.location",
                          "ssl.certificate.location", "ssl.key.location", "bootstrap.servers", "application.id"}) {
    EXPECT_FALSE(IsSecretConfigKey(key)) << key;
  }
}

TEST(ConfigTest, DescribeHidesSecretValues) {
  ConfigDef def = TestDef();
  def.PassThroughPrefix("sasl.").Define({.name = "db.password", .default_value = ""});
  auto config = Config::Parse(def, {{"application.id", "app"},
                                    {"sasl.username", "alice"},
                                    {"sasl.password", "hunter2-sasl"},
                                    {"consumer.ssl.key.password", "hunter2-key"},
                                    {"db.password", "hunter2-db"}});
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string described = config->Describe();
  EXPECT_THAT(described, HasSubstr("sasl.username=alice\n"));
  EXPECT_THAT(described, HasSubstr("sasl.password=[hidden]\n"));
  EXPECT_THAT(described, HasSubstr("consumer.ssl.key.password=[hidden]\n"));
  EXPECT_THAT(described, HasSubstr("db.password=[hidden]\n"));
  EXPECT_THAT(described, ::testing::Not(HasSubstr("hunter2")));
}

TEST(ConfigTest, BadSecretValueIsNotEchoed) {
  ConfigDef def = TestDef();
  def.Define({.name = "db.password", .type = ConfigType::kInt, .default_value = "0"});
  auto config = Config::Parse(def, {{"application.id", "a"}, {"db.password", "hunter2"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("'db.password'"));
  EXPECT_THAT(config.status().message(), ::testing::Not(HasSubstr("hunter2")));
}

TEST(ConfigTest, MissingRequiredKeyIsAnError) {
  auto config = Config::Parse(TestDef(), {});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("'application.id' is required"));
}

TEST(ConfigTest, PassThroughKeysKeptWithoutPrefix) {
  auto config = Config::Parse(TestDef(), {{"application.id", "a"},
                                          {"consumer.fetch.max.bytes", "1000"},
                                          {"consumer.", "x"}});
  // A bare prefix is not a key.
  ASSERT_FALSE(config.ok());
  config = Config::Parse(TestDef(), {{"application.id", "a"}, {"consumer.fetch.max.bytes", "1000"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->WithPrefix("consumer."),
            (std::map<std::string, std::string>{{"fetch.max.bytes", "1000"}}));
}

TEST(ConfigTest, ParsesPropertiesText) {
  auto values = ParseProperties(
      "# comment\n! also comment\n\napplication.id = my-app\nbootstrap.servers: h:1\n"
      "long.value = a,\\\n    b\n",
      "test.properties");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ((*values)["application.id"], "my-app");
  EXPECT_EQ((*values)["bootstrap.servers"], "h:1");
  EXPECT_EQ((*values)["long.value"], "a,b");
}

TEST(ConfigTest, MalformedPropertiesNameFileAndLine) {
  auto values = ParseProperties("a=1\nnot a pair\n", "x.properties");
  ASSERT_FALSE(values.ok());
  EXPECT_THAT(values.status().message(), HasSubstr("x.properties:2"));
}

TEST(ConfigTest, MissingFileIsAnError) {
  auto values = ParsePropertiesFile("/nonexistent/runnel.properties");
  EXPECT_EQ(values.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, EnvironmentMapsToDottedKeys) {
  std::string a = "RUNNEL_CONF_COMMIT_INTERVAL_MS=100";
  std::string b = "RUNNEL_CONF_CONSUMER_FETCH_MAX_BYTES=7";
  std::string c = "OTHER=1";
  std::string d = "RUNNEL_CACHE=/tmp";
  char* env[] = {a.data(), b.data(), c.data(), d.data(), nullptr};
  auto values = ConfigFromEnvironment("RUNNEL_CONF_", env);
  EXPECT_EQ(values, (std::map<std::string, std::string>{{"commit.interval.ms", "100"},
                                                       {"consumer.fetch.max.bytes", "7"}}));
}

TEST(ConfigTest, LoaderLaterSourcesWin) {
  ConfigLoader loader;
  loader.Add({{"application.id", "file"}, {"num.stream.threads", "2"}});
  loader.Add({{"application.id", "override"}});
  auto config = loader.Build(TestDef());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->GetString("application.id"), "override");
  EXPECT_EQ(config->GetInt("num.stream.threads"), 2);
}

}  // namespace
}  // namespace runnel
