#ifndef RUNNEL_RUNTIME_INTERNAL_RAW_RECORD_H_
#define RUNNEL_RUNTIME_INTERNAL_RAW_RECORD_H_

// A consumed record as a source node takes it: views into the consumer's
// buffer, valid while `record` lives (headers are copied out).

#include "runnel/kafka/record.h"
#include "runnel/processor/node.h"

namespace runnel::runtime::internal {

inline RawRecord ToRawRecord(const kafka::ConsumedRecord& record) {
  return RawRecord{.topic = record.topic(),
                   .partition = record.partition(),
                   .offset = record.offset(),
                   .key = record.key(),
                   .value = record.value(),
                   .timestamp = record.timestamp(),
                   .headers = record.headers()};
}

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_RAW_RECORD_H_
