#include "runnel/serde/json_serde.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
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

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF): JSON text must be.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

absl::Status AppendString(std::string_view s, std::string& out) {
  if (!IsUtf8(s)) return absl::InvalidArgumentError("json serde: a string is not valid UTF-8");
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return absl::OkStatus();
}

// Numbers as protobuf's JSON printer writes them (15 significant digits,
// 17 when 15 do not read back as the same double).
absl::Status AppendNumber(double d, std::string& out) {
  if (!std::isfinite(d)) {
    return absl::InvalidArgumentError("json serde: NaN and infinity have no JSON form");
  }
  // -0 prints as 0: equal numbers print alike, and protobuf's parser
  // reads "-0" as 0 anyway, so "-0" would not survive a round trip.
  if (d == 0) d = 0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", d);
  if (std::strtod(buf, nullptr) != d) std::snprintf(buf, sizeof(buf), "%.17g", d);
  out += buf;
  return absl::OkStatus();
}

}  // namespace

absl::Status AppendJson(const JsonValue& value, std::string& out) {
  switch (value.kind_case()) {
    case JsonValue::kNullValue:
      out += "null";
      return absl::OkStatus();
    case JsonValue::kBoolValue:
      out += value.bool_value() ? "true" : "false";
      return absl::OkStatus();
    case JsonValue::kNumberValue:
      return AppendNumber(value.number_value(), out);
    case JsonValue::kStringValue:
      return AppendString(value.string_value(), out);
    case JsonValue::kStructValue: {
      const auto& fields = value.struct_value().fields();
      std::vector<const google::protobuf::MapPair<std::string, JsonValue>*> sorted;
      sorted.reserve(fields.size());
      for (const auto& field : fields) sorted.push_back(&field);
      std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (i > 0) out += ',';
        RUNNEL_RETURN_IF_ERROR(AppendString(sorted[i]->first, out));
        out += ':';
        RUNNEL_RETURN_IF_ERROR(AppendJson(sorted[i]->second, out));
      }
      out += '}';
      return absl::OkStatus();
    }
    case JsonValue::kListValue: {
      out += '[';
      const auto& values = value.list_value().values();
      for (int i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        RUNNEL_RETURN_IF_ERROR(AppendJson(values[i], out));
      }
      out += ']';
      return absl::OkStatus();
    }
    case JsonValue::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("json serde: a value with no kind (not even null) has no JSON form");
}

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
  RUNNEL_RETURN_IF_ERROR(AppendJson(value, out));
  return out;
}

}  // namespace runnel::serdes
