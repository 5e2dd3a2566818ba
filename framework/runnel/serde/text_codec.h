#ifndef RUNNEL_SERDE_TEXT_CODEC_H_
#define RUNNEL_SERDE_TEXT_CODEC_H_

// Text forms of a store's keys and values, for people: interactive queries
// accept a key as text (grpcurl, runnel-query) and render values as JSON.
// Type-erased, so that the query server, which knows stores only by name,
// can use the serdes the topology was built with.
//
// Supported: std::string (text is the string itself; JSON a string), the
// integer types and double (decimal text; a JSON number), and JsonValue
// (JSON text both ways). Other types have no text form: their keys must be
// given as bytes and their values are returned as bytes only.
//
// Threading: immutable after construction; call from any thread.

#include <charconv>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/serde/json_serde.h"
#include "runnel/serde/serde.h"

namespace runnel {

struct StoreTextCodec {
  std::string key_serde;
  std::string value_serde;
  // Text -> the key's bytes; null when the key type has no text form.
  std::function<absl::StatusOr<std::string>(std::string_view)> parse_key;
  // Bytes -> text (keys) and JSON (values); nullopt when not renderable.
  std::function<std::optional<std::string>(std::string_view)> key_text;
  std::function<std::optional<std::string>(std::string_view)> value_json;
};

namespace serde::internal {

// A JSON string literal for `s`.
std::string JsonString(std::string_view s);

template <typename T>
constexpr bool kHasText = std::is_same_v<T, std::string> || std::is_same_v<T, serdes::JsonValue> ||
                          std::is_arithmetic_v<T>;

template <typename T>
std::optional<std::string> ToText(const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (std::is_same_v<T, serdes::JsonValue>) {
    auto text = serdes::PrintJson(value);
    return text.ok() ? std::optional<std::string>(*std::move(text)) : std::nullopt;
  } else if constexpr (std::is_floating_point_v<T>) {
    // Shortest text that reads back as the same number (StrCat keeps only
    // six digits: 1.2345678 would print as a different key, 1.23457).
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof(buf), value).ptr;
    return std::string(buf, end);
  } else if constexpr (std::is_arithmetic_v<T>) {
    return absl::StrCat(value);
  } else {
    return std::nullopt;
  }
}

template <typename T>
absl::StatusOr<T> FromText(std::string_view text) {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(text);
  } else if constexpr (std::is_same_v<T, serdes::JsonValue>) {
    return serdes::ParseJson(text);
  } else if constexpr (std::is_floating_point_v<T>) {
    double d = 0;
    if (!absl::SimpleAtod(ToAbsl(text), &d)) {
      return absl::InvalidArgumentError(absl::StrCat("'", ToAbsl(text), "' is not a number"));
    }
    return static_cast<T>(d);
  } else {
    int64_t n = 0;
    if (!absl::SimpleAtoi(ToAbsl(text), &n)) {
      return absl::InvalidArgumentError(absl::StrCat("'", ToAbsl(text), "' is not an integer"));
    }
    // Out of range is an error, not another key (int32 "4294967297" was 1).
    if (!std::in_range<T>(n)) {
      return absl::InvalidArgumentError(absl::StrCat("'", ToAbsl(text), "' is out of range for a ",
                                                     sizeof(T) * 8, "-bit integer key"));
    }
    return static_cast<T>(n);
  }
}

}  // namespace serde::internal

template <typename K, typename V>
std::shared_ptr<const StoreTextCodec> MakeTextCodec(SerdePtr<K> key_serde, SerdePtr<V> value_serde) {
  namespace internal = serde::internal;
  auto codec = std::make_shared<StoreTextCodec>();
  if (key_serde != nullptr) codec->key_serde = std::string(key_serde->Name());
  if (value_serde != nullptr) codec->value_serde = std::string(value_serde->Name());
  if constexpr (internal::kHasText<K>) {
    if (key_serde != nullptr) {
      codec->parse_key = [key_serde](std::string_view text) -> absl::StatusOr<std::string> {
        auto key = internal::FromText<K>(text);
        if (!key.ok()) return key.status();
        std::string bytes;
        RUNNEL_RETURN_IF_ERROR(key_serde->Serialize(*key, bytes));
        return bytes;
      };
      codec->key_text = [key_serde](std::string_view bytes) -> std::optional<std::string> {
        auto key = key_serde->Deserialize(bytes);
        return key.ok() ? internal::ToText(*key) : std::nullopt;
      };
    }
  }
  if constexpr (internal::kHasText<V>) {
    if (value_serde != nullptr) {
      codec->value_json = [value_serde](std::string_view bytes) -> std::optional<std::string> {
        auto value = value_serde->Deserialize(bytes);
        if (!value.ok()) return std::nullopt;
        if constexpr (std::is_same_v<V, std::string>) {
          return internal::JsonString(*value);
        } else {
          return internal::ToText(*value);
        }
      };
    }
  }
  return codec;
}

}  // namespace runnel

#endif  // RUNNEL_SERDE_TEXT_CODEC_H_
