// runnel-reset: makes an application process its input again from a chosen
// point, with its state rebuilt from scratch (Kafka's
// kafka-streams-application-reset for Runnel). See docs/replay.md,
// "Rebuilding state: reset and run again", and options.cc for the flags.
//
// Exit codes: 0 done (or a dry run), 1 refused or failed, 2 usage error.

#include <cstdio>
#include <string>
#include <vector>

#include "options.h"
#include "reset.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/client_config.h"

int main(int argc, char** argv) {
  using namespace runnel::reset;
  auto options = ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "runnel-reset: %s\n%s", std::string(options.status().message()).c_str(), kUsage);
    return 2;
  }
  if (options->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  (void)runnel::SetLogLevel("warn");
  const runnel::Clock& clock = runnel::Clock::System();
  auto connection = runnel::kafka::ToolConnection(options->bootstrap, options->command_config);
  if (!connection.ok()) {
    std::fprintf(stderr, "runnel-reset: %s\n", connection.status().ToString().c_str());
    return 2;
  }
  auto admin = runnel::kafka::Admin::Create(*connection);
  if (!admin.ok()) {
    std::fprintf(stderr, "runnel-reset: %s\n", admin.status().ToString().c_str());
    return admin.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  auto plan = MakePlan(*options, **admin, clock);
  if (!plan.ok()) {
    std::fprintf(stderr, "runnel-reset: %s\n", plan.status().ToString().c_str());
    return 1;
  }
  std::fputs(FormatPlan(*plan, options->execute, options->force_wipe_state).c_str(), stdout);
  std::fflush(stdout);
  if (!options->execute) return 0;
  std::string log;
  absl::Status done = ExecutePlan(*plan, options->force_wipe_state, **admin, clock, log);
  std::fputs(log.c_str(), stdout);
  if (!done.ok()) {
    std::fprintf(stderr, "runnel-reset: %s\n", done.ToString().c_str());
    return 1;
  }
  return 0;
}
