#include "runnel/http/json.h"

// Boost.JSON's implementation, compiled once here (header-only mode): no
// Boost library to link, for runnel_http or anyone using it.
#include <boost/json/src.hpp>

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel::http {

absl::StatusOr<boost::json::value> ParseJson(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::json::stream_parser parser(boost::json::storage_ptr(), options);
  boost::system::error_code ec;
  const size_t used = parser.write_some(text.data(), text.size(), ec);
  if (!ec && used < text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", used, ": trailing characters"));
  }
  if (!ec) parser.finish(ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", used, ": ", ec.message()));
  }
  return parser.release();
}

void AppendJsonString(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : text) {
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
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void AppendJsonNumber(double value, std::string& out) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  std::string_view text(buf, end - buf);
  out.append(text);
  // Keep it a double for readers that type by form: 3 -> 3.0.
  if (text.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

void AppendJson(const boost::json::value& value, std::string& out) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      break;
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      absl::StrAppend(&out, value.get_int64());
      break;
    case boost::json::kind::uint64:
      absl::StrAppend(&out, value.get_uint64());
      break;
    case boost::json::kind::double_:
      AppendJsonNumber(value.get_double(), out);
      break;
    case boost::json::kind::string: {
      const boost::json::string& s = value.get_string();
      AppendJsonString(std::string_view(s.data(), s.size()), out);
      break;
    }
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& v : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(v, out);
      }
      out.push_back(']');
      break;
    }
    case boost::json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : value.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(std::string_view(kv.key().data(), kv.key().size()), out);
        out.push_back(':');
        AppendJson(kv.value(), out);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string SerializeJson(const boost::json::value& value) {
  std::string out;
  AppendJson(value, out);
  return out;
}

Response JsonResponse(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = SerializeJson(body);
  return r;
}

Response JsonError(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = "{\"error\":";
  AppendJsonString(message, r.body);
  r.body.push_back('}');
  return r;
}

}  // namespace runnel::http
