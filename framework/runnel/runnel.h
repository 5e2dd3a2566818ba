#ifndef RUNNEL_RUNNEL_H_
#define RUNNEL_RUNNEL_H_

// The one header users include.

#include "runnel/common/config.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/processor/processor.h"
#include "runnel/runtime/kafka_streams.h"
#include "runnel/runtime/streams_config.h"
#include "runnel/serde/json_serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/sink/postgres_sink.h"

#endif  // RUNNEL_RUNNEL_H_
