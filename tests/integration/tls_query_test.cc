// TLS and mutual TLS of the interactive-query service (query.tls.*), on the
// real broker with real sockets: answers over TLS, refusals at the
// handshake (no client certificate, one from another CA, plaintext), a
// query forwarded between two instances under mutual TLS, start-up refusing
// a missing file, and outside clients (grpcurl, runnel-query) over mTLS.
// Certificates come from tls_make_certs.sh. See docs/tls.md.

#include <set>

#include "absl/strings/match.h"

#include "integration/interactive_query_fixture.h"
#include "integration/tls_certs.h"

namespace runnel::iq_test {
namespace {

using tls_test::Certs;
using tls_test::MakeCerts;
using tls_test::ReadFile;
using tls_test::RunCommand;

std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const Certs& certs, const std::string& ca,
                                                         const std::string& client = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(certs.Path(ca));
  if (!client.empty()) {
    options.pem_cert_chain = ReadFile(certs.Path(client + ".pem"));
    options.pem_private_key = ReadFile(certs.Path(client + ".key"));
  }
  return grpc::SslCredentials(options);
}

class TlsQueryTest : public InteractiveQueryTest {
 protected:
  ~TlsQueryTest() override { std::filesystem::remove_all(certs_.dir); }

  std::map<std::string, std::string> TlsConfig(bool mutual) const {
    std::map<std::string, std::string> c = {{"query.tls.cert.file", certs_.Path("server.pem")},
                                            {"query.tls.key.file", certs_.Path("server.key")}};
    if (mutual) {
      c["query.tls.ca.file"] = certs_.Path("ca.pem");
      c["query.tls.client.auth"] = "required";
    }
    return c;
  }
  // A Get through a fresh channel with `credentials`: the gRPC status code.
  grpc::StatusCode GetWith(const std::string& endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials) {
    auto stub = v1::QueryService::NewStub(grpc::CreateChannel(endpoint, std::move(credentials)));
    grpc::StatusCode code = grpc::StatusCode::OK;
    Get(*stub, counts_.begin()->first, &code);
    return code;
  }

