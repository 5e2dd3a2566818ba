#ifndef RUNNEL_SERDE_PROTOBUF_SERDE_H_
#define RUNNEL_SERDE_PROTOBUF_SERDE_H_

// Serdes for protobuf messages: binary wire format (Protobuf<M>()) and the
// canonical proto3 JSON mapping (ProtobufJson<M>()). JSON without a schema is
// json_serde.h.

#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "runnel/serde/serde.h"

namespace runnel::serdes {

template <typename M>
class ProtobufSerde final : public Serde<M> {
  static_assert(std::is_base_of_v<google::protobuf::Message, M>);

 public:
  absl::Status Serialize(const M& value, std::string& out) const override {
    out.clear();
    if (!value.SerializeToString(&out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("protobuf serde: cannot serialize ", M::descriptor()->full_name(),
                       " (missing required fields?)"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<M> Deserialize(std::optional<std::string_view> data) const override {
    M message;
    // A null payload is the default message, as the Java protobuf serde's
    // callers usually treat it; use Nullable() to tell them apart.
    if (data && !message.ParseFromArray(data->data(), static_cast<int>(data->size()))) {
      return absl::InvalidArgumentError(absl::StrCat("protobuf serde: bytes are not a valid ",
                                                     M::descriptor()->full_name()));
    }
    return message;
  }
  std::string_view Name() const override { return name_; }

 private:
  std::string name_ = absl::StrCat("protobuf<", M::descriptor()->full_name(), ">");
};

template <typename M>
class ProtobufJsonSerde final : public Serde<M> {
  static_assert(std::is_base_of_v<google::protobuf::Message, M>);

 public:
  absl::Status Serialize(const M& value, std::string& out) const override {
    out.clear();
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    auto status = google::protobuf::util::MessageToJsonString(value, &out, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("protobuf-json serde: ", status.ToString()));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<M> Deserialize(std::optional<std::string_view> data) const override {
    M message;
    if (!data) return message;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(data->data(), data->size()), &message, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("protobuf-json serde: not a valid ",
                                                     M::descriptor()->full_name(), ": ",
                                                     status.message().as_string()));
    }
    return message;
  }
  std::string_view Name() const override { return name_; }

 private:
  std::string name_ = absl::StrCat("protobuf-json<", M::descriptor()->full_name(), ">");
};

template <typename M>
SerdePtr<M> Protobuf() {
  return std::make_shared<ProtobufSerde<M>>();
}

template <typename M>
SerdePtr<M> ProtobufJson() {
  return std::make_shared<ProtobufJsonSerde<M>>();
}

}  // namespace runnel::serdes

#endif  // RUNNEL_SERDE_PROTOBUF_SERDE_H_
