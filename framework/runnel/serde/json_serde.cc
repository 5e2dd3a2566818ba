#include "runnel/serde/json_serde.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace runnel::serdes {
namespace {

class JsonSerde final : public Serde<JsonValue> {
 public:
  absl::Status Serialize(const JsonValue& value, std::string& out) const override {
    auto text = PrintJson(value);
    if (!text.ok()) return text.status();
    out = *std::move(text);
    return absl::OkStatus();
  }
  absl::StatusOr<JsonValue> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) {
      JsonValue null_value;
      null_value.set_null_value(google::protobuf::NULL_VALUE);
      return null_value;
    }
    return ParseJson(*data);
  }
  bool IsNull(const JsonValue& value) const override {
    return value.kind_case() == JsonValue::KIND_NOT_SET;
  }
  std::string_view Name() const override { return "json"; }
};

}  // namespace

SerdePtr<JsonValue> Json() {
  static const auto* serde = new SerdePtr<JsonValue>(std::make_shared<JsonSerde>());
  return *serde;
}

absl::StatusOr<JsonValue> ParseJson(std::string_view text) {
  JsonValue value;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("json serde: malformed JSON: ", status.message().as_string()));
  }
  return value;
}

absl::StatusOr<std::string> PrintJson(const JsonValue& value) {
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(value, &out);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("json serde: ", status.message().as_string()));
  }
  return out;
}

}  // namespace runnel::serdes