  Certs certs_ = MakeCerts();
};

TEST(TlsQueryConfigTest, TheKeysMustFitTogetherAndErrorsNameThem) {
  const std::map<std::string, std::string> base = {{"application.id", "a"},
                                                   {"bootstrap.servers", "127.0.0.1:1"},
                                                   {"application.server", "127.0.0.1:7001"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(base.begin(), base.end());
    return StreamsConfig::Create(extra).status();
  };
  absl::Status s = with({{"query.tls.cert.file", "/c.pem"}});
  EXPECT_TRUE(absl::IsInvalidArgument(s) && absl::StrContains(s.message(), "query.tls.key.file")) << s;
  s = with({{"query.tls.cert.file", "/c.pem"}, {"query.tls.key.file", "/k"}, {"query.tls.client.auth", "required"}});
  EXPECT_TRUE(absl::IsInvalidArgument(s) && absl::StrContains(s.message(), "query.tls.ca.file")) << s;
  s = with({{"query.tls.client.auth", "sometimes"}});
  EXPECT_TRUE(absl::IsInvalidArgument(s) && absl::StrContains(s.message(), "query.tls.client.auth")) << s;
  s = with({{"query.tls.ca.file", "/ca.pem"}});
  EXPECT_TRUE(absl::IsInvalidArgument(s) && absl::StrContains(s.message(), "query.tls.cert.file")) << s;
  EXPECT_TRUE(with({{"query.tls.cert.file", "/c.pem"}, {"query.tls.key.file", "/k"}}).ok());
}

TEST_F(TlsQueryTest, AMissingCertificateFileStopsTheQueryServerNamingKeyAndPath) {
  const std::string missing = certs_.Path("no-such.pem");
  auto config = StreamsConfig::Create({{"application.id", app_},
                                       {"bootstrap.servers", BootstrapServers()},
                                       {"state.dir", std::filesystem::temp_directory_path() / UniqueName("tls-s")},
                                       {"application.server", absl::StrCat("127.0.0.1:", FreePort())},
                                       {"query.tls.cert.file", missing},
                                       {"query.tls.key.file", certs_.Path("server.key")}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto streams = KafkaStreams::Create(CountTopology(input_), *config);
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE((*streams)->Start().ok());
  auto server = query::QueryServer::Start(**streams);
  EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
  EXPECT_TRUE(absl::StrContains(server.status().message(), "query.tls.cert.file")) << server.status();
  EXPECT_TRUE(absl::StrContains(server.status().message(), missing)) << server.status();
  EXPECT_TRUE((*streams)->Close(absl::Seconds(60)).ok());
}

TEST_F(TlsQueryTest, AQueryIsAnsweredOverTlsAndPlaintextIsRefused) {
  auto config = TlsConfig(/*mutual=*/false);
  // The metrics server over HTTPS too (metrics.tls.*).
  config["metrics.server"] = "127.0.0.1:0";
  config["metrics.tls.cert.file"] = certs_.Path("server.pem");
  config["metrics.tls.key.file"] = certs_.Path("server.key");
  Instance& instance = AddInstance("200", config);
  channel_credentials_ = TlsCredentials(certs_, "ca.pem");
  AwaitConverged(instance.endpoint);
  EXPECT_EQ(GetWith(instance.endpoint, grpc::InsecureChannelCredentials()), grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the issuing CA refuses the server.
  EXPECT_EQ(GetWith(instance.endpoint, TlsCredentials(certs_, "other-ca.pem")), grpc::StatusCode::UNAVAILABLE);
  // runnel::query::Client, routed, over TLS.
  auto client = query::Client::Connect(instance.endpoint, {.tls = TlsSettings{.ca_file = certs_.Path("ca.pem")}});
  ASSERT_TRUE(client.ok()) << client.status();
  v1::GetRequest get;
  get.set_store("counts");
  get.mutable_key()->set_text(counts_.begin()->first);
  auto answer = (*client)->Get(get);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(Long(answer->value().raw()), counts_.begin()->second);

  const std::string healthz = absl::StrCat("https://127.0.0.1:", instance.streams->metrics_port(), "/healthz");
  auto metrics = RunCommand(absl::StrCat("curl -sS --max-time 10 --cacert ", certs_.Path("ca.pem"), " ", healthz));
  EXPECT_EQ(metrics.exit_code, 0) << metrics.output;
  EXPECT_TRUE(absl::StrContains(metrics.output, "up")) << metrics.output;
  auto plain = RunCommand(absl::StrCat("curl -sS --max-time 10 http://127.0.0.1:", instance.streams->metrics_port(),
                                       "/healthz"));
  EXPECT_NE(plain.exit_code, 0) << plain.output;
}

TEST_F(TlsQueryTest, MutualTlsRefusesClientsWithoutACertificateOrWithOneFromAnotherCa) {
  Instance& instance = AddInstance("200", TlsConfig(/*mutual=*/true));
  channel_credentials_ = TlsCredentials(certs_, "ca.pem", "client");
  AwaitConverged(instance.endpoint);
  EXPECT_EQ(GetWith(instance.endpoint, TlsCredentials(certs_, "ca.pem")), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetWith(instance.endpoint, TlsCredentials(certs_, "ca.pem", "other-client")),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetWith(instance.endpoint, grpc::InsecureChannelCredentials()), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetWith(instance.endpoint, TlsCredentials(certs_, "ca.pem", "client")), grpc::StatusCode::OK);
}

TEST_F(TlsQueryTest, AQueryIsForwardedToTheOwningInstanceUnderMutualTls) {
  AddInstance("200", TlsConfig(/*mutual=*/true));
  AddInstance("200", TlsConfig(/*mutual=*/true));
  AwaitActiveProcesses(2);
  channel_credentials_ = TlsCredentials(certs_, "ca.pem", "client");
  // Every key through the first instance: the second's keys are forwarded.
  AwaitConverged(instances_[0]->endpoint);
  auto stub = Stub(instances_[0]->endpoint);
  std::set<std::string> answered_by;
  for (const auto& [key, n] : counts_) {
    v1::GetRequest req;
    req.set_store("counts");
    req.mutable_key()->set_text(key);
    v1::GetResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(stub->Get(&ctx, req, &resp).ok()) << key;
    EXPECT_EQ(Long(resp.value().raw()), n) << key;
    answered_by.insert(resp.answered_by().endpoint());
  }
  EXPECT_EQ(answered_by, (std::set<std::string>{instances_[0]->endpoint, instances_[1]->endpoint}));
}

TEST_F(TlsQueryTest, GrpcurlAndRunnelQueryAnswerOverMutualTlsAndGrpcurlWithoutACertIsRefused) {
  Instance& instance = AddInstance("200", TlsConfig(/*mutual=*/true));
  channel_credentials_ = TlsCredentials(certs_, "ca.pem", "client");
  AwaitConverged(instance.endpoint);
  const auto& [key, count] = *counts_.begin();
  const std::string grpcurl = RUNNEL_GRPCURL;
  ASSERT_TRUE(std::filesystem::exists(grpcurl)) << grpcurl << " is missing: run tools/setup";
  const std::string tls = absl::StrCat(" -cacert ", certs_.Path("ca.pem"));
  const std::string mtls =
      absl::StrCat(tls, " -cert ", certs_.Path("client.pem"), " -key ", certs_.Path("client.key"));
  const std::string get = absl::StrCat(" -d '{\"store\":\"counts\",\"key\":{\"text\":\"", key, "\"}}' ",
                                       instance.endpoint, " runnel.query.v1.QueryService/Get");
  // Through reflection: no .proto file given.
  auto answer = RunCommand(grpcurl + mtls + get);
  EXPECT_EQ(answer.exit_code, 0) << answer.output;
  EXPECT_TRUE(absl::StrContains(answer.output, "\"found\": true")) << answer.output;
  EXPECT_TRUE(absl::StrContains(answer.output, absl::StrCat("\"json\": \"", count, "\""))) << answer.output;
  auto list = RunCommand(grpcurl + mtls + " " + instance.endpoint + " list");
  EXPECT_TRUE(absl::StrContains(list.output, "runnel.query.v1.QueryService")) << list.output;
  auto refused = RunCommand(grpcurl + tls + get);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_FALSE(absl::StrContains(refused.output, "\"found\"")) << refused.output;
  auto plaintext = RunCommand(grpcurl + " -plaintext" + get);
  EXPECT_NE(plaintext.exit_code, 0) << plaintext.output;

  const std::string cli = absl::StrCat(RUNNEL_QUERY_CLI, " --server ", instance.endpoint, " --timeout-ms 3000");
  auto cli_answer = RunCommand(absl::StrCat(cli, " --cacert ", certs_.Path("ca.pem"), " --cert ", certs_.Path("client.pem"),
                                     " --key ", certs_.Path("client.key"), " get counts ", key));
  EXPECT_EQ(cli_answer.exit_code, 0) << cli_answer.output;
  EXPECT_TRUE(absl::StrContains(cli_answer.output, absl::StrCat(count))) << cli_answer.output;
  auto cli_refused = RunCommand(absl::StrCat(cli, " --cacert ", certs_.Path("ca.pem"), " get counts ", key));
  EXPECT_EQ(cli_refused.exit_code, 1) << cli_refused.output;
}

}  // namespace
}  // namespace runnel::iq_test
