// Builds a topology with the installed headers and library and prints it;
// the test checks the description.
#include <cstdio>

#include "runnel/runnel.h"

int main() {
  runnel::StreamsBuilder builder;
  builder.Stream("in", runnel::Consumed(runnel::serdes::String(), runnel::serdes::Int64()))
      .MapValues([](int64_t v) { return v + 1; })
      .To("out", runnel::Produced(runnel::serdes::String(), runnel::serdes::Int64()));
  auto topology = builder.Build();
  if (!topology.ok()) return 1;
  auto config = runnel::StreamsConfig::Create({{"application.id", "x"}, {"bootstrap.servers", "h:1"}});
  if (!config.ok()) return 1;
  std::printf("%s", (*topology)->Describe().c_str());
  return 0;
}
