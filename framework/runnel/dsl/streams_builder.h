#ifndef RUNNEL_DSL_STREAMS_BUILDER_H_
#define RUNNEL_DSL_STREAMS_BUILDER_H_

// The fluent DSL, the header users include:
//
//   StreamsBuilder builder;
//   builder.Stream<std::string, std::string>("sensor-readings",
//                                            Consumed(serdes::String(), serdes::String()))
//       .Filter([](const auto& k, const auto& v) { return !v.empty(); })
//       .MapValues([](const std::string& v) { return v + "!"; })
//       .To("sensor-clean", Produced(serdes::String(), serdes::String()));
//   auto topology = builder.Build();
//
// Every operation adds a node to the builder's topology; names are generated
// deterministically (KSTREAM-FILTER-0000000001, like Kafka Streams) unless a
// Named is given. Build() validates and compiles. Not thread-safe: build on
// one thread, then share the Topology.
//
// The DSL's types live in one header each (see dsl/README.md for the map);
// they name each other, so this header brings them all.

#include "runnel/dsl/builder.h"
#include "runnel/dsl/global_ktable.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/kgrouped.h"
#include "runnel/dsl/kstream.h"
#include "runnel/dsl/ktable.h"
#include "runnel/dsl/options.h"
#include "runnel/dsl/windowed_kstream.h"
#include "runnel/dsl/windows.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"

#endif  // RUNNEL_DSL_STREAMS_BUILDER_H_
