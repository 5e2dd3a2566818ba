#include "runnel/kafka/record.h"

#include <librdkafka/rdkafka.h>

#include <utility>

namespace runnel::kafka {

ConsumedRecord::ConsumedRecord(rd_kafka_message_s* message) : message_(message) {}
ConsumedRecord ConsumedRecord::FromParts(Parts parts) {
  ConsumedRecord record;
  record.parts_ = std::make_unique<Parts>(std::move(parts));
  return record;
}
ConsumedRecord::ConsumedRecord(ConsumedRecord&& other) noexcept
    : message_(std::exchange(other.message_, nullptr)), parts_(std::move(other.parts_)) {}
ConsumedRecord& ConsumedRecord::operator=(ConsumedRecord&& other) noexcept {
  if (this != &other) {
    if (message_ != nullptr) rd_kafka_message_destroy(message_);
    message_ = std::exchange(other.message_, nullptr);
    parts_ = std::move(other.parts_);
  }
  return *this;
}
ConsumedRecord::~ConsumedRecord() {
  if (message_ != nullptr) rd_kafka_message_destroy(message_);
}

std::string_view ConsumedRecord::topic() const {
  if (parts_ != nullptr) return parts_->topic;
  return rd_kafka_topic_name(message_->rkt);
}
Partition ConsumedRecord::partition() const {
  return parts_ != nullptr ? parts_->partition : Partition(message_->partition);
}
Offset ConsumedRecord::offset() const { return parts_ != nullptr ? parts_->offset : Offset(message_->offset); }

std::optional<std::string_view> ConsumedRecord::key() const {
  if (parts_ != nullptr) {
    if (!parts_->key) return std::nullopt;
    return std::string_view(*parts_->key);
  }
  if (message_->key == nullptr) return std::nullopt;
  return std::string_view(static_cast<const char*>(message_->key), message_->key_len);
}

std::optional<std::string_view> ConsumedRecord::value() const {
  if (parts_ != nullptr) {
    if (!parts_->value) return std::nullopt;
    return std::string_view(*parts_->value);
  }
  if (message_->payload == nullptr) return std::nullopt;
  return std::string_view(static_cast<const char*>(message_->payload), message_->len);
}

Timestamp ConsumedRecord::timestamp() const {
  if (parts_ != nullptr) return parts_->timestamp;
  return Timestamp(rd_kafka_message_timestamp(message_, nullptr));
}

Headers ConsumedRecord::headers() const {
  if (parts_ != nullptr) return parts_->headers;
  Headers out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(message_, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == nullptr) {
    return out;
  }
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    out.push_back({name, value == nullptr ? std::nullopt
                                          : std::optional<std::string>(std::string(
                                                static_cast<const char*>(value), size))});
  }
  return out;
}

}  // namespace runnel::kafka
