#ifndef RUNNEL_KAFKA_RECORD_H_
#define RUNNEL_KAFKA_RECORD_H_

// Records as they cross the Kafka client boundary.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runnel/common/headers.h"
#include "runnel/common/types.h"

struct rd_kafka_message_s;

namespace runnel::kafka {

// Headers are the common module's (shared with the Processor API).
using Header = ::runnel::Header;
using Headers = ::runnel::Headers;

// A record to send. Views must stay valid until Producer::Send returns (the
// producer copies them).
struct OutgoingRecord {
  std::string_view topic;
  // Unset: the producer's partitioner chooses (murmur2 of the key, like the
  // Java client).
  std::optional<Partition> partition;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  // Unset: the producer stamps the current time.
  std::optional<Timestamp> timestamp;
  const Headers* headers = nullptr;
  // Handed back, untouched, in this record's DeliveryReport: lets the
  // sender tie each report to what it sent the record for (e.g. the
  // request it belongs to). Not sent to Kafka.
  uint64_t tag = 0;
};

// A consumed record. Owns librdkafka's message; the views point into it and
// live as long as this object. Move-only.
//
// FromParts makes one that owns copies instead of a message: for records
// that do not come from a consumer (the topology test driver feeds the real
// StreamTask with them). Accessors branch once on which it holds.
class ConsumedRecord {
 public:
  struct Parts {
    std::string topic;
    Partition partition{0};
    Offset offset{0};
    std::optional<std::string> key;
    std::optional<std::string> value;
    Timestamp timestamp{0};
    Headers headers;
  };
  explicit ConsumedRecord(rd_kafka_message_s* message);
  static ConsumedRecord FromParts(Parts parts);
  ConsumedRecord(ConsumedRecord&&) noexcept;
  ConsumedRecord& operator=(ConsumedRecord&&) noexcept;
  ~ConsumedRecord();

  std::string_view topic() const;
  Partition partition() const;
  Offset offset() const;
  // std::nullopt is Kafka's null key/value.
  std::optional<std::string_view> key() const;
  std::optional<std::string_view> value() const;
  Timestamp timestamp() const;
  // Copies the headers out (headers are rare on the hot path).
  Headers headers() const;

 private:
  ConsumedRecord() = default;
  // Exactly one is set (both null only when moved from).
  rd_kafka_message_s* message_ = nullptr;
  std::unique_ptr<Parts> parts_;
};

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_RECORD_H_
