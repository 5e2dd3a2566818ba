#include "runnel/serde/text_codec.h"

namespace runnel::serde::internal {

std::string JsonString(std::string_view s) {
  serdes::JsonValue value;
  value.set_string_value(std::string(s));
  auto text = serdes::PrintJson(value);
  // Printing a string value cannot fail but for invalid UTF-8: fall back to
  // an escaped rendering of the bytes.
  if (text.ok()) return *std::move(text);
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += absl::StrCat("\\u00", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace runnel::serde::internal
